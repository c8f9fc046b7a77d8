/**
 * `parse-log <file>`: lists the receipt-grade hits in an Apache access log, offline, and how fast it read them.
 *
 * The file is read with large synchronous reads into one reused buffer (the scanner carries a split line over), and
 * hits are written as bytes into a large output buffer that is handed to stdout when full: per-line reads and writes,
 * or one string built per hit, would cost more than the scan itself.
 */
import { once } from 'node:events';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { extname, join } from 'node:path';
import type { Command } from 'commander';
import { compileLogFormat, type CompiledLogFormat } from '../acklog/log-format';
import { parallelScan, splitRanges } from '../acklog/parallel-scan';
import type { ReceiptHit } from '../acklog/receipt-hits';
import { LogScanner, type ScanStats } from '../acklog/scan';

/** Where the command writes; tests pass their own. */
export interface ParseLogIo {
  /** May return a promise to say "wait before writing more" (a slow pipe); the scan pauses between reads. */
  stdout(chunk: string | Uint8Array): void | Promise<void>;
  stderr(text: string): void;
}

export interface ParseLogOptions {
  format: string;
  pattern: string;
  json?: boolean;
  /** Read size in bytes (default 8 MiB). */
  readSize?: number;
  /**
   * Threads that scan a large file (default: the available cores, at most 8); 1 scans in the calling thread.
   * Not command-line options: for tests and benchmarks.
   */
  threads?: number;
  /** Smallest file scanned in parallel (default 32 MiB). */
  parallelMinBytes?: number;
  /**
   * Bytes per parallel range (default: the file cut into 8 ranges per thread, at least 4 MiB each). Only the first
   * range is probed, so a first range of fewer lines than the probe (1000) probes fewer lines.
   */
  rangeSize?: number;
}

export interface ParseLogResult extends ScanStats {
  seconds: number;
  linesPerSecond: number;
}

/**
 * The real stdout. Writes to a file are synchronous, but a pipe queues what its reader has not taken yet: without
 * waiting for 'drain' a slow reader would make the whole output pile up in memory. A write error (EPIPE when the
 * reader went away) is handed to the scan through the returned promise.
 */
function processIo(): ParseLogIo {
  let failure: unknown;
  let draining: Promise<void> | undefined;
  let listening = false;
  return {
    stdout(chunk) {
      if (!listening) {
        process.stdout.on('error', (err) => {
          failure = err;
        });
        listening = true;
      }
      if (failure !== undefined) return Promise.reject(failure);
      if (process.stdout.write(chunk) || draining !== undefined) return draining;
      draining = once(process.stdout, 'drain').then(() => {
        draining = undefined;
      });
      return draining;
    },
    stderr: (text) => void process.stderr.write(text),
  };
}

const READ_SIZE = 8 * 1024 * 1024;
const OUTPUT_SIZE = 256 * 1024;

export function registerParseLogCommand(program: Command, io: ParseLogIo = processIo()): void {
  program
    .command('parse-log')
    .description('List the receipt-grade fetches (GET answered 200/206 of a matching file) in an Apache access log')
    .argument('<file>', 'the access log to read')
    .option('--format <name-or-LogFormat>', 'combined, common, vhost_combined, or the LogFormat string itself', 'combined')
    .option('--pattern <glob>', 'which fetched files count (case-insensitive, matched against the end of the path)', '*.pdf')
    .option('--json', 'one JSON object per hit, then a summary object, one per line')
    .action(async (file: string, options: ParseLogOptions) => {
      await runParseLog(file, options, io);
    });
}

/** The command's work, callable without commander. */
export async function runParseLog(file: string, options: ParseLogOptions, io: ParseLogIo = processIo()): Promise<ParseLogResult> {
  const started = process.hrtime.bigint();
  const format = compileLogFormat(options.format);
  const json = options.json === true;
  const output = new HitOutput(io);

  const threads = options.threads ?? defaultThreads();
  const size = threads > 1 ? fstatSize(file) : 0;
  let stats: ScanStats;
  if (threads > 1 && size >= (options.parallelMinBytes ?? PARALLEL_MIN_BYTES)) {
    const rangeSize = options.rangeSize ?? Math.max(MIN_RANGE_SIZE, Math.ceil(size / (threads * 8)));
    const workerData: RangeScanOptions = { format: options.format, pattern: options.pattern, json, readSize: options.readSize };
    stats = await parallelScan({
      file,
      ranges: splitRanges(file, size, rangeSize),
      threads,
      workerFile: join(__dirname, `parse-log-worker${extname(__filename)}`),
      workerData: { file, options: workerData },
      probeLines: PROBE_LINES,
      maxErrorSamples: MAX_ERROR_SAMPLES,
      write: (chunk) => io.stdout(chunk),
    });
  } else {
    const fd = openSync(file, 'r');
    try {
      stats = await scanRange(fd, 0, Infinity, { format, pattern: options.pattern, json, readSize: options.readSize }, output, PROBE_LINES);
    } finally {
      closeSync(fd);
    }
  }

  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const linesPerSecond = seconds > 0 ? Math.round(stats.lines / seconds) : 0;
  const roundedSeconds = Math.round(seconds * 1e6) / 1e6;
  if (json) {
    output.text(
      `${JSON.stringify({
        summary: { lines: stats.lines, hits: stats.hits, parseErrors: stats.parseErrors, seconds: roundedSeconds, linesPerSecond },
      })}\n`,
    );
  } else {
    output.text(
      `${stats.lines} lines, ${stats.hits} hits, ${stats.parseErrors} parse errors` +
        ` in ${roundedSeconds.toFixed(3)} s (${linesPerSecond} lines/s)\n`,
    );
  }
  output.flush();
  await output.drained();
  reportProblems(stats, format.format, io);
  return { ...stats, seconds: roundedSeconds, linesPerSecond };
}

