import { constants } from 'node:fs';
import { copyFile, link, mkdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { conflictNameFor } from '../transfer/destination';
import { sha256OfFile } from './hash';

export interface PlacedFile {
  path: string;
  /** True when the requested name was taken by different content and the file got a distinguishable name. */
  renamed: boolean;
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return false;
      throw err;
    },
  );
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
export async function moveIntoFolder(source: string, folder: string, fileName: string, sha256: string): Promise<PlacedFile> {
  await mkdir(folder, { recursive: true });
  const names = candidates(folder, fileName, sha256);
  const sourcePresent = await exists(source);
  for (const [i, target] of names.entries()) {
    if (await exists(target)) {
      if ((await sha256OfFile(target)) === sha256) {
        if (sourcePresent && path.resolve(source) !== path.resolve(target)) await unlink(source);
        return { path: target, renamed: i > 0 };
      }
      continue; // a different file holds this name: try the next one
    }
    if (!sourcePresent) continue;
    try {
      await link(source, target); // fails with EEXIST instead of overwriting
      await unlink(source);
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

/** Atomic write-then-rename for small metadata files (e.g. a rejection's .reason.json). */
export async function writeFileAtomic(file: string, content: string): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, content);
  await rename(temp, file);
}
