/**
 * Parallel scan of one log file: the file is cut into byte ranges that end just after a newline, worker threads scan
 * the ranges (each reads its own bytes and formats its own output), and the calling thread writes each range's
 * output in file order, so the result is byte for byte what one scan from start to end writes.
 *
 * Ranges are handed out one at a time to whichever worker is idle, and never more than a few ranges ahead of the
 * one being written: a slow stdout keeps the buffered output to a few ranges instead of the whole file.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { extname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ParseErrorSample, ScanStats } from './log-scanner';
import type { RangeScanOptions } from './range-scan';

/** The worker threads' module, beside this one (`.ts` when the tests run the sources, `.js` once built). */
const RANGE_WORKER_FILE = join(__dirname, `range-worker${extname(__filename)}`);

/** What each worker thread is started with: the file, and how to scan and write it. */
export interface RangeWorkerData {
  file: string;
  options: RangeScanOptions;
}

/** One range of the file, [start, end). Every range but the last ends just after a newline. */
export interface ByteRange {
  start: number;
  end: number;
}

/** What the calling thread sends a worker: scan this range. */
export interface RangeRequest {
  range: number;
  start: number;
  end: number;
  /** Only the first range probes the format. */
  probeLines: number;
}

/** What a worker sends back: output bytes of a range (in order), then its totals. */
export type RangeReply =
  | { range: number; chunk: Uint8Array }
  | { range: number; stats: ScanStats }
  | { range: number; error: string };

/**
 * Cuts [0, size) into ranges of about `rangeSize` bytes, each boundary moved to just after the next newline. A
 * boundary with no newline after it ends the ranges (the rest of the file is one range).
 */
export function splitRanges(file: string, size: number, rangeSize: number): ByteRange[] {
  const ranges: ByteRange[] = [];
  const fd = openSync(file, 'r');
  try {
    const probe = Buffer.allocUnsafe(64 * 1024);
    let start = 0;
    while (start < size) {
      let end = start + rangeSize;
      if (end >= size) {
        end = size;
      } else {
        end = nextLineStart(fd, probe, end - 1, size);
      }
      ranges.push({ start, end });
      start = end;
    }
  } finally {
    closeSync(fd);
  }
  return ranges;
}

/** The offset just after the first newline at or after `from`, or `size` when there is none. */
function nextLineStart(fd: number, buf: Buffer, from: number, size: number): number {
  for (let pos = from; pos < size; ) {
    const n = readSync(fd, buf, 0, Math.min(buf.length, size - pos), pos);
    if (n === 0) break;
    const nl = buf.indexOf(10);
    if (nl >= 0 && nl < n) return pos + nl + 1;
    pos += n;
  }
  return size;
}

export interface ParallelScanOptions {
  file: string;
  ranges: ByteRange[];
  /** How many worker threads (at least 1). */
  threads: number;
  /** What each worker thread (range-worker.ts) scans and how. */
  workerData: RangeWorkerData;
  /** Probe lines for the first range. */
  probeLines: number;
  maxErrorSamples: number;
  /** Output in file order; may return a promise to ask for a pause (a slow pipe). */
  write(chunk: Uint8Array): void | Promise<void>;
}

/** Runs the scan and returns the totals as one scan of the whole file would have counted them. */
export async function parallelScan(options: ParallelScanOptions): Promise<ScanStats> {
  const { ranges } = options;
  const threads = Math.max(1, Math.min(options.threads, ranges.length));
  const aheadLimit = 2 * threads;
  const outputs: Uint8Array[][] = ranges.map(() => []);
  const results: (ScanStats | undefined)[] = ranges.map(() => undefined);
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const signal = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };

  const workers: Worker[] = [];
  const idle: Worker[] = [];
  let nextRange = 0;
  let writing = 0;
  const dispatch = (): void => {
    while (idle.length > 0 && nextRange < ranges.length && nextRange < writing + aheadLimit) {
      const r = nextRange++;
      const request: RangeRequest = {
        range: r,
        start: ranges[r]!.start,
        end: ranges[r]!.end,
        probeLines: r === 0 ? options.probeLines : 0,
      };
      idle.pop()!.postMessage(request);
    }
  };

  try {
    for (let t = 0; t < threads; t++) {
      const worker = startWorker(RANGE_WORKER_FILE, options.workerData);
      worker.on('message', (reply: RangeReply) => {
        if ('chunk' in reply) {
          outputs[reply.range]!.push(reply.chunk);
        } else if ('stats' in reply) {
          results[reply.range] = reply.stats;
          idle.push(worker);
          dispatch();
        } else {
          failure ??= new Error(reply.error);
        }
        signal();
      });
      worker.on('error', (err) => {
        failure ??= err;
        signal();
      });
      worker.on('exit', (code) => {
        if (code !== 0) failure ??= new Error(`a log scan worker stopped with exit code ${code}`);
        signal();
      });
      workers.push(worker);
      idle.push(worker);
    }
    dispatch();

    while (writing < ranges.length) {
      if (failure !== undefined) throw failure;
      const queue = outputs[writing]!;
      if (queue.length > 0) {
        const chunks = queue.splice(0, queue.length);
        for (const chunk of chunks) {
          const pending = options.write(chunk);
          if (pending !== undefined) await pending;
        }
      } else if (results[writing] !== undefined) {
        writing++;
        dispatch();
      } else {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    }
  } finally {
    for (const worker of workers) {
      worker.removeAllListeners('exit');
      void worker.terminate();
    }
  }
  return mergeStats(results as ScanStats[], options.maxErrorSamples);
}

function mergeStats(parts: ScanStats[], maxErrorSamples: number): ScanStats {
  const last = parts[parts.length - 1]!;
  const errorSamples: ParseErrorSample[] = [];
  const total: ScanStats = {
    lines: 0,
    candidates: 0,
    hits: 0,
    parseErrors: 0,
    errorSamples,
    probedLines: 0,
    probeFailures: 0,
    resumeOffset: last.resumeOffset,
    pendingBytes: last.pendingBytes,
  };
  for (const p of parts) {
    total.lines += p.lines;
    total.candidates += p.candidates;
    total.hits += p.hits;
    total.parseErrors += p.parseErrors;
    total.probedLines += p.probedLines;
    total.probeFailures += p.probeFailures;
    for (const s of p.errorSamples) if (errorSamples.length < maxErrorSamples) errorSamples.push(s);
  }
  return total;
}

/**
 * A worker for a compiled `.js` module, or, when running from TypeScript sources (the tests), one that compiles the
 * `.ts` module with swc as it loads it.
 */
function startWorker(workerFile: string, workerData: RangeWorkerData): Worker {
  if (extname(workerFile) !== '.ts') return new Worker(workerFile, { workerData });
  const bootstrap = `
    const fs = require('node:fs');
    const { transformSync } = require(${JSON.stringify(require.resolve('@swc/core'))});
    require.extensions['.ts'] = (module, filename) => {
      const source = fs.readFileSync(filename, 'utf8');
      const { code } = transformSync(source, {
        filename,
        jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
        module: { type: 'commonjs' },
      });
      module._compile(code, filename);
    };
    require(${JSON.stringify(workerFile)});
  `;
  return new Worker(bootstrap, { eval: true, workerData });
}
