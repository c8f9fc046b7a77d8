/**
 * The activities that need the upload host holding the file: its disk (check, move, archive, set aside) and the
 * transfer from it to server B. They run on that host's own task queue (fileTaskQueueFor); the database writes are
 * the ledger activities'. "File" here is the uploaded PDF on disk; its record is a result file (db/entities).
 */
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { IdentifierPatterns } from '../domain/identifier-patterns';
import { entryKindOf, identityOfEntry, lstatOrUndefined, notARegularFileReason } from '../disk/entry-kind';
import { NotARegularFileError, openRegularFile, sha256OfBuffer, sha256OfFile } from '../disk/hash';
import { isInFolderTree, isInUploadFolder, OUTSIDE_UPLOAD_FOLDER } from '../disk/upload-folder';
import { findInFolder, moveEntryIntoFolder, moveIntoFolder, reasonFileFor, writeFileAtomic } from '../disk/safe-move';
import type { Destination, WithdrawRequest, WithdrawResult } from '../transfer/destination';
import { HostKeyRejectedError, SshAuthenticationError } from '../transfer/errors';
import { checkNameAndSize, validateResultFile, type ValidationResult } from '../validation/validate-result-file';
import { FAILURE_TYPES } from '../workflows/names';

export interface HostFileActivityDeps {
  /** This host's upload folder: the only place a file given to these activities may be (src/disk/upload-folder.ts). */
  uploadDir: string;
  patterns: IdentifierPatterns;
  destination: Destination;
  maxFileBytes: number;
  archiveDir: string;
  rejectedDir: string;
  duplicatesDir: string;
  /** A truncated PDF younger than this may still be growing: retry instead of rejecting. */
  settleMs?: number;
}

export interface UploadRef {
  uploadPath: string;
  fileName: string;
  sha256: string;
}

export type ValidateOutcome =
  | { outcome: 'valid'; result: Extract<ValidationResult, { ok: true }> }
  | { outcome: 'rejected'; result: Extract<ValidationResult, { ok: false }> }
  /** The file changed or vanished after the watcher hashed it: this run must not act on it. */
  | { outcome: 'superseded'; reason: string };

