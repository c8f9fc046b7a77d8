import path from 'node:path';
import { identityOfEntry, lstatOrUndefined } from '../disk/entry-kind';
import { NotARegularFileError, sha256OfFile } from '../disk/hash';
import type { ResultWorkflows, SubmitOutcome } from '../temporal/result-workflows';
import type { DistributeFileInput } from '../workflows/definitions';

export interface SubmitOptions {
  workflows: ResultWorkflows;
  fileTaskQueue: string;
  ackTimeout: string;
  blockedRetryInterval: string;
  uploadedBy?: string;
}

export type SubmitResult = SubmitOutcome | { kind: 'gone' };

/** Hashes one complete upload and hands it to the workflow for its content (ResultWorkflows.submitFile). */
export async function submitUpload(file: string, options: SubmitOptions): Promise<SubmitResult> {
  const fileName = path.basename(file);
  // Never follow a symlink, never open a FIFO or a folder: whatever the name is, it is looked at with lstat only.
  let info = await lstatOrUndefined(file);
  if (!info) return { kind: 'gone' };
  let sha256: string | undefined;
  if (info.isFile()) {
    sha256 = await sha256OfFile(file).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err instanceof NotARegularFileError) return undefined;
      throw err;
    });
    if (!sha256) {
      // Removed, or swapped for something else, while it was being hashed: look at what is there now.
      info = await lstatOrUndefined(file);
      if (!info || info.isFile()) return { kind: 'gone' };
    }
  }
  // Not a regular file (symlink, FIFO, folder...): still an upload a person should see. It goes through the workflow
  // like any other and is rejected there, under an ID derived from what the entry is rather than from its content.
  if (!sha256) sha256 = identityOfEntry(info, fileName);
  const input: DistributeFileInput = {
    uploadPath: path.resolve(file),
    fileName,
    sha256,
    sizeBytes: info.isFile() ? info.size : 0,
    fileTaskQueue: options.fileTaskQueue,
    uploadedAt: new Date().toISOString(),
    uploadedBy: options.uploadedBy,
    ackTimeout: options.ackTimeout,
    blockedRetryInterval: options.blockedRetryInterval,
  };
  return options.workflows.submitFile(input);
}