/** Files below this are scanned in the calling thread: starting workers costs more than they would save. */
const PARALLEL_MIN_BYTES = 32 * 1024 * 1024;
const MIN_RANGE_SIZE = 4 * 1024 * 1024;
const PROBE_LINES = 1000;
const MAX_ERROR_SAMPLES = 10;

function defaultThreads(): number {
  return Math.min(availableParallelism(), 8);
}

function fstatSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0; // openSync below reports the error
  }
}

/** What a range scan needs; plain data, so it can be handed to a worker thread. */
export interface RangeScanOptions {
  format: string | CompiledLogFormat;
  pattern: string;
  json: boolean;
  readSize?: number;
}

/**
 * Scans bytes [start, end) of an open file (to the end of the file with `end` Infinity), writing the hits to
 * `output` (not flushed at the end). `start` must be the start of a line.
 */
export async function scanRange(
  fd: number,
  start: number,
  end: number,
  options: RangeScanOptions,
  output: HitOutput,
  probeLines: number,
): Promise<ScanStats> {
  const format = typeof options.format === 'string' ? compileLogFormat(options.format) : options.format;
  const withVhost = format.tokens.some((t) => t.kind === 'field' && t.role === 'vhost');
  const json = options.json;
  const isoTimes = new IsoTimes();
  let lastTime: number | null = null;
  let lastIso = 'null';
  const scanner = new LogScanner({
    format,
    pattern: options.pattern,
    startOffset: start,
    probeLines,
    maxErrorSamples: MAX_ERROR_SAMPLES,
    onHit: (hit: ReceiptHit) => {
      // Log lines come in runs within the same second, so the ISO text is usually the previous one.
      if (hit.time !== lastTime) {
        lastTime = hit.time;
        lastIso = hit.time === null ? 'null' : isoTimes.format(hit.time);
      }
      if (json) output.json(hit, lastIso, withVhost);
      else output.text(textLine(hit, lastIso, withVhost));
    },
  });

  const buffer = Buffer.allocUnsafe(Math.min(options.readSize ?? READ_SIZE, end - start));
  for (let pos = start; pos < end; ) {
    // To the end of the file: plain sequential reads, so a pipe or FIFO works too.
    const n = readSync(fd, buffer, 0, Math.min(buffer.length, end - pos), end === Infinity ? null : pos);
    if (n === 0) break;
    pos += n;
    scanner.push(buffer.subarray(0, n));
    await output.drained();
  }
  return scanner.stats();
}

/** `Date#toISOString` costs about a microsecond; hits come in time order, so the text of the minute is reused. */
class IsoTimes {
  private minute = NaN;
  private prefix = '';

  format(ms: number): string {
    const minute = Math.floor(ms / 60000) * 60000;
    if (minute !== this.minute) {
      this.minute = minute;
      this.prefix = new Date(minute).toISOString().slice(0, 17); // `2024-03-01T08:15:`
    }
    const rest = ms - minute;
    const seconds = Math.floor(rest / 1000);
    const millis = rest - seconds * 1000;
    return `${this.prefix}${seconds < 10 ? '0' : ''}${seconds}.${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}Z`;
  }
}

/** Strings JSON needs escaped, or that are not ASCII and so need UTF-8 encoding rather than a byte copy. */
const NOT_PLAIN_ASCII = /["\\\u0000-\u001f\u0080-\uffff]/;

const bytes = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, 'latin1'));
const PATH = bytes('{"path":');
const TIME = bytes(',"time":');
const CLIENT = bytes(',"client":');
const USER = bytes(',"user":');
const STATUS = bytes(',"status":');
const BYTES = bytes(',"bytes":');
const VHOST = bytes(',"vhost":');
const END = bytes('}\n');
const NULL = bytes('null');

/**
 * Output written as bytes straight into a buffer that goes to stdout when full. Building one JSON string per hit
 * (a dozen concatenations, then UTF-8 encoding of the joined text) measured about a quarter of the whole run on the
 * benchmark log, where half the lines are hits.
 */
