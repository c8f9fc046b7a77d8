import { createReadStream, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import type { LogHit } from '../../src/access-log/hit-rule';
import { LogScanner, prefilterConditions, scanBuffer, scanStream, UnsuitableLogFormatError, type ScanOptions } from '../../src/access-log/log-scanner';
import { compileLogFormat } from '../../src/access-log/log-format';
import { compileHitRule } from '../../src/access-log/hit-rule';
import { registerParseLogCommand } from '../../src/cli/parse-log-command';
import { seededRandom } from '../harness/seeded-random';

const prng = seededRandom;

/** Request targets chosen to sit on the edges of the rule and of the pre-filter. */
const TARGETS = [
  '/results/clinic_a/066-12000001-3.pdf',
  '/results/clinic_a/066-12000001-3.PDF',
  '/results/clinic_a/066-12000001-3.PdF',
  '/results/Clinic%20A/a.pdf?download=1',
  '/results/a%2Epdf',
  '/results/a.%70df',
  '/results/a\\x2epdf', // not something Apache writes, but the pre-filter must still let it through
  '/results/caf\\xc3\\xa9.pdf',
  '/results/./x//a.pdf',
  '/results/a.pdf.html',
  '/results/a.txt',
  '/results/a.csv',
  '/results/',
  '/favicon.ico',
  '/index.php/apps/files/ajax/download.php?dir=%2FResults%2FClinic%20A&files=066-12000001-3.pdf',
  '/index.php/apps/files/ajax/download.php?dir=/R&files=a%2Epdf',
  '/index.php/apps/files/ajax/download.php?dir=/R&files=%5B%22a.pdf%22%5D',
  '/index.php/apps/files/ajax/download.php?dir=/R&files=notes.txt',
  '/a\\" 200 x.pdf',
  'http://localhost/results/a.pdf',
];
const METHODS = ['GET', 'GET', 'GET', 'HEAD', 'POST', 'get'];
const STATUSES = ['200', '200', '206', '304', '404', '500', '2000'];
const CLIENTS = ['10.0.0.1', '::1', '2001:db8::8a2e:370:7334', 'host.example.org'];
const USERS = ['-', 'clinic_a', 'GET', '\\"GET'];
const AGENTS = ['-', 'curl/8', 'Mozilla/5.0 \\"quoted\\" \\\\x', 'x.pdf 200 "GET '];

function randomCombinedLine(rnd: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const r = rnd();
  if (r < 0.03) return pick(['', 'garbage', '"GET /a.pdf" 200 ', '1.2.3.4 - - [x] "GET /a.pdf HTTP/1.1" 200 1 "-" "-"']);
  const request = r < 0.06 ? pick(['-', '\\x16\\x03\\x01', 'GET /a.pdf']) : `${pick(METHODS)} ${pick(TARGETS)} HTTP/1.1`;
  const bytes = rnd() < 0.2 ? '-' : String(Math.floor(rnd() * 100000));
  return `${pick(CLIENTS)} - ${pick(USERS)} [01/Mar/2024:08:15:0${Math.floor(rnd() * 10)} +0200] "${request}" ${pick(STATUSES)} ${bytes} "-" "${pick(AGENTS)}"`;
}

/** The fields a raw hit also carries (target and user differ only where the string path is taken anyway). */
function receiptHitFields(h: { time: number | null; client: string; status: number; bytes: number | null; vhost: string | undefined }): Partial<LogHit> {
  return { time: h.time, client: h.client, status: h.status, bytes: h.bytes, vhost: h.vhost };
}

function collect(buf: Buffer, options: Omit<ScanOptions, 'onHit'>): { hits: [LogHit, number][]; stats: ReturnType<typeof scanBuffer> } {
  const hits: [LogHit, number][] = [];
  const stats = scanBuffer(buf, { ...options, onHit: (hit, offset) => hits.push([hit, offset]) });
  return { hits, stats };
}

describe('LogScanner', () => {
  const rnd = prng(42);
  const corpus = Array.from({ length: 20000 }, () => randomCombinedLine(rnd)).join('\n') + '\n';
  const buf = Buffer.from(corpus, 'latin1');

  test('the pre-filter never drops a hit that parsing every line finds', () => {
    for (const pattern of ['*.pdf', '*.PDF', 'clinic_a/*.pdf', '*.{pdf,csv}', '*', 'a.*']) {
      const full = collect(buf, { pattern, fullParse: true });
      const fast = collect(buf, { pattern });
      expect(fast.hits).toEqual(full.hits);
      expect(fast.stats.lines).toBe(20000);
      expect(fast.stats.candidates).toBeLessThan(full.stats.candidates);
      if (pattern === '*.pdf') expect(full.hits.length).toBeGreaterThan(1000);
    }
  });

  test('also for common, vhost_combined and a %m %U%q format', () => {
    const lines = corpus.split('\n').filter((l) => l !== '');
    const variants: [string, (line: string) => string][] = [
      ['common', (l) => l.replace(/ "[^"]*" "[^"]*"$/, '')],
      ['vhost_combined', (l) => `files.example.org:443 ${l}`],
      ['%h %t %m %U%q %H %>s %b', (l) => l.replace(/ - \S+ /, ' ').replace(/"(\S+) (\S+) (HTTP\/1\.1)"/, '$1 $2 $3').replace(/ "[^"]*" "[^"]*"$/, '')],
    ];
    for (const [format, shape] of variants) {
      const shaped = Buffer.from(lines.map(shape).join('\n') + '\n', 'latin1');
      const full = collect(shaped, { format, fullParse: true });
      const fast = collect(shaped, { format });
      expect(fast.hits).toEqual(full.hits);
      expect(full.hits.length).toBeGreaterThan(500);
    }
  });

  test('the pre-filter looks for the file literal and the status as the format writes it', () => {
    expect(prefilterConditions(compileLogFormat('combined'), compileHitRule('*.pdf'))).toEqual([
      ['.pdf', '%', '\\', '.pdf (any case)'],
      ['" 200 ', '" 206 '],
    ]);
    expect(prefilterConditions(compileLogFormat('%h %t %m %U%q %>s'), compileHitRule('*'))).toEqual([[' 200', ' 206']]);
    expect(() => new LogScanner({ format: '%h %t "%r"', onHit: () => undefined })).toThrow(UnsuitableLogFormatError);
  });

  test('any chunking gives the same hits and offsets as one buffer', () => {
    for (const size of [1, 7, 100, 4096, 65536]) {
      // Byte-by-byte pushes copy the carried line each time: keep that case small.
      const input = size < 100 ? buf.subarray(0, buf.indexOf(10, 50_000) + 1) : buf;
      const whole = collect(input, {});
      const hits: [LogHit, number][] = [];
      const scanner = new LogScanner({ onHit: (hit, offset) => hits.push([hit, offset]) });
      for (let i = 0; i < input.length; i += size) scanner.push(input.subarray(i, i + size));
      expect(hits).toEqual(whole.hits);
      expect(scanner.stats()).toEqual(whole.stats);
    }
  });

  test('the byte path (rawHits, parseAll) finds the same hits and parse errors as the string path, in any chunking', () => {
    const lines = corpus.split('\n').filter((l) => l !== '');
    const variants: [string, (line: string) => string][] = [
      ['combined', (l) => l],
      ['vhost_combined', (l) => `files.example.org:443 ${l}`],
      ['%h %t %m %U%q %H %>s %b', (l) => l.replace(/ - \S+ /, ' ').replace(/"(\S+) (\S+) (HTTP\/1\.1)"/, '$1 $2 $3').replace(/ "[^"]*" "[^"]*"$/, '')],
    ];
    for (const [format, shape] of variants) {
      const input = Buffer.from(lines.map(shape).join('\r\n') + '\r\n', 'latin1');
      for (const pattern of ['*.pdf', 'clinic_a/*.{pdf,csv}']) {
        const expected = collect(input, { format, pattern });
        for (const size of [4093, input.length]) {
          // What a raw hit carries, as the string path would have given it.
          const hits: [Partial<LogHit>, number][] = [];
          let raw = 0;
          const scanner = new LogScanner({
            format,
            pattern,
            parseAll: true,
            maxErrorSamples: 50,
            onHit: (hit, offset) => hits.push([{ ...receiptHitFields(hit), path: hit.path }, offset]),
            rawHits: (fields, bytes, base, path, length) => {
              expect(bytes.toString('latin1', base + fields.lineStart, base + fields.lineEnd)).toBe(fields.line.slice(fields.lineStart, fields.lineEnd));
              const record = fields.toRecord();
              hits.push([{ ...receiptHitFields(record), path: Buffer.from(path.subarray(0, length)).toString('latin1') }, -1]);
              raw++;
              return true;
            },
          });
          for (let i = 0; i < input.length; i += size) scanner.push(input.subarray(i, i + size));
          const stats = scanner.stats();
          // `%U%q` has no `%r` span to read bytes from: all its hits take the string path.
          if (format.includes('%r') || !format.includes('%')) expect(raw).toBeGreaterThan(100);
          expect(hits.map(([h]) => h)).toEqual(expected.hits.map(([h]) => ({ ...receiptHitFields(h), path: h.path })));
          const sample = (s: typeof stats): unknown => ({ ...s, candidates: 0, errorSamples: s.errorSamples.slice(0, 10) });
          expect(sample(stats)).toEqual(sample(expected.stats));
        }
      }
    }
  });

  test('hit offsets point at the start of their line', () => {
    const { hits } = collect(buf, {});
    for (const [, offset] of hits.slice(0, 200)) {
      expect(offset === 0 || buf[offset - 1] === 10).toBe(true);
    }
  });

  test('an unfinished last line is left for later, and a resumed scan picks it up', () => {
    const a = '10.0.0.1 - - [01/Mar/2024:08:15:02 +0200] "GET /r/a.pdf HTTP/1.1" 200 5 "-" "-"\n';
    const b = '10.0.0.2 - - [01/Mar/2024:08:15:03 +0200] "GET /r/b.pdf HTTP/1.1" 200 5 "-" "-"\n';
    const partial = b.slice(0, 30);
    const first = collect(Buffer.from(a + partial), {});
    expect(first.hits.map(([h]) => h.path)).toEqual(['/r/a.pdf']);
    expect(first.stats).toMatchObject({ lines: 1, hits: 1, resumeOffset: a.length, pendingBytes: partial.length });

    const rest = Buffer.from(a + b).subarray(first.stats.resumeOffset);
    const second = collect(rest, { startOffset: first.stats.resumeOffset });
    expect(second.hits).toEqual([[expect.objectContaining({ path: '/r/b.pdf', client: '10.0.0.2' }), a.length]]);
    expect(second.stats).toMatchObject({ lines: 1, resumeOffset: (a + b).length, pendingBytes: 0 });
  });

  test('a line longer than the decoding piece is scanned whole', () => {
    const hit = '10.0.0.1 - - [01/Mar/2024:08:15:02 +0200] "GET /r/a.pdf HTTP/1.1" 200 5 "-" "-"\n';
    const long = `10.0.0.2 - - [01/Mar/2024:08:15:02 +0200] "GET /r/b.pdf HTTP/1.1" 200 5 "-" "${'x'.repeat(700_000)}"\n`;
    const { hits, stats } = collect(Buffer.from(hit + long + hit), {});
    expect(hits.map(([h, offset]) => [h.path, offset])).toEqual([
      ['/r/a.pdf', 0],
      ['/r/b.pdf', hit.length],
      ['/r/a.pdf', hit.length + long.length],
    ]);
    expect(stats.lines).toBe(3);
  });

  test('CRLF files scan like LF files', () => {
    const lf = collect(buf, {});
    const crlf = collect(Buffer.from(corpus.replace(/\n/g, '\r\n'), 'latin1'), {});
    expect(crlf.hits.map(([h]) => h)).toEqual(lf.hits.map(([h]) => h));
  });

  test('unparseable candidates are counted with a few samples; the probe reads the first lines whatever they are', () => {
    const good = '10.0.0.1 - - [01/Mar/2024:08:15:02 +0200] "GET /r/a.pdf HTTP/1.1" 200 5 "-" "-"';
    const bad = '10.0.0.1 - - [01/Mar/2024:08:15:02 +0200] "GET /r/a.pdf HTTP/1.1" 200 5 "-" "-" trailing';
    const junk = 'not a log line at all';
    const text = [junk, bad, good, bad, bad, junk].join('\n') + '\n';
    const noProbe = collect(Buffer.from(text), { maxErrorSamples: 2, probeLines: 0 });
    expect(noProbe.stats).toMatchObject({ lines: 6, candidates: 4, hits: 1, parseErrors: 3, probedLines: 0, probeFailures: 0 });
    expect(noProbe.stats.errorSamples).toEqual([
      { offset: junk.length + 1, line: bad },
      { offset: junk.length + 1 + bad.length + 1 + good.length + 1, line: bad },
    ]);
    const probed = collect(Buffer.from(text), { probeLines: 2 });
    expect(probed.stats).toMatchObject({ parseErrors: 4, probedLines: 2, probeFailures: 2 });
  });

  test('scanStream reads a file stream', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'scan-'));
    try {
      const file = join(dir, 'access.log');
      writeFileSync(file, buf);
      const hits: LogHit[] = [];
      const stats = await scanStream(createReadStream(file, { highWaterMark: 1000 }), { onHit: (hit) => hits.push(hit) });
      expect(hits).toEqual(collect(buf, {}).hits.map(([h]) => h));
      expect(stats.resumeOffset).toBe(buf.length);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('parse-log command', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'parse-log-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  /** A small log of known shapes; every fifth line a hit, and an unfinished last line. */
  function writeLog(name: string, lines: number): string {
    const shapes = [
      (i: number): string => `10.0.0.${i % 250} - clinic_a [01/Mar/2024:08:00:${String(i % 60).padStart(2, '0')} +0200] "GET /results/clinic_a/066-${12000000 + i}-3.pdf HTTP/1.1" 200 ${1000 + i} "-" "Mozilla/5.0"`,
      (i: number): string => `2001:db8::${i.toString(16)} - - [01/Mar/2024:08:00:00 +0200] "HEAD /results/clinic_a/066-${12000000 + i}-3.pdf HTTP/1.1" 200 - "-" "curl/8"`,
      (i: number): string => `10.0.0.1 - - [01/Mar/2024:08:00:00 +0200] "GET /results/clinic_a/066-${12000000 + i}-3.pdf HTTP/1.1" 304 - "-" "Mozilla/5.0 \\"x\\""`,
      (): string => `66.249.66.1 - - [01/Mar/2024:08:00:00 +0200] "GET /robots.txt HTTP/1.1" 404 196 "-" "Googlebot"`,
      (): string => `10.0.0.1 - - [01/Mar/2024:08:00:00 +0200] "GET /favicon.ico HTTP/1.1" 200 318 "-" "Mozilla/5.0"`,
    ];
    const text = Array.from({ length: lines }, (_, i) => shapes[i % shapes.length]!(i)).join('\n') + '\n' + '10.0.0.9 - - [01/Mar';
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  }

  async function run(args: string[]): Promise<{ stdout: string; stderr: string }> {
    let stdout = '';
    let stderr = '';
    const program = new Command().exitOverride();
    registerParseLogCommand(program, {
      stdout: (chunk) => {
        stdout += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      },
      stderr: (text) => {
        stderr += text;
      },
    });
    await program.parseAsync(['node', 'getresults', ...args]);
    return { stdout, stderr };
  }

  test('--json prints one object per hit and a summary last', async () => {
    const file = writeLog('access.log', 12);
    const { stdout, stderr } = await run(['parse-log', file, '--json']);
    const lines = stdout.trimEnd().split('\n');
    expect(lines.slice(0, -1)).toEqual([
      '{"path":"/results/clinic_a/066-12000000-3.pdf","time":"2024-03-01T06:00:00.000Z","client":"10.0.0.0","user":"clinic_a","status":200,"bytes":1000}',
      '{"path":"/results/clinic_a/066-12000005-3.pdf","time":"2024-03-01T06:00:05.000Z","client":"10.0.0.5","user":"clinic_a","status":200,"bytes":1005}',
      '{"path":"/results/clinic_a/066-12000010-3.pdf","time":"2024-03-01T06:00:10.000Z","client":"10.0.0.10","user":"clinic_a","status":200,"bytes":1010}',
    ]);
    const summary = JSON.parse(lines.at(-1)!) as { summary: Record<string, number> };
    expect(Object.keys(summary)).toEqual(['summary']);
    expect(Object.keys(summary.summary)).toEqual(['lines', 'hits', 'parseErrors', 'seconds', 'linesPerSecond']);
    expect(summary.summary).toMatchObject({ lines: 12, hits: 3, parseErrors: 0 });
    expect(summary.summary.seconds).toBeGreaterThan(0);
    expect(summary.summary.linesPerSecond).toBeGreaterThan(0);
    const complete = statSync(file).size - '10.0.0.9 - - [01/Mar'.length;
    expect(stderr).toBe(`parse-log: the last 20 bytes have no newline yet and were not read (resume at byte ${complete})\n`);
  });

  test('without --json it prints a readable line per hit and a summary', async () => {
    const file = writeLog('text.log', 6);
    const { stdout } = await run(['parse-log', file]);
    const lines = stdout.trimEnd().split('\n');
    expect(lines.slice(0, -1)).toEqual([
      '2024-03-01T06:00:00.000Z 200 1000 10.0.0.0 clinic_a "/results/clinic_a/066-12000000-3.pdf"',
      '2024-03-01T06:00:05.000Z 200 1005 10.0.0.5 clinic_a "/results/clinic_a/066-12000005-3.pdf"',
    ]);
    expect(lines.at(-1)).toMatch(/^6 lines, 2 hits, 0 parse errors in \d+\.\d{3} s \(\d+ lines\/s\)$/);
  });

  test('JSON output escapes what it must and keeps UTF-8, also for very long paths', async () => {
    const file = join(dir, 'escapes.log');
    const long = 'x'.repeat(300_000);
    writeFileSync(
      file,
      [
        '10.0.0.1 - a\\"b [01/Mar/2024:08:00:00 +0200] "GET /r/caf%C3%A9%22%09.pdf HTTP/1.1" 200 1 "-" "-"',
        `10.0.0.1 - - [01/Mar/2024:08:00:01 +0200] "GET /r/${long}.pdf HTTP/1.1" 200 0 "-" "-"`,
        '10.0.0.1 - - [01/Mar/2024:08:00:02 +0200] "GET /r/\\xe2\\x82\\xac.pdf HTTP/1.1" 206 123456789012 "-" "-"',
      ].join('\n') + '\n',
    );
    const { stdout } = await run(['parse-log', file, '--json']);
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(
      '{"path":"/r/café\\"\\t.pdf","time":"2024-03-01T06:00:00.000Z","client":"10.0.0.1","user":"a\\"b","status":200,"bytes":1}',
    );
    expect(lines.slice(0, 3).map((l) => JSON.parse(l) as unknown)).toEqual([
      { path: '/r/café"\t.pdf', time: '2024-03-01T06:00:00.000Z', client: '10.0.0.1', user: 'a"b', status: 200, bytes: 1 },
      { path: `/r/${long}.pdf`, time: '2024-03-01T06:00:01.000Z', client: '10.0.0.1', user: null, status: 200, bytes: 0 },
      { path: '/r/€.pdf', time: '2024-03-01T06:00:02.000Z', client: '10.0.0.1', user: null, status: 206, bytes: 123456789012 },
    ]);
  });

  test('--format and --pattern are used, and a format mismatch is reported', async () => {
    const file = join(dir, 'vhost.log');
    writeFileSync(
      file,
      'files.example.org:443 10.0.0.1 - - [01/Mar/2024:08:00:00 +0200] "GET /r/a.csv HTTP/1.1" 200 10 "-" "-"\n' +
        'files.example.org:443 10.0.0.1 - - [01/Mar/2024:08:00:01 +0200] "GET /r/a.pdf HTTP/1.1" 200 10 "-" "-"\n',
    );
    const csv = await run(['parse-log', file, '--json', '--format', 'vhost_combined', '--pattern', '*.csv']);
    expect(csv.stdout.split('\n')[0]).toBe(
      '{"path":"/r/a.csv","time":"2024-03-01T06:00:00.000Z","client":"10.0.0.1","user":null,"status":200,"bytes":10,"vhost":"files.example.org"}',
    );
    const wrong = await run(['parse-log', file, '--json']);
    expect(wrong.stdout).toMatch(/^\{"summary":\{"lines":2,"hits":0,"parseErrors":2,/);
    expect(wrong.stderr).toContain('2 of the first 2 lines do not match the log format');
  });
});
