import { spawn } from 'node:child_process';
import { findOnPath } from '../disk/executables';

/**
 * What the kernel says happened to a name in the upload folder. `moved-in` (IN_MOVED_TO) is a file renamed into the
 * folder: its writer finished it elsewhere. `closed` (IN_CLOSE_WRITE) is a writer closing it, `created` a new name
 * (also a hard link put into place, as the web upload does), `modified` a write. `overflow` means the kernel dropped
 * events: the folder must be looked at again.
 */
export type FolderEventKind = 'moved-in' | 'closed' | 'created' | 'modified' | 'overflow';

export interface FolderEvent {
  kind: FolderEventKind;
  /** The entry's name in the folder (empty for `overflow`). */
  name: string;
}

export interface FolderEvents {
  /** Resolves once the kernel watch is in place: nothing written after this is missed. */
  ready: Promise<void>;
  close(): Promise<void>;
}

export const INOTIFYWAIT = 'inotifywait';
const SETPRIV = 'setpriv';

/** The inotifywait binary (Debian's inotify-tools), when installed. */
export function findInotifywait(): string | undefined {
  return findOnPath(INOTIFYWAIT);
}

const KINDS: Array<[string, FolderEventKind]> = [
  ['Q_OVERFLOW', 'overflow'],
  ['MOVED_TO', 'moved-in'],
  ['CLOSE_WRITE', 'closed'],
  ['CREATE', 'created'],
  ['MODIFY', 'modified'],
];

function kindOf(flags: string): FolderEventKind | undefined {
  const set = new Set(flags.split(','));
  return KINDS.find(([flag]) => set.has(flag))?.[1];
}

/**
 * Kernel (inotify) events for one folder, not its subfolders, through `inotifywait -m`. Node's fs.watch reports a file
 * renamed in and a file being created alike; these events tell them apart, so a finished file can be taken at once
 * instead of after a fixed wait. Names are NUL-separated, so any name a file system allows comes through whole.
 * If inotifywait stops, `onStopped` is told, and the caller decides whether to start it again.
 */
export function watchFolderEvents(
  binary: string,
  folder: string,
  onEvent: (event: FolderEvent) => void,
  onStopped: (reason: string) => void,
): FolderEvents {
  const args = ['-m', '-e', 'create', '-e', 'close_write', '-e', 'moved_to', '-e', 'modify', '--format', '%e%0%f%0', '--no-newline', folder];
  // A watcher killed outright (SIGKILL, OOM) cannot stop its inotifywait, which would then live on, holding its watch
  // until the folder's next event: setpriv (util-linux) has the kernel kill it when its parent dies.
  const setpriv = findOnPath(SETPRIV);
  const child = setpriv
    ? spawn(setpriv, ['--pdeathsig', 'KILL', '--', binary, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let closing = false;
  let stderr = '';
  let pending: Buffer = Buffer.alloc(0);
  let fields: string[] = [];
  child.stdout.on('data', (chunk: Buffer) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    let start = 0;
    for (let nul = pending.indexOf(0, start); nul >= 0; nul = pending.indexOf(0, start)) {
      fields.push(pending.subarray(start, nul).toString('utf8'));
      start = nul + 1;
      if (fields.length === 2) {
        const [flags, name] = fields as [string, string];
        fields = [];
        const kind = kindOf(flags);
        if (kind) onEvent({ kind, name });
      }
    }
    pending = pending.subarray(start);
  });
  const ready = new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = `${stderr}${chunk.toString('utf8')}`.slice(-2000);
      if (stderr.includes('Watches established')) resolve();
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => reject(new Error(`inotifywait exited (${signal ?? code}): ${stderr.trim()}`)));
  });
  child.once('exit', (code, signal) => {
    if (!closing) onStopped(`inotifywait exited (${signal ?? code})${stderr.trim() ? `: ${stderr.trim().split('\n').at(-1)}` : ''}`);
  });
  return {
    ready,
    close: () =>
      new Promise<void>((resolve) => {
        closing = true;
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
