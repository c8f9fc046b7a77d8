/**
 * `parse-log <file>`: lists the hits (receipt-grade fetches) in an Apache access log, offline, and how fast it read
 * them. The scanning is the access-log library's (src/access-log): one range scan in this thread for a small file,
 * a parallel scan for a large one; this file chooses between them and reports.
 */
import { once } from 'node:events';
import { closeSync, fstatSync, openSync, statSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import type { Command } from 'commander';
import { HitOutput, type ParseLogIo } from '../access-log/hit-output';
import { compileLogFormat } from '../access-log/log-format';
import type { ScanStats } from '../access-log/log-scanner';
import { parallelScan, splitRanges } from '../access-log/parallel-scan';
import { MAX_ERROR_SAMPLES, scanRange, type RangeScanOptions } from '../access-log/range-scan';

export type { ParseLogIo } from '../access-log/hit-output';

export interface ParseLogOptions {
  format: string;
  pattern: string;
  json?: boolean;
  /** Read size in bytes (default 8 MiB). */
  readSize?: number;
  /**
   * Threads that scan a large file (default: the cores idle now, at most 8); 1 scans in the calling thread.
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
  let failure: Error | undefined;
  let draining: Promise<void> | undefined;
  let listening = false;
  return {
    stdout(chunk) {
      if (!listening) {
        process.stdout.on('error', (err: Error) => {
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
    // Node writes to a regular file synchronously (see "A note on process I/O" in its docs).
    synchronous: isRegularFile(1),
  };
}

function isRegularFile(fd: number): boolean {
  try {
    return fstatSync(fd).isFile();
  } catch {
    return false;
  }
}

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

/**
 * One thread per core that is idle now (by the 1-minute load average), at most 8. Worker threads only pay where
 * they get a core of their own: on the 2-core benchmark machine, busy with another test suite (load 4-7), a
 * 2-thread scan took 1.3-1.8 times as long as one thread and half again the CPU.
 */
function defaultThreads(): number {
  const idle = Math.floor(availableParallelism() - loadavg()[0] + 0.5);
  return Math.max(1, Math.min(idle, 8));
}

function fstatSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0; // openSync below reports the error
  }
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
