import { realpath } from 'node:fs/promises';
import path from 'node:path';

/**
 * Whether `file` names an entry directly in the upload folder, as the watcher only ever submits (it watches one level
 * deep). A workflow's input and its copyUploaded signal carry paths, and both can be forged by anyone who can reach
 * Temporal: a path elsewhere ("../", an absolute path, a folder reached through a symlink) is never read, moved or
 * sent. The folder is compared by its real path, so a symlink in the path cannot lead out of it; the entry itself is
 * judged later by lstat and never followed.
 */
export async function isInUploadFolder(uploadDir: string, file: string): Promise<boolean> {
  const name = path.basename(file);
  if (!path.isAbsolute(file) || name === '' || name === '.' || name === '..' || path.resolve(file) !== file) return false;
  // The upload folder's own real path is looked up once per process (it is configuration); the file's folder each time.
  const [folder, parent] = await Promise.all([realUploadFolder(uploadDir), realpath(path.dirname(file)).catch(() => undefined)]);
  return parent === folder;
}

const realUploadFolders = new Map<string, Promise<string>>();
function realUploadFolder(uploadDir: string): Promise<string> {
  let found = realUploadFolders.get(uploadDir);
  if (!found) {
    found = realpath(uploadDir);
    // A folder not there yet (or unreadable) is looked up again next time.
    found.catch(() => realUploadFolders.delete(uploadDir));
    realUploadFolders.set(uploadDir, found);
  }
  return found;
}

/** Whether `file` lies somewhere below `root`, by real paths (the archive's dated folders). */
export async function isInFolderTree(root: string, file: string): Promise<boolean> {
  if (!path.isAbsolute(file)) return false;
  const [top, real] = await Promise.all([realpath(root).catch(() => undefined), realpath(file).catch(() => undefined)]);
  return top !== undefined && real !== undefined && real.startsWith(`${top}${path.sep}`);
}

export const OUTSIDE_UPLOAD_FOLDER = {
  code: 'OUTSIDE_UPLOAD_FOLDER',
  reason: 'The path given for this file is not in the upload folder, so nothing was read, moved or sent. Files reach the system only through the upload folder or the upload page.',
} as const;
