import { constants } from 'node:fs';
import { copyFile, link, lstat, mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { conflictNameFor } from '../transfer/destination';
import { identityOfEntry, lstatOrUndefined } from './entry-kind';
import { sha256OfFile } from './hash';
import { fitName, NAME_MAX, splitExtension } from './name-limits';

export interface PlacedFile {
  path: string;
  /** True when the requested name was taken by different content and the file got a distinguishable name. */
  renamed: boolean;
}

/** Whether anything (also a dangling symlink) has this name; never follows a link. */
async function exists(file: string): Promise<boolean> {
  return (await lstatOrUndefined(file)) !== undefined;
}

/** Whether `target` is a regular file holding `sha256`; a symlink, FIFO or folder there is "a different file", never read. */
async function holdsContent(target: string, sha256: string): Promise<boolean> {
  const info = await lstatOrUndefined(target);
  return info?.isFile() === true && (await sha256OfFile(target)) === sha256;
}

/** Unlinks `source` only while it is still the inode now at `target`: a file renamed over it meanwhile is not ours. */
async function unlinkIfSameInode(source: string, target: string): Promise<void> {
  const [s, t] = await Promise.all([lstatOrUndefined(source), lstat(target)]);
  if (s && s.ino === t.ino && s.dev === t.dev) await unlink(source);
}

/**
 * Candidate names in the order they are tried: the plain name, then one carrying the content hash. Both depend only
 * on the name and content, so a retry after a crash looks in the same places and finds its own earlier result.
 */
function candidates(folder: string, fileName: string, sha256: string): string[] {
  return [path.join(folder, fileName), path.join(folder, conflictNameFor(fileName, sha256))];
}

/**
 * Moves `source` (whose content has hash `sha256`) into `folder` without ever overwriting a different file and without
 * ever losing the file: link-then-unlink on one filesystem (no-clobber), copy-verify-unlink across filesystems.
 * Idempotent: when the source is already gone and a copy with that hash sits at a candidate name, that copy is returned.
 */
/** Where moveIntoFolder put (or would put) this content in `folder`, if it is there; nothing is moved. */
export async function findInFolder(folder: string, fileName: string, sha256: string): Promise<string | undefined> {
  for (const target of candidates(folder, fileName, sha256)) {
    if ((await exists(target)) && (await holdsContent(target, sha256))) return target;
  }
  return undefined;
}

export async function moveIntoFolder(source: string, folder: string, fileName: string, sha256: string): Promise<PlacedFile> {
  await mkdir(folder, { recursive: true });
  const names = candidates(folder, fileName, sha256);
  const sourcePresent = await exists(source);
  for (const [i, target] of names.entries()) {
    if (await exists(target)) {
      if (await holdsContent(target, sha256)) {
        if (sourcePresent && path.resolve(source) !== path.resolve(target)) await unlink(source);
        return { path: target, renamed: i > 0 };
      }
      continue; // a different file holds this name: try the next one
    }
    if (!sourcePresent) continue;
    try {
      await link(source, target); // fails with EEXIST instead of overwriting
      await unlinkIfSameInode(source, target);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') continue;
      if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'ENOTSUP') throw err;
      await copyFile(source, target, constants.COPYFILE_EXCL);
      if ((await sha256OfFile(target)) !== sha256) {
        await unlink(target);
        throw new Error(`Copy of ${path.basename(source)} to ${folder} did not verify; the original is untouched.`);
      }
      await unlink(source);
    }
    return { path: target, renamed: i > 0 };
  }
  if (!sourcePresent) {
    throw new Error(`${path.basename(source)} is no longer in its folder and no copy with its content is in ${folder}.`);
  }
  throw new Error(`Both ${names.map((n) => path.basename(n)).join(' and ')} in ${folder} hold other files; nothing was moved.`);
}

/**
 * Moves an entry that is not a regular file (symlink, FIFO, folder, socket) into `folder` as it is: renamed, never
 * followed, opened or read, never deleted. `identity` is its identityOfEntry under `fileName`, so a retry recognises
 * an entry it already moved. Across filesystems such an entry cannot be moved faithfully: it is then left in place
 * (`moved: false`) and the caller says so.
 */
export async function moveEntryIntoFolder(
  source: string,
  folder: string,
  fileName: string,
  identity: string,
): Promise<PlacedFile & { moved: boolean }> {
  await mkdir(folder, { recursive: true });
  const names = candidates(folder, fileName, identity);
  for (const [i, target] of names.entries()) {
    const there = await lstatOrUndefined(target);
    if (there) {
      if (!there.isFile() && identityOfEntry(there, fileName) === identity) return { path: target, renamed: i > 0, moved: true };
      continue;
    }
    const info = await lstatOrUndefined(source);
    if (!info || identityOfEntry(info, fileName) !== identity) continue;
    try {
      // rename would replace an existing file or empty folder: the lstat above and the one here keep that from us.
      if (await exists(target)) continue;
      await rename(source, target);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EXDEV') return { path: source, renamed: false, moved: false };
      if (code === 'EEXIST' || code === 'ENOTEMPTY' || code === 'ENOTDIR' || code === 'EISDIR') continue;
      throw err;
    }
    return { path: target, renamed: i > 0, moved: true };
  }
  throw new Error(`${path.basename(source)} is neither in its folder nor in ${folder}; nothing was moved.`);
}

/**
 * The name of the `.reason.json` beside a kept file: `<name>.reason.json`; when that would not fit in NAME_MAX, the
 * stem is shortened and the content hash added, `<stem…>__<hash12><ext>.reason.json`, so two long names cannot share one.
 */
export function reasonFileFor(placedPath: string, sha256: string): string {
  const name = path.basename(placedPath);
  const { stem, ext } = splitExtension(name);
  const plain = `${name}.reason.json`;
  const fitted = Buffer.byteLength(plain) <= NAME_MAX ? plain : fitName('', stem, `__${sha256.slice(0, 12)}${ext}.reason.json`);
  return path.join(path.dirname(placedPath), fitted);
}

/** Atomic write-then-rename for small metadata files (e.g. a rejection's .reason.json). */
export async function writeFileAtomic(file: string, content: string): Promise<void> {
  // The temporary name is short and starts with a dot, so it fits whatever the final name's length.
  const temp = path.join(path.dirname(file), `.tmp-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`);
  await writeFile(temp, content);
  await rename(temp, file);
}
