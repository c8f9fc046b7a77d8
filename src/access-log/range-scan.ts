/**
 * One scan of a byte range of a log file that writes its hits as bytes: what `parse-log` does in the calling thread
 * for a small file, and what each worker thread of a parallel scan (range-worker.ts) does for its ranges.
 *
 * The file is read with large synchronous reads into one reused buffer (the scanner carries a split line over), and
 * hits are written as bytes into a large output buffer (hit-output.ts): per-line reads and writes, or one string
 * built per hit, would cost more than the scan itself.
 */
import { readSync } from 'node:fs';
import { HitFormatter, type HitOutput } from './hit-output';
import { compileLogFormat, type CompiledLogFormat } from './log-format';
import type { LogHit } from './hit-rule';
import { LogScanner, type ScanStats } from './log-scanner';

/** Read size in bytes unless the caller says otherwise. */
export const DEFAULT_READ_SIZE = 8 * 1024 * 1024;
/** How many unparseable lines a scan keeps as samples. */
export const MAX_ERROR_SAMPLES = 10;

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
  const formatter = new HitFormatter(output, options.json, withVhost);
  const scanner = new LogScanner({
    format,
    pattern: options.pattern,
    startOffset: start,
    probeLines,
    maxErrorSamples: MAX_ERROR_SAMPLES,
    parseAll: true,
    rawHits: (fields, bytes, bytesBase, path, pathLength) => formatter.raw(fields, bytes, bytesBase, path, pathLength),
    onHit: (hit: LogHit) => formatter.hit(hit),
  });

  const buffer = Buffer.allocUnsafe(Math.min(options.readSize ?? DEFAULT_READ_SIZE, end - start));
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

