import { ActivityFailure, ApplicationFailure, patched, proxyActivities, proxyLocalActivities, workflowInfo } from '@temporalio/workflow';
import type { HostFileActivities } from '../activities/host-file-activities';
import type { LedgerActivities } from '../activities/ledger-activities';
import type { ResendFileInput } from './definitions';
import { FAILURE_TYPES } from './names';
import { REFUSE_UNTRUSTED_MESSAGES_PATCH, isResendFileInput, whyRefused } from './untrusted-messages';

export type ResendOutcome = Awaited<ReturnType<HostFileActivities['transferFile']>>;

const ledger = proxyLocalActivities<LedgerActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '30s' },
});

/**
 * Sends an already delivered file again from its archived copy (say, the clinic deleted it), then records the outcome
 * on the file's trail. A person is waiting for it, so an outage is retried for a few minutes, not forever; the failure
 * is recorded too. The file's state does not change: it was delivered before and still is.
 */
export async function resendFile(input: ResendFileInput): Promise<ResendOutcome> {
  const { workflowId, runId } = workflowInfo();
  // Anyone who reaches Temporal can start one: an input that is not ours is recorded and nothing is sent.
  if (!isResendFileInput(input) && patched(REFUSE_UNTRUSTED_MESSAGES_PATCH)) {
    await ledger.recordRefusedMessage({ workflowId, runId, seq: 0, what: 'resend start', reason: whyRefused(input, 'the input of a resend') });
    throw ApplicationFailure.nonRetryable('Started with an input that is not ours: nothing was sent (see the Security page).', FAILURE_TYPES.refusedInput);
  }
  const files = proxyActivities<HostFileActivities>({
    taskQueue: input.fileTaskQueue,
    startToCloseTimeout: '2h',
    heartbeatTimeout: '15s',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 8 },
  });
  const record = { resultFileId: input.resultFileId, resendId: workflowId, actor: input.actor, destination: input.folder };
  try {
    const delivery = await files.transferFile({
      uploadPath: input.archivePath,
      fileName: input.fileName,
      sha256: input.sha256,
      sizeBytes: input.sizeBytes,
      folder: input.folder,
    });
    await ledger.recordResent({ ...record, delivery });
    return delivery;
  } catch (err) {
    const cause = err instanceof ActivityFailure ? err.cause : undefined;
    const message = cause?.message ?? (err instanceof Error ? err.message : String(err));
    const type = cause instanceof ApplicationFailure ? (cause.type ?? 'unknown') : 'unknown';
    await ledger.recordResent({ ...record, failure: { type, message } });
    // The reason is on the file's timeline; the failure itself names no path or file.
    throw ApplicationFailure.nonRetryable(`Resend failed (${type}); the file's timeline has the reason.`, FAILURE_TYPES.resendFailed);
  }
}
