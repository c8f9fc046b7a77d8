import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { entryKindOf, lstatOrUndefined } from '../disk/entry-kind';
import { looksLikeWholePdf } from '../disk/whole-pdf';
import { isTransientName } from './ignored-names';
import { findInotifywait, watchFolderEvents, type FolderEvent, type FolderEvents } from './inotify-events';
import type { SubmitResult } from './submit-upload';

/**
 * How the watcher learns of files. `inotify`: kernel events through inotifywait (Debian's inotify-tools), which tell a
 * file renamed in (complete at once) from one being written; `poll`: chokidar's size polling, which waits out the
 * stability window for every file; `auto`: inotify when inotifywait is installed, else poll.
 */
export type Detection = 'auto' | 'inotify' | 'poll';

/**
 * Why a file was taken as complete: renamed into the folder; written in place and quiet for a moment with a whole PDF
 * in it (or linked into place whole, as web uploads are); quiet for the whole stability window (whatever it holds:
 * the workflow judges it); or found by the polling watcher once its size was stable.
 */
export type PickUpReason = 'moved-in' | 'whole-pdf' | 'stable' | 'polled';

export interface WatcherOptions {
  uploadDir: string;
  /** A file is taken once its size has not changed for this long. */
  stableMs: number;
  concurrency: number;
  submit: (file: string) => Promise<SubmitResult>;
  /** One line for the process log: ids and kinds only, never a file's name or path (its error's code, not its message). */
  log: (message: string, fields?: Record<string, unknown>) => void;
  /** First retry delay after a failed submission (Temporal unreachable, say); doubles up to a minute. */
  retryBaseMs?: number;
  /** How often the folder is listed for entries that are not regular files (default: max(stableMs, 1 s)). */
  sweepMs?: number;
  /** Default `auto`. */
  detection?: Detection;
  /**
   * With inotify: how long a file written in place must be quiet (no write, no close) before a whole PDF in it is taken
   * (default: min(100 ms, stableMs)). Anything else waits out `stableMs`.
   */
  quietMs?: number;
  /** Told of every file taken, and why (tests and diagnostics). */
  onTaken?: (file: string, why: PickUpReason) => void;
}

