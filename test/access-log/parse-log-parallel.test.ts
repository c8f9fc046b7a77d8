import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { splitRanges } from '../../src/access-log/parallel-scan';
import { runParseLog, type ParseLogOptions } from '../../src/cli/parse-log-command';
import { seededRandom } from '../harness/seeded-random';

const prng = seededRandom;

const TARGETS = [
  '/results/clinic_a/066-12000001-3.pdf',
  '/results/Clinic%20A/caf%C3%A9.PDF?download=1',
  '/results/a\\x2epdf',
  '/results/./x//a.pdf',
  '/index.php/apps/files/ajax/download.php?dir=%2FResults&files=066-1-3.pdf',
  '/results/a.txt',
  '/favicon.ico',
];

/** About half hits, some unparseable lines (not among the probed first 1000), times that move across minutes, and an unfinished last line. */
function generateLog(lines: number): string {
  const rnd = prng(7);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const out: string[] = [];
  let second = 0;
  for (let i = 0; i < lines; i++) {
    if (rnd() < 0.3) second++;
    const r = rnd();
    // No unparseable lines in the first 1000: those are probed, and the parallel scan probes only the first range
    // (here shorter than 1000 lines), so their count would differ by design.
    if (r < 0.002 && i >= 1000) {
      out.push(pick(['garbage', '"GET /a.pdf" 200 ', '']));
      continue;
    }
    const minute = Math.floor(second / 60) % 60;
    const hour = Math.floor(second / 3600) % 24;
    const time = `[01/Mar/2024:${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}:${String(second % 60).padStart(2, '0')} +0200]`;
    const method = rnd() < 0.9 ? 'GET' : 'HEAD';
    const status = pick(['200', '200', '206', '304', '404']);
    const bytes = rnd() < 0.1 ? '-' : String(Math.floor(rnd() * 1e6));
    const user = pick(['-', 'clinic_a', 'a\\"b']);
    out.push(`10.0.${i % 256}.${i % 7} - ${user} ${time} "${method} ${pick(TARGETS)} HTTP/1.1" ${status} ${bytes} "-" "Mozilla/5.0 (X11)"`);
  }
  return out.join('\n') + '\n10.0.0.9 - - [01/Mar';
}

describe('parallel parse-log', () => {
  let dir: string;
  let file: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'parse-log-parallel-'));
    file = join(dir, 'access.log');
    writeFileSync(file, generateLog(40_000), 'latin1');
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  async function run(options: Partial<ParseLogOptions>): Promise<{ stdout: Buffer; stderr: string; lines: number }> {
    const chunks: Buffer[] = [];
    let stderr = '';
    const result = await runParseLog(
      file,
      { format: 'combined', pattern: '*.pdf', ...options },
      {
        stdout: (chunk) => void chunks.push(Buffer.from(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)),
        stderr: (text) => {
          stderr += text;
        },
      },
    );
    // The summary's timing differs from run to run: compare everything before it.
    const stdout = Buffer.concat(chunks);
    return { stdout: stdout.subarray(0, stdout.lastIndexOf(10, stdout.length - 2) + 1), stderr, lines: result.lines };
  }

  test('ranges start at line starts, and many of them cut through a hit line', () => {
    const size = readFileSync(file).length;
    expect(size).toBeGreaterThan(4 * 1024 * 1024);
    const ranges = splitRanges(file, size, 100_000);
    const bytes = readFileSync(file);
    expect(ranges[0]!.start).toBe(0);
    expect(ranges.at(-1)!.end).toBe(size);
    for (let i = 1; i < ranges.length; i++) {
      expect(ranges[i]!.start).toBe(ranges[i - 1]!.end);
      expect(bytes[ranges[i]!.start - 1]).toBe(10);
    }
    // The nominal cut points (before the move to a line start) fall inside hit lines, so the hits on them are
    // the ones the byte-identical test below would lose or double if alignment were wrong.
    let cutHits = 0;
    for (let k = 1; k < ranges.length; k++) {
      const at = k * 100_000;
      const lineStart = bytes.lastIndexOf(10, at - 2) + 1;
      const line = bytes.toString('latin1', lineStart, bytes.indexOf(10, lineStart));
      if (/"GET [^"]*\.pdf[^"]*" 20[06] /i.test(line)) cutHits++;
    }
    expect(cutHits).toBeGreaterThan(5);
  });

  test.each([
    ['--json', true],
    ['text', false],
  ])('%s output is byte-identical to the single-threaded scan, with the same totals and reports', async (_name, json) => {
    const single = await run({ json, threads: 1 });
    const parallel = await run({ json, threads: 2, parallelMinBytes: 0, rangeSize: 100_000 });
    expect(single.lines).toBe(40_000);
    expect(parallel.lines).toBe(single.lines);
    expect(parallel.stdout.length).toBeGreaterThan(1_000_000);
    expect(parallel.stdout.equals(single.stdout)).toBe(true);
    expect(parallel.stderr).toBe(single.stderr);
    expect(single.stderr).toContain('lines could not be parsed');
    expect(single.stderr).toContain('no newline yet');
  });

  test('a slow stdout still gets every byte, in order', async () => {
    const single = await run({ json: true, threads: 1 });
    const chunks: Buffer[] = [];
    await runParseLog(
      file,
      { format: 'combined', pattern: '*.pdf', json: true, threads: 3, parallelMinBytes: 0, rangeSize: 300_000 },
      {
        stdout: (chunk) => {
          chunks.push(Buffer.from(chunk as Uint8Array));
          return new Promise((resolve) => setImmediate(resolve));
        },
        stderr: () => undefined,
      },
    );
    const all = Buffer.concat(chunks);
    expect(all.subarray(0, single.stdout.length).equals(single.stdout)).toBe(true);
  });
});
