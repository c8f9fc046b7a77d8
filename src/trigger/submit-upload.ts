import { stat } from 'node:fs/promises';
import path from 'node:path';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { sha256OfFile } from '../files/hash';
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
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) return { kind: 'gone' };
  const sha256 = await sha256OfFile(file).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (!sha256) return { kind: 'gone' };
  const workflowId = workflowIdFor(sha256);
  const input: DistributeFileInput = {
    uploadPath: path.resolve(file),
    fileName: path.basename(file),
    sha256,
    sizeBytes: info.size,
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
