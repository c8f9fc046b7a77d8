import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { unlink } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';
import { checkUploadName, looksLikePdf } from '../../disk/staged-upload';

/**
 * An upload form, read as it arrives (issue 11): each file part goes straight to a hidden `.part` file in the upload
 * folder, hashed on the way, so a request never holds more than a chunk in memory whatever its size. Nothing is given
 * its real name until the whole request has arrived within its limits and its CSRF token checked out; a request that
 * breaks off, goes over the limit, or fails the check leaves nothing behind.
 */

/** One file part of the form, staged or refused (with the reason, in words for the technician). */
export type ReceivedFile =
  | { name: string; staged: true; tempPath: string; sha256: string; sizeBytes: number }
  | { name: string; staged: false; problem: string };

export type ReceivedForm =
  | { ok: true; files: ReceivedFile[]; fields: Record<string, string> }
  | { ok: false; status: 403 | 413 | 400; problem: string };

export interface ReceiveLimits {
  maxFileBytes: number;
  /** The whole request, multipart framing included. */
  maxUploadBytes: number;
}

/** The form field holding the CSRF token; it must come before the files, as our form puts it. */
export interface CsrfCheck {
  field: string;
  accepts(token: string): boolean;
}

const MAX_FILES = 200;

class UploadTooLarge extends Error {}

/** Counts the request's bytes and stops it at the limit. */
function byteLimit(max: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      callback(seen > max ? new UploadTooLarge() : null, chunk);
    },
  });
}

function tempPathFor(uploadDir: string, name: string): string {
  return path.join(uploadDir, `.${name}.${randomBytes(6).toString('hex')}.part`);
}

/**
 * Reads the multipart body of `request` into staged files. The caller gives each staged file its real name
 * (commitStaged, src/disk/staged-upload.ts) or removes it (discardStaged); on any refusal of the whole request this has
 * removed them already.
 */
export async function receiveUploadForm(
  request: Request,
  uploadDir: string,
  limits: ReceiveLimits,
  csrf: CsrfCheck,
  /** Other text fields the form may carry (a checkbox, say); anything else is ignored. */
  fieldNames: readonly string[] = [],
): Promise<ReceivedForm> {
  const contentType = request.headers.get('content-type') ?? '';
  if (!request.body || !contentType.startsWith('multipart/form-data')) return { ok: false, status: 400, problem: 'Send the upload form (multipart/form-data).' };
  const folder = path.resolve(uploadDir);
  const files: ReceivedFile[] = [];
  const pending: Array<Promise<void>> = [];
  let tokenChecked = false;
  let csrfFailed = false;
  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: { 'content-type': contentType },
      limits: { fileSize: limits.maxFileBytes, files: MAX_FILES, fields: 20, fieldSize: 64 * 1024, parts: MAX_FILES + 20 },
      defParamCharset: 'utf8',
      // The name as sent, folders and all: checkUploadName refuses a name with a separator rather than trimming it.
      preservePath: true,
    });
  } catch {
    return { ok: false, status: 400, problem: 'The upload form could not be read (no multipart boundary).' };
  }

  const fields: Record<string, string> = {};
  parser.on('field', (field, value) => {
    if (fieldNames.includes(field) && !(field in fields)) fields[field] = value.slice(0, 200);
    if (field !== csrf.field || tokenChecked) return;
    tokenChecked = true;
    if (!csrf.accepts(value)) csrfFailed = true;
  });
  parser.on('file', (_field, stream, info) => {
    // A file before the token is refused with the whole form: nothing reaches the disk before the check.
    if (!tokenChecked) csrfFailed = true;
    const check = checkUploadName(info.filename ?? '');
    if (csrfFailed || !check.ok) {
      stream.resume(); // read past it: nothing of it is kept
      if (!csrfFailed && !check.ok) files.push({ name: info.filename ?? '', staged: false, problem: check.problem });
      return;
    }
    const name = check.name;
    const tempPath = tempPathFor(folder, name);
    const hash = createHash('sha256');
    let sizeBytes = 0;
    let head = Buffer.alloc(0);
    let tooLarge = false;
    stream.on('limit', () => {
      tooLarge = true;
    });
    const measure = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        sizeBytes += chunk.length;
        if (head.length < 1024) head = Buffer.concat([head, chunk.subarray(0, 1024 - head.length)]);
        callback(null, chunk);
      },
    });
    // flush: the data is on disk before the file is closed, so "saved" survives a crash.
    const out = createWriteStream(tempPath, { flags: 'wx', mode: 0o640, flush: true });
    const index = files.push({ name, staged: false, problem: 'It did not arrive in full.' }) - 1;
    pending.push(
      pipeline(stream, measure, out).then(
        async () => {
          if (tooLarge || !looksLikePdf(head)) {
            await unlink(tempPath).catch(() => undefined);
            files[index] = { name, staged: false, problem: tooLarge ? `It is larger than ${formatMiB(limits.maxFileBytes)}.` : 'It is not a PDF (no %PDF- header).' };
            return;
          }
          files[index] = { name, staged: true, tempPath, sha256: hash.digest('hex'), sizeBytes };
        },
        async (err: unknown) => {
          await unlink(tempPath).catch(() => undefined);
          throw err;
        },
      ),
    );
  });

  let tooManyFiles = false;
  parser.on('filesLimit', () => {
    tooManyFiles = true;
  });

  let failure: ReceivedForm | undefined;
  try {
    await pipeline(Readable.fromWeb(request.body as WebReadableStream<Uint8Array>), byteLimit(limits.maxUploadBytes), parser);
    await Promise.all(pending);
  } catch (err) {
    await Promise.allSettled(pending);
    if (err instanceof UploadTooLarge) {
      failure = { ok: false, status: 413, problem: `Nothing was saved: the upload is over ${formatMiB(limits.maxUploadBytes)}. Send fewer or smaller files at once.` };
    } else if (err instanceof Error && /^Malformed/.test(err.message)) {
      // busboy refuses a part header with control characters, which a browser sends raw in a file name.
      failure = { ok: false, status: 400, problem: 'Nothing was saved: the upload form could not be read. Is there a file whose name holds control characters? Rename it and send again.' };
    } else {
      failure = { ok: false, status: 400, problem: 'The upload broke off before it was complete. Nothing was saved; send it again.' };
    }
  }
  if (!failure && (csrfFailed || !tokenChecked)) {
    failure = { ok: false, status: 403, problem: 'Refused: the form is out of date or was not sent by this site. Go back, reload the page and try again.' };
  }
  if (!failure && tooManyFiles) {
    failure = { ok: false, status: 413, problem: `Nothing was saved: send at most ${MAX_FILES} files at once.` };
  }
  if (failure) {
    await discardStaged(files);
    return failure;
  }
  return { ok: true, files, fields };
}

function formatMiB(bytes: number): string {
  return `${Math.round((bytes / 1024 / 1024) * 10) / 10} MiB`;
}

/** Removes every staged file of a form that will not be committed. */
export async function discardStaged(files: ReceivedFile[]): Promise<void> {
  await Promise.all(files.flatMap((f) => (f.staged ? [unlink(f.tempPath).catch(() => undefined)] : [])));
}
