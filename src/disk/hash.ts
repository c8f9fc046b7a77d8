import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/** Thrown when a path that should be a regular file is something else (symlink, FIFO, directory, socket, device). */
export class NotARegularFileError extends Error {
  readonly code = 'ENOTREGULAR';
}

/**
 * Opens a regular file for reading without ever following a symlink (O_NOFOLLOW) or blocking on a FIFO (O_NONBLOCK),
 * and checks what was opened, so a name swapped for something else between a check and the open is caught too.
 */
export async function openRegularFile(file: string): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    // O_NOFOLLOW on a symlink fails with ELOOP.
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new NotARegularFileError(`${file} is a symbolic link, not a file`);
    throw err;
  }
  const info = await handle.stat().catch(async (err: unknown) => {
    await handle.close();
    throw err;
  });
  if (!info.isFile()) {
    await handle.close();
    throw new NotARegularFileError(`${file} is not a regular file`);
  }
  return handle;
}

/** SHA-256 (lowercase hex) of a regular file, streamed so large files do not sit in memory. Never follows a symlink. */
export async function sha256OfFile(file: string): Promise<string> {
  const handle = await openRegularFile(file);
  try {
    const hash = createHash('sha256');
    for await (const chunk of handle.createReadStream({ highWaterMark: 1 << 20, autoClose: false })) hash.update(chunk as Buffer);
    return hash.digest('hex');
  } finally {
    await handle.close().catch(() => undefined);
  }
}

export function sha256OfBuffer(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