export interface UploadWatcher {
  /** Resolves once the files already waiting have been queued. */
  ready: Promise<void>;
  /** The detection in use (`auto` resolved); known once `ready` has resolved. */
  detection(): Exclude<Detection, 'auto'>;
  /** Resolves when nothing is queued, running or waiting to retry (tests use it). */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The thin trigger: notices complete files in the upload folder and hands each to Temporal, nothing more. Every
 * decision about the file is the workflow's. Failed hand-offs are retried with backoff; none is dropped.
 *
 * Regular files come from kernel events (inotify) or, without inotifywait, from chokidar once their size is stable.
 * With events, a file renamed into the folder is complete at once; one written in place is taken once it has been quiet
 * for `quietMs` and holds a whole PDF (`%PDF-` ... `%%EOF`), or else once quiet for the full `stableMs`; the workflow
 * checks the whole file either way, and a file that changes after it was taken is handed over again as new content.
 * Anything else in the folder (a symlink, also a dangling
 * one, a FIFO, a folder, a socket) is found by a periodic listing that looks at names with lstat only, so it is never
 * followed, opened or read; once unchanged for the stability window it is handed over once, and the workflow rejects
 * it visibly instead of it being skipped in silence.
 */
/** A file system error's message names its path (an upload's name): the log gets its code; other errors their message. */
function reasonWithoutPath(err: Error): string {
  const errno = err as NodeJS.ErrnoException;
  return errno.syscall || errno.path ? (errno.code ?? err.name) : err.message;
}

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
          if (result.kind === 'copy-of-running') options.log('Announced to the delivery already under way for this content.', { workflowId: result.workflowId });
          else if (result.kind === 'started') options.log('Upload handed to Temporal.', { workflowId: result.workflowId });
        })
        .catch((err: Error) => {
          const delay = Math.min((retryDelay.get(file) ?? baseDelay / 2) * 2, 60_000);
          retryDelay.set(file, delay);
          options.log(`Could not hand a file to Temporal; retrying in ${Math.round(delay / 1000)} s.`, { error: reasonWithoutPath(err) });
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

  const take = (file: string, why: PickUpReason) => {
    if (closed || isTransientName(file)) return;
    options.onTaken?.(file, why);
    enqueue(file);
  };

  const enqueue = (file: string) => {
    if (closed || isTransientName(file)) return;
    if (running.has(file)) again.add(file); // changed while being submitted: look at it once more afterwards
    else queued.add(file);
    pump();
  };

  /** chokidar stats with stat(), which follows links: only names that are regular files themselves go this way. */
  const onFileEvent = (file: string) => {
    void lstatOrUndefined(file).then(
      (info) => {
        if (info?.isFile()) take(file, 'polled');
      },
      (err: NodeJS.ErrnoException) => options.log('Could not look at an upload.', { error: err.code ?? err.name }),
    );
  };

  // Entries that are not regular files: name -> what they looked like when first seen that way, and since when.
  const settling = new Map<string, { signature: string; since: number }>();
  // Entries already handed over (kind, device, inode, name), so each is surfaced once per watcher run.
  const surfaced = new Map<string, string>();
  const sweepMs = options.sweepMs ?? Math.max(options.stableMs, 1000);
  let sweepTimer: NodeJS.Timeout | undefined;
  let sweeping = false;

  const sweep = async () => {
    if (closed || sweeping) return;
    sweeping = true;
    try {
      const entries = await readdir(options.uploadDir, { withFileTypes: true });
      const seen = new Set<string>();
      for (const entry of entries) {
        if (entry.isFile() || isTransientName(entry.name)) continue;
        const file = path.join(options.uploadDir, entry.name);
        const info = await lstatOrUndefined(file);
        if (!info || info.isFile()) continue;
        const identity = `${entryKindOf(info)}:${info.dev}:${info.ino}:${entry.name}`;
        seen.add(entry.name);
        if (surfaced.has(identity)) continue;
        const signature = `${identity}:${info.mtimeMs}:${info.size}`;
        const known = settling.get(entry.name);
        if (!known || known.signature !== signature) {
          settling.set(entry.name, { signature, since: Date.now() });
        } else if (Date.now() - known.since >= options.stableMs) {
          settling.delete(entry.name);
          surfaced.set(identity, entry.name);
          enqueue(file);
        }
      }
      for (const name of settling.keys()) if (!seen.has(name)) settling.delete(name);
      // Forget what has left the folder, so a new entry that reuses a name (or an inode) is surfaced again.
      for (const [identity, name] of surfaced) if (!seen.has(name)) surfaced.delete(identity);
    } catch (err) {
      options.log('Could not list the upload folder.', { error: (err as NodeJS.ErrnoException).code ?? (err as Error).name });
    } finally {
      sweeping = false;
    }
  };

  let watcher: FSWatcher | undefined;
  let events: FolderEvents | undefined;
  let detection: Exclude<Detection, 'auto'> = 'poll';
  const quietMs = options.quietMs ?? Math.min(100, options.stableMs);
  // Files written in place, by name: the timer that fires once the file has been quiet long enough.
  const settlingFiles = new Map<string, NodeJS.Timeout>();

  /** Every write and close resets the file's timers: when one fires, nothing has touched the file for that long. */
  const settle = (name: string) => {
    clearTimeout(settlingFiles.get(name));
    settlingFiles.set(
      name,
      setTimeout(() => {
        const file = path.join(options.uploadDir, name);
        void looksLikeWholePdf(file).then(
          (whole) => {
            if (closed || !settlingFiles.has(name)) return;
            if (whole) {
              settlingFiles.delete(name);
              return take(file, 'whole-pdf');
            }
            settlingFiles.set(
              name,
              setTimeout(() => {
                settlingFiles.delete(name);
                void lstatOrUndefined(file).then((info) => info?.isFile() && take(file, 'stable'));
              }, Math.max(0, options.stableMs - quietMs)),
            );
          },
          (err: NodeJS.ErrnoException) => options.log('Could not look at an upload.', { error: err.code ?? err.name }),
        );
      }, quietMs),
    );
  };

  const onFolderEvent = ({ kind, name }: FolderEvent) => {
    if (closed) return;
    if (kind === 'overflow') return void lookAtEverything();
    if (!name || isTransientName(name)) return;
    if (kind !== 'moved-in') return settle(name);
    // Renamed in: its writer finished it elsewhere. Anything that is not a regular file is left to the sweep.
    clearTimeout(settlingFiles.get(name));
    settlingFiles.delete(name);
    const file = path.join(options.uploadDir, name);
    void lstatOrUndefined(file).then(
      (info) => info?.isFile() && take(file, 'moved-in'),
      (err: NodeJS.ErrnoException) => options.log('Could not look at an upload.', { error: err.code ?? err.name }),
    );
  };

  /** At start, after a restart of inotifywait and after lost events: every regular file is looked at as if just written. */
  const lookAtEverything = async () => {
    try {
      for (const entry of await readdir(options.uploadDir, { withFileTypes: true })) {
        if (entry.isFile() && !isTransientName(entry.name)) settle(entry.name);
      }
    } catch (err) {
      options.log('Could not list the upload folder.', { error: (err as NodeJS.ErrnoException).code ?? (err as Error).name });
    }
  };

  const startEvents = async (binary: string) => {
    events = watchFolderEvents(binary, options.uploadDir, onFolderEvent, (reason) => {
      if (closed) return;
      options.log(`The upload folder's event watch stopped (${reason}); starting it again.`);
      setTimeout(() => {
        if (!closed) void startEvents(binary).catch((err: NodeJS.ErrnoException) => options.log('Could not watch the upload folder.', { error: err.code ?? err.message }));
      }, 1000);
    });
    await events.ready;
    // Listed after the watch is in place, so a file that lands in between is seen at least once (and submitting twice is harmless).
    await lookAtEverything();
  };

  const startPolling = async () => {
    watcher = watch(options.uploadDir, {
      depth: 0,
      ignoreInitial: false,
      followSymlinks: false,
      ignored: (p: string) => path.resolve(p) !== path.resolve(options.uploadDir) && isTransientName(p),
      awaitWriteFinish: { stabilityThreshold: options.stableMs, pollInterval: Math.min(100, options.stableMs) },
    });
    watcher.on('add', onFileEvent);
    watcher.on('change', onFileEvent);
    watcher.on('error', (err) => options.log('Watcher error.', { error: reasonWithoutPath(err as Error) }));
    await new Promise<void>((resolve) => watcher!.once('ready', () => resolve()));
  };

  const ready = (async () => {
    await mkdir(options.uploadDir, { recursive: true });
    const wanted = options.detection ?? 'auto';
    const inotifywait = wanted === 'poll' ? undefined : findInotifywait();
    if (wanted === 'inotify' && !inotifywait) {
      throw new Error('GETRESULTS_WATCH_DETECTION=inotify needs inotifywait (apt-get install inotify-tools).');
    }
    if (inotifywait) {
      detection = 'inotify';
      await startEvents(inotifywait);
    } else {
      detection = 'poll';
      await startPolling();
    }
    if (!closed) {
      void sweep();
      sweepTimer = setInterval(() => void sweep(), sweepMs);
    }
  })();

  return {
    ready,
    detection: () => detection,
    idle: () =>
      new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        checkIdle();
      }),
    async close() {
      closed = true;
      if (sweepTimer) clearInterval(sweepTimer);
      retryTimers.forEach((t) => clearTimeout(t));
      retryTimers.clear();
      settlingFiles.forEach((t) => clearTimeout(t));
      settlingFiles.clear();
      await ready.catch(() => undefined);
      await watcher?.close();
      await events?.close();
      checkIdle();
    },
  };
}
