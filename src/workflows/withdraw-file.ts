import { ActivityFailure, ApplicationFailure, getExternalWorkflowHandle, patched, proxyActivities, proxyLocalActivities, workflowInfo } from '@temporalio/workflow';
import type { HostFileActivities } from '../activities/host-file-activities';
import type { LedgerActivities } from '../activities/ledger-activities';
import { withdrawnSignal, type WithdrawFileInput } from './definitions';
import { FAILURE_TYPES } from './names';
import { REFUSE_UNTRUSTED_MESSAGES_PATCH, isWithdrawFileInput, whyRefused } from './untrusted-messages';

const ledger = proxyLocalActivities<LedgerActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '30s' },
});

/**
 * Takes a sent result back from its clinic folder (issue 12: sent to the wrong clinic, or to be corrected): moves it
 * aside on server B (never deletes it), records WITHDRAWN with who and why, then tells the file's workflow. A person
 * is waiting, so an outage is retried for a few minutes, then the failure is on the timeline.
 */
export async function withdrawFile(input: WithdrawFileInput): Promise<{ outcome: string; movedTo?: string }> {
  const { workflowId, runId } = workflowInfo();
  if (!isWithdrawFileInput(input) && patched(REFUSE_UNTRUSTED_MESSAGES_PATCH)) {
    await ledger.recordRefusedMessage({ workflowId, runId, seq: 0, what: 'withdrawal start', reason: whyRefused(input, 'the input of a withdrawal') });
    throw ApplicationFailure.nonRetryable('Started with an input that is not ours: nothing was withdrawn (see the Security page).', FAILURE_TYPES.refusedInput);
  }
  const files = proxyActivities<HostFileActivities>({
    taskQueue: input.fileTaskQueue,
    startToCloseTimeout: '5m',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 8, nonRetryableErrorTypes: [FAILURE_TYPES.withdrawRefused] },
  });
  const { resultFileId, withdrawalId, actor } = input;
  let result: Awaited<ReturnType<HostFileActivities['withdrawDelivered']>>;
  try {
    result = await files.withdrawDelivered({ remotePath: input.remotePath, sha256: input.sha256, size: input.sizeBytes, withdrawalId });
  } catch (err) {
    const cause = err instanceof ActivityFailure ? err.cause : undefined;
    const message = cause?.message ?? (err instanceof Error ? err.message : String(err));
    await ledger.recordWithdrawRefused({ resultFileId, withdrawalId, actor, message });
    throw ApplicationFailure.nonRetryable('Withdrawal not done; the file\'s timeline has the reason.', FAILURE_TYPES.withdrawRefused);
  }
  await ledger.recordWithdrawn({ resultFileId, withdrawalId, actor, reason: input.reason, outcome: result.outcome, movedTo: 'movedTo' in result ? result.movedTo : undefined });
  try {
    await getExternalWorkflowHandle(input.fileWorkflowId).signal(withdrawnSignal);
  } catch {
    // Its run has ended (fetched, or not fetched in time): the ledger's WITHDRAWN is all there is to do.
  }
  return { outcome: result.outcome, movedTo: 'movedTo' in result ? result.movedTo : undefined };
}
