/**
 * `parse-log <file>`: lists the receipt-grade hits in an Apache access log, offline, and how fast it read them.
 *
 * The file is read with large synchronous reads into one reused buffer (the scanner carries a split line over), and
 * hits are written as bytes into a large output buffer that is handed to stdout when full: per-line reads and writes,
 * or one string built per hit, would cost more than the scan itself.
 */
import { once } from 'node:events';
import { closeSync, openSync, readSync } from 'node:fs';
import type { Command } from 'commander';
import { compileLogFormat } from '../acklog/log-format';
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
  const withVhost = format.tokens.some((t) => t.kind === 'field' && t.role === 'vhost');
  const json = options.json === true;
  const output = new HitOutput(io);
  const isoTimes = new IsoTimes();
  let lastTime: number | null = null;
  let lastIso = 'null';
  const scanner = new LogScanner({
    format,
    pattern: options.pattern,
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

  const buffer = Buffer.allocUnsafe(options.readSize ?? READ_SIZE);
  const fd = openSync(file, 'r');
  try {
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, null);
      if (n === 0) break;
      scanner.push(buffer.subarray(0, n));
      await output.drained();
    }
  } finally {
    closeSync(fd);
  }

  const stats = scanner.stats();
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
class HitOutput {
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
