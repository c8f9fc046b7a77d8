import path from 'node:path';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { identityOfEntry, lstatOrUndefined } from '../files/entry-kind';
import { NotARegularFileError, sha256OfFile } from '../files/hash';
import type { distributeFile } from '../workflows/distribute-file';
import {
  SHARED_TASK_QUEUE,
  copyUploadedSignal,
  workflowIdFor,
  type DistributeFileInput,
} from '../workflows/definitions';

export interface SubmitOptions {
  client: Client;
  fileTaskQueue: string;
  ackTimeout: string;
  blockedRetryInterval: string;
  uploadedBy?: string;
}

export type SubmitResult =
  | { kind: 'started'; workflowId: string }
  | { kind: 'copy-of-running'; workflowId: string }
  | { kind: 'gone' };

/**
 * Hands one complete upload to Temporal. The workflow ID is the content hash, so the same content can never be in
 * flight twice: a copy that lands while its twin is being delivered is announced to that workflow instead. A closed
 * workflow with the same ID is started again; its first step finds the permanent record and sets the copy aside.
 */
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
  const workflowId = workflowIdFor(sha256);
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
  // A running twin may close between our start and our signal; then starting again is right. Bounded, not endless.
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await options.client.workflow.start<typeof distributeFile>('distributeFile', {
        taskQueue: SHARED_TASK_QUEUE,
        workflowId,
        args: [input],
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      });
      return { kind: 'started', workflowId };
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
    try {
      await options.client.workflow
        .getHandle(workflowId)
        .signal(copyUploadedSignal, { uploadPath: input.uploadPath, fileName: input.fileName, uploadedAt: input.uploadedAt, uploadedBy: input.uploadedBy });
      return { kind: 'copy-of-running', workflowId };
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
  }
  throw new Error(`Could not hand ${workflowId} to Temporal after 5 attempts (it kept starting and closing).`);
}