/** The content of a regular file, read without following a link; undefined when it is gone or no longer a file. */
async function readRegularFile(file: string): Promise<Buffer | undefined> {
  const handle = await openRegularFile(file).catch((err: NodeJS.ErrnoException) => {
    if (err instanceof NotARegularFileError || err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (!handle) return undefined;
  try {
    return await handle.readFile();
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** `YYYY/MM/DD` of an ISO time: the dated folder, taken from workflow input so retries pick the same one. */
function datedFolder(root: string, isoTime: string): string {
  return path.join(root, isoTime.slice(0, 4), isoTime.slice(5, 7), isoTime.slice(8, 10));
}

/** Activities that touch the uploaded file; they run on the task queue of the host that holds it. */
export function createHostFileActivities(deps: HostFileActivityDeps) {
  /** For steps that come only after validateUpload accepted the path: reaching one with another path is a bug or a forgery. */
  const refuseOutsideUploadFolder = async (file: string) => {
    if (!(await isInUploadFolder(deps.uploadDir, file))) throw ApplicationFailure.nonRetryable(OUTSIDE_UPLOAD_FOLDER.reason, OUTSIDE_UPLOAD_FOLDER.code);
  };
  const settleMs = deps.settleMs ?? 60_000;

  return {
    /** `archivedCopy`: the quick send resuming after a crash checks the copy it archived (file-steps.ts). */
    async validateUpload(ref: UploadRef & { archivedCopy?: boolean }): Promise<ValidateOutcome> {
      const allowed = ref.archivedCopy ? await isInFolderTree(deps.archiveDir, ref.uploadPath) : await isInUploadFolder(deps.uploadDir, ref.uploadPath);
      if (!allowed) {
        return { outcome: 'rejected', result: { ok: false, ...OUTSIDE_UPLOAD_FOLDER } };
      }
      // lstat: a symlink is judged as what it is, never by what it points at.
      const info = await lstatOrUndefined(ref.uploadPath);
      if (!info) {
        return { outcome: 'superseded', reason: 'The file was removed from the upload folder before it could be checked; nothing was sent.' };
      }
      if (!info.isFile()) {
        if (identityOfEntry(info, ref.fileName) !== ref.sha256) {
          return { outcome: 'superseded', reason: 'The file was replaced by something that is not a file after it was taken; that is handled separately.' };
        }
        const kind = entryKindOf(info) as Exclude<ReturnType<typeof entryKindOf>, 'file'>;
        return { outcome: 'rejected', result: { ok: false, code: 'NOT_A_REGULAR_FILE', reason: notARegularFileReason(kind) } };
      }
      const precheck = checkNameAndSize(ref.fileName, info.size, deps.maxFileBytes, deps.patterns);
      if (!precheck.ok) return { outcome: 'rejected', result: precheck };
      const content = await readRegularFile(ref.uploadPath);
      if (!content || sha256OfBuffer(content) !== ref.sha256) {
        return { outcome: 'superseded', reason: 'The file changed after it was taken; its new content is handled separately.' };
      }
      const result = await validateResultFile({ fileName: ref.fileName, content, maxBytes: deps.maxFileBytes }, deps.patterns);
      if (result.ok) return { outcome: 'valid', result };
      if (result.code === 'PDF_INCOMPLETE' && Date.now() - info.mtimeMs < settleMs) {
        // A writer that paused longer than the watcher's stability window: give it time rather than reject a good file.
        throw ApplicationFailure.retryable('The PDF looks unfinished and was modified recently; checking again shortly.', FAILURE_TYPES.fileStillBeingWritten);
      }
      return { outcome: 'rejected', result };
    },

    async quarantineRejected(input: UploadRef & { uploadedAt: string; code: string; reason: string }): Promise<{ rejectedPath: string }> {
      // Not ours to move: the rejection is recorded, the path left alone.
      if (input.code === OUTSIDE_UPLOAD_FOLDER.code) return { rejectedPath: input.uploadPath };
      await refuseOutsideUploadFolder(input.uploadPath);
      const folder = datedFolder(deps.rejectedDir, input.uploadedAt);
      let placedPath: string;
      let note: string | undefined;
      if (input.code === 'NOT_A_REGULAR_FILE') {
        const placed = await moveEntryIntoFolder(input.uploadPath, folder, input.fileName, input.sha256);
        placedPath = placed.path;
        if (!placed.moved) note = 'It could not be moved (the rejected folder is on another filesystem) and was left where it is.';
      } else {
        placedPath = (await moveIntoFolder(input.uploadPath, folder, input.fileName, input.sha256)).path;
      }
      const reasonFile = placedPath === input.uploadPath ? reasonFileFor(path.join(folder, input.fileName), input.sha256) : reasonFileFor(placedPath, input.sha256);
      await writeFileAtomic(
        reasonFile,
        `${JSON.stringify({ file: path.basename(placedPath), path: placedPath, code: input.code, reason: input.reason, sha256: input.sha256, ...(note ? { note } : {}) }, null, 2)}\n`,
      );
      return { rejectedPath: placedPath };
    },

    /**
     * `checkedJustNow`: the caller (the quick send, file-steps.ts) validated this content within the same step, so the
     * look at the file before sending is skipped; the destination's check of the copy against the hash still fails a
     * file that changed since.
     */
    async transferFile(input: UploadRef & { sizeBytes: number; folder: string; checkedJustNow?: boolean }) {
      const ctx = Context.current();
      // Only an upload, or its archived copy (a quick send resuming after a crash sends that, file-steps.ts), leaves
      // this host.
      if (!(await isInUploadFolder(deps.uploadDir, input.uploadPath)) && !(await isInFolderTree(deps.archiveDir, input.uploadPath))) {
        throw ApplicationFailure.nonRetryable(OUTSIDE_UPLOAD_FOLDER.reason, FAILURE_TYPES.fileSuperseded);
      }
      // The file may have been replaced or removed since it was checked (say while it waited for a folder): never send
      // content that was not validated. The destination checks the copy against this hash too.
      const current = input.checkedJustNow
        ? input.sha256
        : await sha256OfFile(input.uploadPath).catch((err: NodeJS.ErrnoException) => {
            if (err instanceof NotARegularFileError || err.code === 'ENOENT') return undefined;
            throw err;
          });
      if (current !== input.sha256) {
        throw ApplicationFailure.nonRetryable(
          current === undefined
            ? 'The file was removed from the upload folder after it was checked; nothing was sent.'
            : 'The file was replaced after it was checked; this version was not sent, and the new content is handled separately.',
          FAILURE_TYPES.fileSuperseded,
        );
      }
      try {
        return await deps.destination.deliver({
          localPath: input.uploadPath,
          sha256: input.sha256,
          size: input.sizeBytes,
          folder: input.folder,
          fileName: input.fileName,
          // A quick send (a local activity, file-steps.ts) has no heartbeat to keep: its workflow task waits for it.
          onProgress: ctx.info.isLocal ? undefined : (bytes) => ctx.heartbeat({ bytes }),
        });
      } catch (err) {
        if (err instanceof HostKeyRejectedError) {
          throw ApplicationFailure.nonRetryable(err.message, FAILURE_TYPES.hostKeyRejected, { presentedFingerprint: err.presentedFingerprint });
        }
        if (err instanceof SshAuthenticationError) throw ApplicationFailure.nonRetryable(err.message, FAILURE_TYPES.sshAuthenticationRefused);
        throw err;
      }
    },

    /**
     * Takes a delivered file out of its clinic folder on server B (withdrawFile): moved aside, verified as ours first,
     * never deleted. Another file at the path is not touched: that fails for good (WithdrawRefused), with the reason.
     */
    async withdrawDelivered(input: WithdrawRequest): Promise<Exclude<WithdrawResult, { outcome: 'notOurs' }>> {
      const result = await deps.destination.withdraw(input);
      if (result.outcome === 'notOurs') {
        throw ApplicationFailure.nonRetryable(
          `Another file now holds ${input.remotePath} on server B (not the one we sent), so nothing was moved. Look at the clinic folder.`,
          FAILURE_TYPES.withdrawRefused,
        );
      }
      return result;
    },

    async archiveOriginal(input: UploadRef & { uploadedAt: string }): Promise<{ archivePath: string }> {
      await refuseOutsideUploadFolder(input.uploadPath);
      const placed = await moveIntoFolder(input.uploadPath, datedFolder(deps.archiveDir, input.uploadedAt), input.fileName, input.sha256);
      return { archivePath: placed.path };
    },

    /** The archived copy of this upload, if archiveOriginal has placed it (looked for, nothing moved). */
    async findArchived(input: UploadRef & { uploadedAt: string }): Promise<{ archivePath: string | null }> {
      return { archivePath: (await findInFolder(datedFolder(deps.archiveDir, input.uploadedAt), input.fileName, input.sha256)) ?? null };
    },

    /** `refused`: the path (from a copyUploaded signal) is not in the upload folder; nothing was touched. */
    async setAsideDuplicate(input: UploadRef & { uploadedAt: string }): Promise<{ duplicatePath: string | null; refused?: string }> {
      if (!(await isInUploadFolder(deps.uploadDir, input.uploadPath))) return { duplicatePath: null, refused: OUTSIDE_UPLOAD_FOLDER.reason };
      const info = await lstatOrUndefined(input.uploadPath);
      if (!info) return { duplicatePath: null };
      const placed = await moveIntoFolder(input.uploadPath, datedFolder(deps.duplicatesDir, input.uploadedAt), input.fileName, input.sha256);
      return { duplicatePath: placed.path };
    },
  };
}

export type HostFileActivities = ReturnType<typeof createHostFileActivities>;