export class HitOutput {
  private buf = Buffer.allocUnsafe(OUTPUT_SIZE);
  private pos = 0;
  private pending: Promise<void> | undefined;

  constructor(private readonly io: ParseLogIo) {}

  json(hit: ReceiptHit, isoTime: string, withVhost: boolean): void {
    // Worst case per char of a string field is a 6-byte `\u0000` escape.
    const vhostLength = withVhost && hit.vhost !== undefined ? hit.vhost.length : 0;
    this.reserve(128 + 6 * (hit.path.length + hit.client.length + (hit.user?.length ?? 0) + vhostLength));
    this.constant(PATH);
    this.string(hit.path);
    this.constant(TIME);
    if (isoTime === 'null') this.constant(NULL);
    else this.plainString(isoTime);
    this.constant(CLIENT);
    this.string(hit.client);
    this.constant(USER);
    if (hit.user === null) this.constant(NULL);
    else this.string(hit.user);
    this.constant(STATUS);
    this.integer(hit.status);
    this.constant(BYTES);
    if (hit.bytes === null) this.constant(NULL);
    else this.integer(hit.bytes);
    if (withVhost) {
      this.constant(VHOST);
      if (hit.vhost === undefined) this.constant(NULL);
      else this.string(hit.vhost);
    }
    this.constant(END);
    if (this.pos >= OUTPUT_SIZE / 2) this.flush();
  }

  text(text: string): void {
    this.reserve(3 * text.length);
    this.pos += this.buf.write(text, this.pos, 'utf8');
    if (this.pos >= OUTPUT_SIZE / 2) this.flush();
  }

  flush(): void {
    if (this.pos === 0) return;
    const chunk = this.buf.subarray(0, this.pos);
    // A fresh buffer rather than reuse: a pipe may still hold on to the chunk after write() returns.
    this.buf = Buffer.allocUnsafe(this.buf.length);
    this.pos = 0;
    this.pending = this.io.stdout(chunk) ?? this.pending;
  }

  /** Resolves when stdout has taken what was written so far (at once, unless it asked to wait). */
  async drained(): Promise<void> {
    const pending = this.pending;
    this.pending = undefined;
    if (pending !== undefined) await pending;
  }

  private reserve(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    this.flush();
    if (bytes > this.buf.length) this.buf = Buffer.allocUnsafe(bytes);
  }

  // The pieces below are a few bytes each: a plain loop beats the call into the runtime that `set`/`write` make.
  private constant(bytes: Uint8Array): void {
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < bytes.length; i++) buf[pos++] = bytes[i]!;
    this.pos = pos;
  }

  private string(s: string): void {
    if (NOT_PLAIN_ASCII.test(s)) {
      this.pos += this.buf.write(JSON.stringify(s), this.pos, 'utf8');
      return;
    }
    this.plainString(s);
  }

  /** A string known to be printable ASCII without quotes or backslashes. */
  private plainString(s: string): void {
    const buf = this.buf;
    let pos = this.pos;
    buf[pos++] = 34; // "
    if (s.length > 32) {
      pos += buf.write(s, pos, 'latin1');
    } else {
      for (let i = 0; i < s.length; i++) buf[pos++] = s.charCodeAt(i);
    }
    buf[pos++] = 34;
    this.pos = pos;
  }

  /** A non-negative integer's digits, without making a string of it. */
  private integer(n: number): void {
    let scale = 1;
    while (scale * 10 <= n) scale *= 10;
    for (; scale >= 1; scale /= 10) {
      const digit = Math.floor(n / scale);
      this.buf[this.pos++] = 48 + digit;
      n -= digit * scale;
    }
  }
}

function textLine(hit: ReceiptHit, isoTime: string, withVhost: boolean): string {
  const vhost = withVhost ? ` ${hit.vhost ?? '-'}` : '';
  return `${isoTime} ${hit.status} ${hit.bytes ?? '-'} ${hit.client} ${hit.user ?? '-'}${vhost} ${JSON.stringify(hit.path)}\n`;
}

function reportProblems(stats: ScanStats, format: string, io: ParseLogIo): void {
  let text = '';
  if (stats.probedLines > 0 && stats.probeFailures * 2 > stats.probedLines) {
    text +=
      `parse-log: ${stats.probeFailures} of the first ${stats.probedLines} lines do not match the log format ` +
      `"${format}"; check --format, or no hits can be found\n`;
  }
  if (stats.errorSamples.length > 0) {
    text += `parse-log: ${stats.parseErrors} lines could not be parsed; the first ones:\n`;
    for (const s of stats.errorSamples) text += `  at byte ${s.offset}: ${JSON.stringify(s.line)}\n`;
  }
  if (stats.pendingBytes > 0) {
    text += `parse-log: the last ${stats.pendingBytes} bytes have no newline yet and were not read (resume at byte ${stats.resumeOffset})\n`;
  }
  if (text !== '') io.stderr(text);
}
