import { endsLikePdf, startsLikePdf, TRAILER_WINDOW } from '../validation/validate-result-file';
import { NotARegularFileError, openRegularFile } from './hash';

/** How much of the start is read: `startsLikePdf` allows a byte-order mark and some whitespace before `%PDF-`. */
const HEAD_BYTES = 1024;

/**
 * Whether a file in the upload folder already looks like a whole PDF: it starts like one and ends with its `%%EOF`
 * trailer. Reads only its first and last bytes, never follows a link. The watcher uses it to take a file that was just
 * written in place without waiting out the full stability window; the workflow still checks the whole file.
 */
export async function looksLikeWholePdf(file: string): Promise<boolean> {
  const handle = await openRegularFile(file).catch((err: NodeJS.ErrnoException) => {
    if (err instanceof NotARegularFileError || err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (!handle) return false;
  try {
    const { size } = await handle.stat();
    if (size < 16) return false;
    const head = Buffer.alloc(Math.min(HEAD_BYTES, size));
    await handle.read(head, 0, head.length, 0);
    const tailLength = Math.min(TRAILER_WINDOW, size);
    const tail = Buffer.alloc(tailLength);
    await handle.read(tail, 0, tailLength, size - tailLength);
    return startsLikePdf(head) && endsLikePdf(tail);
  } finally {
    await handle.close().catch(() => undefined);
  }
}
