import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { IdentifierPattern } from '../domain/identifier-patterns';

/** The three identifier styles the seed system used; hints are 0-based [start, end) character positions of the name. */
export const SEED_PATTERNS: readonly IdentifierPattern[] = [
  { label: 'BHS', regex: '^066-[0-9]{8}-[0-9]', hint: { start: 4, end: 6 }, example: '066-12000001-3.pdf' },
  { label: 'CDC1', regex: '^[123][0-9]{2}-[0-9]{4}', hint: { start: 1, end: 3 }, example: '112-0001.pdf' },
  { label: 'CDC2', regex: '^[0-9]{2}-[0-9]{2}-[0-9]{3}-[0-9]{2}', hint: { start: 3, end: 5 }, example: '01-12-345-67.pdf' },
];

function exampleMatches(regex: string, example: string): boolean {
  try {
    return new RegExp(regex.startsWith('^') ? regex : `^${regex}`).test(example);
  } catch {
    return true; // the regex itself is reported as invalid
  }
}

const patternSchema = z.object({
  label: z.string().min(1),
  regex: z.string().min(1).refine((r) => {
    try {
      new RegExp(r);
      return true;
    } catch {
      return false;
    }
  }, 'is not a valid regular expression'),
  hint: z.object({ start: z.number().int().min(0), end: z.number().int().min(1) }),
  example: z.string().min(1).optional(),
}).refine((p) => p.example === undefined || exampleMatches(p.regex, p.example), {
  message: 'has an example that its regex does not match',
  path: ['example'],
});

/** Reads a JSON array of patterns (same shape as SEED_PATTERNS) from a file, with errors that name the bad entry. */
export function loadPatternsFile(file: string): IdentifierPattern[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`GETRESULTS_PATTERNS_FILE ${file} could not be read as JSON: ${(err as Error).message}`);
  }
  const result = z.array(patternSchema).min(1).safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new Error(`GETRESULTS_PATTERNS_FILE ${file}: entry ${issue.path.join('.')} ${issue.message}`);
  }
  return result.data;
}
