import { createHash } from 'node:crypto';
import type { Stats } from 'node:fs';
import { lstat } from 'node:fs/promises';

/** What a name in the upload folder is, looked at without following it. */
export type EntryKind = 'file' | 'symlink' | 'fifo' | 'directory' | 'socket' | 'device';

export function entryKindOf(info: Stats): EntryKind {
  if (info.isFile()) return 'file';
  if (info.isSymbolicLink()) return 'symlink';
  if (info.isFIFO()) return 'fifo';
  if (info.isDirectory()) return 'directory';
  if (info.isSocket()) return 'socket';
  return 'device';
}

/** lstat (never follows a symlink); undefined when nothing has the name any more. */
export async function lstatOrUndefined(file: string): Promise<Stats | undefined> {
  return lstat(file).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined;
    throw err;
  });
}

/**
 * A stand-in for the content hash of an entry that has no content we may read (symlink, FIFO, directory...): a hash of
 * what it is and which inode it is under which name. It is stable while the entry exists, also after it is moved on
 * the same filesystem, so the workflow and its activities can recognise "their" entry; it never collides with a
 * content hash in practice. Its workflow ID is `file-<this>` like any other upload.
 */
export function identityOfEntry(info: Stats, fileName: string): string {
  return createHash('sha256').update(`getresults:not-a-regular-file\0${entryKindOf(info)}\0${info.dev}:${info.ino}\0${fileName}`).digest('hex');
}

const DESCRIPTIONS: Record<Exclude<EntryKind, 'file'>, string> = {
  symlink: 'a symbolic link (a shortcut to another file)',
  fifo: 'a named pipe (FIFO)',
  directory: 'a folder',
  socket: 'a socket',
  device: 'a device file',
};

/** A sentence a technician understands, for an entry that is not a regular file. */
export function notARegularFileReason(kind: Exclude<EntryKind, 'file'>): string {
  const what = DESCRIPTIONS[kind];
  const advice =
    kind === 'directory'
      ? 'Folders are not searched: upload each result PDF on its own.'
      : kind === 'symlink'
        ? 'Links are never followed, so nothing outside the upload folder is ever read or sent: upload the PDF itself.'
        : 'Upload the result PDF itself.';
  return `This is not a regular file but ${what}, so it was not read or sent; it was moved aside unchanged. ${advice}`;
}
