/**
 * Files between the web page and an upload host on another machine (issue 13). Each runs on the queue of the host
 * whose disk is involved, so the host's own worker does the work, and moves a file through PostgreSQL
 * (src/labs/file-handover.ts): bytes never enter the history. A person is waiting on the page, so each is short:
 * a few attempts, then the page says what happened. The client bounds the whole run (workflowExecutionTimeout), so a
 * request made while the host was offline does not wait for it.
 */
import { ApplicationFailure, proxyActivities, proxyLocalActivities, workflowInfo } from '@temporalio/workflow';
import type { ArchivedPdfOutcome, HandoverActivities, WebUploadOutcome } from '../activities/handover-activities';
import type { LedgerActivities } from '../activities/ledger-activities';
import type { HandoverInput } from './definitions';
import { FAILURE_TYPES } from './names';
import { isHandoverInput, whyRefused } from './untrusted-messages';

const files = proxyActivities<HandoverActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '5s', maximumAttempts: 3 },
});

const ledger = proxyLocalActivities<LedgerActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '30s' },
});

/** An input that is not ours is recorded on the Security page, and nothing is read or written. */
async function refuseUnlessOurs(input: unknown, needsFile: boolean, what: string): Promise<void> {
  if (isHandoverInput(input, needsFile)) return;
  const { workflowId, runId } = workflowInfo();
  await ledger.recordRefusedMessage({ workflowId, runId, seq: 0, what, reason: whyRefused(input, `the input of a ${what}`) });
  throw ApplicationFailure.nonRetryable('Started with an input that is not ours: nothing was read or written (see the Security page).', FAILURE_TYPES.refusedInput);
}

/** Puts the archived PDF of `resultFileId`, held on this host, where the web page can read it once. */
export async function fetchArchivedPdf(input: HandoverInput): Promise<ArchivedPdfOutcome> {
  await refuseUnlessOurs(input, true, 'PDF view');
  return files.handOverArchivedPdf({ handoverId: input.handoverId, resultFileId: input.resultFileId! });
}

/** Gives an upload the web page received for this host its name in this host's upload folder. */
export async function placeWebUpload(input: HandoverInput): Promise<WebUploadOutcome> {
  await refuseUnlessOurs(input, false, 'web upload');
  return files.placeWebUpload({ handoverId: input.handoverId });
}
