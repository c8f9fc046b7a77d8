/**
 * `parse-log <file>`: lists the receipt-grade hits in an Apache access log, offline, and how fast it read them.
 *
 * The file is read with large synchronous reads into one reused buffer (the scanner carries a split line over), and
 * output is collected into large strings before it is written: per-line reads and writes would cost more than the
 * scan itself.
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
  stdout(text: string): void | Promise<void>;
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
    stdout(text) {
      if (!listening) {
        process.stdout.on('error', (err) => {
          failure = err;
        });
        listening = true;
      }
      if (failure !== undefined) return Promise.reject(failure);
      if (process.stdout.write(text) || draining !== undefined) return draining;
      draining = once(process.stdout, 'drain').then(() => {
        draining = undefined;
      });
      return draining;
    },
    stderr: (text) => void process.stderr.write(text),
  };
}

const READ_SIZE = 8 * 1024 * 1024;
// Small enough that the pending output never grows old in the young generation (GC copies survivors).
const FLUSH_AT = 64 * 1024;

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
  let out = '';
  let drained: Promise<void> | undefined;
  const flush = (): void => {
    drained = io.stdout(out) ?? drained;
    out = '';
  };
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
      out += json ? jsonLine(hit, lastIso, withVhost) : textLine(hit, lastIso, withVhost);
      if (out.length >= FLUSH_AT) flush();
    },
  });

  const buffer = Buffer.allocUnsafe(options.readSize ?? READ_SIZE);
  const fd = openSync(file, 'r');
  try {
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, null);
      if (n === 0) break;
      scanner.push(buffer.subarray(0, n));
      if (drained !== undefined) {
        await drained;
        drained = undefined;
      }
    }
  } finally {
    closeSync(fd);
  }

  const stats = scanner.stats();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const linesPerSecond = seconds > 0 ? Math.round(stats.lines / seconds) : 0;
  const roundedSeconds = Math.round(seconds * 1e6) / 1e6;
  if (json) {
    out += `${JSON.stringify({
      summary: { lines: stats.lines, hits: stats.hits, parseErrors: stats.parseErrors, seconds: roundedSeconds, linesPerSecond },
    })}\n`;
  } else {
    out +=
      `${stats.lines} lines, ${stats.hits} hits, ${stats.parseErrors} parse errors` +
      ` in ${roundedSeconds.toFixed(3)} s (${linesPerSecond} lines/s)\n`;
  }
  flush();
  if (drained !== undefined) await drained;
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

function jsonLine(hit: ReceiptHit, isoTime: string, withVhost: boolean): string {
  const time = isoTime === 'null' ? 'null' : `"${isoTime}"`;
  const user = hit.user === null ? 'null' : jsonString(hit.user);
  const bytes = hit.bytes === null ? 'null' : String(hit.bytes);
  const vhost = withVhost ? `,"vhost":${hit.vhost === undefined ? 'null' : jsonString(hit.vhost)}` : '';
  return (
    `{"path":${jsonString(hit.path)},"time":${time},"client":${jsonString(hit.client)},` +
    `"user":${user},"status":${hit.status},"bytes":${bytes}${vhost}}\n`
  );
}

const NEEDS_JSON_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** JSON.stringify for strings, skipping its slower general path for the usual string that needs no escapes. */
function jsonString(s: string): string {
  return NEEDS_JSON_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`;
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
