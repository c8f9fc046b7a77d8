import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { isTransientName } from './ignored-names';
import type { SubmitResult } from './submit-upload';

export interface WatcherOptions {
  uploadDir: string;
  /** A file is taken once its size has not changed for this long. */
  stableMs: number;
  concurrency: number;
  submit: (file: string) => Promise<SubmitResult>;
  log: (message: string) => void;
  /** First retry delay after a failed submission (Temporal unreachable, say); doubles up to a minute. */
  retryBaseMs?: number;
}

export interface UploadWatcher {
  /** Resolves once the files already waiting have been queued. */
  ready: Promise<void>;
  /** Resolves when nothing is queued, running or waiting to retry (tests use it). */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The thin trigger: notices complete files in the upload folder and hands each to Temporal, nothing more. Every
 * decision about the file is the workflow's. Failed hand-offs are retried with backoff; none is dropped.
 */
export function watchUploads(options: WatcherOptions): UploadWatcher {
  const queued = new Set<string>();
  const again = new Set<string>();
  const running = new Set<string>();
  const retryDelay = new Map<string, number>();
  const retryTimers = new Map<string, NodeJS.Timeout>();
  const idleWaiters: Array<() => void> = [];
  let closed = false;
  const baseDelay = options.retryBaseMs ?? 1000;

  const checkIdle = () => {
    if (queued.size || running.size || retryTimers.size) return;
    idleWaiters.splice(0).forEach((resolve) => resolve());
  };

  const pump = () => {
    while (!closed && running.size < options.concurrency && queued.size) {
      const file = queued.values().next().value as string;
      queued.delete(file);
      running.add(file);
      void options
        .submit(file)
        .then((result) => {
          retryDelay.delete(file);
          if (result.kind === 'copy-of-running') options.log(`Announced to the delivery already under way for this content (${result.workflowId}).`);
        })
        .catch((err: Error) => {
          const delay = Math.min((retryDelay.get(file) ?? baseDelay / 2) * 2, 60_000);
          retryDelay.set(file, delay);
          options.log(`Could not hand a file to Temporal (${err.message}); retrying in ${Math.round(delay / 1000)} s.`);
          retryTimers.set(
            file,
            setTimeout(() => {
              retryTimers.delete(file);
              enqueue(file);
            }, delay),
          );
        })
        .finally(() => {
          running.delete(file);
          if (again.delete(file)) queued.add(file);
          pump();
          checkIdle();
        });
    }
  };

  const enqueue = (file: string) => {
    if (closed || isTransientName(file)) return;
    if (running.has(file)) again.add(file); // changed while being submitted: look at it once more afterwards
    else queued.add(file);
    pump();
  };

  let watcher: FSWatcher | undefined;
  const ready = (async () => {
    await mkdir(options.uploadDir, { recursive: true });
    watcher = watch(options.uploadDir, {
      depth: 0,
      ignoreInitial: false,
      followSymlinks: false,
      ignored: (p: string) => path.resolve(p) !== path.resolve(options.uploadDir) && isTransientName(p),
      awaitWriteFinish: { stabilityThreshold: options.stableMs, pollInterval: Math.min(100, options.stableMs) },
    });
    watcher.on('add', enqueue);
    watcher.on('change', enqueue);
    watcher.on('error', (err) => options.log(`Watcher error: ${(err as Error).message}`));
    await new Promise<void>((resolve) => watcher!.once('ready', () => resolve()));
  })();

  return {
    ready,
    idle: () =>
      new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        checkIdle();
      }),
    async close() {
      closed = true;
      retryTimers.forEach((t) => clearTimeout(t));
      retryTimers.clear();
      await ready.catch(() => undefined);
      await watcher?.close();
      checkIdle();
    },
  };
}
