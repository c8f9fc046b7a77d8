import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { IdentifierPatterns } from '../domain/identifier-patterns';
import { sha256OfBuffer } from '../files/hash';
import { moveIntoFolder, writeFileAtomic } from '../files/safe-move';
import type { Destination } from '../transfer/destination';
import { HostKeyRejectedError, SshAuthenticationError } from '../transfer/errors';
import { checkNameAndSize, validateResultFile, type ValidationResult } from '../validation/validate-result-file';

export interface FileActivityDeps {
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

/** Failure types the workflow treats as "needs a person", not as transient. */
export const BLOCKING_FAILURE_TYPES = ['HostKeyRejected', 'SshAuthenticationRefused'] as const;

/** `YYYY/MM/DD` of an ISO time: the dated folder, taken from workflow input so retries pick the same one. */
function datedFolder(root: string, isoTime: string): string {
  return path.join(root, isoTime.slice(0, 4), isoTime.slice(5, 7), isoTime.slice(8, 10));
}

/** Activities that touch the uploaded file; they run on the task queue of the host that holds it. */
export function createFileActivities(deps: FileActivityDeps) {
  const settleMs = deps.settleMs ?? 60_000;

  return {
    async validateUpload(ref: UploadRef): Promise<ValidateOutcome> {
      const info = await stat(ref.uploadPath).catch(() => undefined);
      if (!info?.isFile()) {
        return { outcome: 'superseded', reason: 'The file was removed from the upload folder before it could be checked; nothing was sent.' };
      }
      const precheck = checkNameAndSize(ref.fileName, info.size, deps.maxFileBytes, deps.patterns);
      if (!precheck.ok) return { outcome: 'rejected', result: precheck };
      const content = await readFile(ref.uploadPath);
      if (sha256OfBuffer(content) !== ref.sha256) {
        return { outcome: 'superseded', reason: 'The file changed after it was picked up; its new content is handled separately.' };
      }
      const result = await validateResultFile({ fileName: ref.fileName, content, maxBytes: deps.maxFileBytes }, deps.patterns);
      if (result.ok) return { outcome: 'valid', result };
      if (result.code === 'PDF_INCOMPLETE' && Date.now() - info.mtimeMs < settleMs) {
        // A writer that paused longer than the watcher's stability window: give it time rather than reject a good file.
        throw ApplicationFailure.retryable('The PDF looks unfinished and was modified recently; checking again shortly.', 'FileStillBeingWritten');
      }
      return { outcome: 'rejected', result };
    },

    async quarantineRejected(input: UploadRef & { uploadedAt: string; code: string; reason: string }): Promise<{ rejectedPath: string }> {
      const placed = await moveIntoFolder(input.uploadPath, datedFolder(deps.rejectedDir, input.uploadedAt), input.fileName, input.sha256);
      await writeFileAtomic(
        `${placed.path}.reason.json`,
        `${JSON.stringify({ file: path.basename(placed.path), code: input.code, reason: input.reason, sha256: input.sha256 }, null, 2)}\n`,
      );
      return { rejectedPath: placed.path };
    },

    async transferFile(input: UploadRef & { sizeBytes: number; folder: string }) {
      const ctx = Context.current();
      try {
        return await deps.destination.deliver({
          localPath: input.uploadPath,
          sha256: input.sha256,
          size: input.sizeBytes,
          folder: input.folder,
          fileName: input.fileName,
          onProgress: (bytes) => ctx.heartbeat({ bytes }),
        });
      } catch (err) {
        if (err instanceof HostKeyRejectedError) {
          throw ApplicationFailure.nonRetryable(err.message, 'HostKeyRejected', { presentedFingerprint: err.presentedFingerprint });
        }
        if (err instanceof SshAuthenticationError) throw ApplicationFailure.nonRetryable(err.message, 'SshAuthenticationRefused');
        throw err;
      }
    },

    async archiveOriginal(input: UploadRef & { uploadedAt: string }): Promise<{ archivePath: string }> {
      const placed = await moveIntoFolder(input.uploadPath, datedFolder(deps.archiveDir, input.uploadedAt), input.fileName, input.sha256);
      return { archivePath: placed.path };
    },

    async setAsideDuplicate(input: UploadRef & { uploadedAt: string }): Promise<{ duplicatePath: string | null }> {
      const info = await stat(input.uploadPath).catch(() => undefined);
      if (!info) return { duplicatePath: null };
      const placed = await moveIntoFolder(input.uploadPath, datedFolder(deps.duplicatesDir, input.uploadedAt), input.fileName, input.sha256);
      return { duplicatePath: placed.path };
    },
  };
}

export type FileActivities = ReturnType<typeof createFileActivities>;
