/**
 * Identifier patterns: how a result file's name tells us whose result it is and which clinic it is for.
 * Patterns are configuration (see src/config/patterns.ts for the seed's defaults); this module is pure logic.
 */

export interface IdentifierPattern {
  /** Label of the identifier style, also the `label` column of the remote-folder table (e.g. `BHS`). */
  label: string;
  /** Regular expression (source text) anchored at the start of the name; the matched part is the identifier. */
  regex: string;
  /** 0-based character positions [start, end) of the clinic hint within the file name. */
  hint: { start: number; end: number };
  /** A name in this style, e.g. `066-12345678-9.pdf`: shown to technicians instead of the regex. */
  example?: string;
}

export interface Identification {
  label: string;
  /** The part of the name the pattern matched, e.g. `066-12000001-3`. */
  identifier: string;
  /** The clinic hint as a string (leading zeros matter), e.g. `12`. */
  hint: string;
}

export type IdentifyResult =
  | { ok: true; identification: Identification }
  | { ok: false; code: 'NAME_NO_PATTERN' | 'NAME_AMBIGUOUS'; reason: string };

interface CompiledPattern extends IdentifierPattern {
  compiled: RegExp;
}

export class IdentifierPatterns {
  private readonly compiled: CompiledPattern[];

  constructor(readonly patterns: readonly IdentifierPattern[]) {
    this.compiled = patterns.map((p) => {
      if (p.hint.start < 0 || p.hint.end <= p.hint.start) {
        throw new Error(`Identifier pattern ${p.label}: hint positions [${p.hint.start}, ${p.hint.end}) are not a valid range`);
      }
      const source = p.regex.startsWith('^') ? p.regex : `^${p.regex}`;
      return { ...p, compiled: new RegExp(source) };
    });
  }

  identify(fileName: string): IdentifyResult {
    const matches = this.compiled.flatMap((p) => {
      const m = p.compiled.exec(fileName);
      if (!m || m[0].length < p.hint.end) return [];
      return [{ label: p.label, identifier: m[0], hint: fileName.slice(p.hint.start, p.hint.end) }];
    });
    if (matches.length === 1) return { ok: true, identification: matches[0]! };
    if (matches.length === 0) {
      return { ok: false, code: 'NAME_NO_PATTERN', reason: `The file name does not follow any of the lab's naming styles: ${this.describeStyles()}.` };
    }
    // Two styles claiming one name means the configuration is ambiguous; guessing could send a result to the wrong clinic.
    return {
      ok: false,
      code: 'NAME_AMBIGUOUS',
      reason: `The file name matches more than one naming style (${matches.map((m) => m.label).join(', ')}), so its clinic cannot be decided safely.`,
    };
  }

  /** The styles in words for a technician: labels and example names, never the regexes. */
  describeStyles(): string {
    const styles = this.patterns.map((p) => (p.example ? `${p.label}, like ${p.example}` : p.label));
    return styles.length === 1 ? styles[0]! : `${styles.slice(0, -1).join('; ')} or ${styles.at(-1)}`;
  }
}
