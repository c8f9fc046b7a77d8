/**
 * Worker thread of a parallel scan (parallel-scan.ts): scans the byte ranges it is sent and posts their output bytes,
 * then their totals.
 */
import { openSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { HitOutput } from './hit-output';
import { compileLogFormat } from './log-format';
import type { RangeReply, RangeRequest, RangeWorkerData } from './parallel-scan';
import { scanRange, type RangeScanOptions } from './range-scan';

const { file, options } = workerData as RangeWorkerData;
const port = parentPort!;
const fd = openSync(file, 'r');
const scanOptions: RangeScanOptions = { ...options, format: compileLogFormat(options.format as string) };
let current = -1;
const output = new HitOutput({
  stdout(chunk) {
    const bytes = chunk as Uint8Array;
    // Output chunks own their ArrayBuffer (HitOutput allocates a fresh one per flush), so it can move, not copy.
    const movable = bytes.byteOffset === 0 && bytes.buffer.byteLength >= 64 * 1024;
    const reply: RangeReply = { range: current, chunk: bytes };
    port.postMessage(reply, movable ? [bytes.buffer as ArrayBuffer] : []);
  },
  stderr() {},
});

port.on('message', (request: RangeRequest) => {
  current = request.range;
  scanRange(fd, request.start, request.end, scanOptions, output, request.probeLines).then(
    (stats) => {
      output.flush();
      const reply: RangeReply = { range: request.range, stats };
      port.postMessage(reply);
    },
    (err: unknown) => {
      const reply: RangeReply = { range: request.range, error: err instanceof Error ? err.message : String(err) };
      port.postMessage(reply);
    },
  );
});
