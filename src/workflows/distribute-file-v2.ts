import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { msToNumber, type Duration } from '@temporalio/common/lib/time';
import type { HostFileActivities } from '../activities/host-file-activities';
import type { FileSteps } from '../activities/file-steps';
import type { DeliveryResult } from '../transfer/destination';
import type { LedgerActivities } from '../activities/ledger-activities';
import {
  accessedSignal,
  copyUploadedSignal,
  retrySignal,
  statusQuery,
  withdrawnSignal,
  type FetchEvidence,
  type CopyUploaded,
  type DistributeFileInput,
  type FileStatus,
} from './definitions';
import type { FileState } from '../domain/file-state';
import { BLOCKING_FAILURE_TYPES, FAILURE_TYPES } from './names';
import { FILE_ID_KEY, FILE_STATE_KEY } from './search-attributes';
import { REFUSE_UNTRUSTED_MESSAGES_PATCH, WITHDRAWN_SIGNAL_PATCH, isFetchEvidence, isCopyUploaded, isDistributeFileInput, whyRefused } from './untrusted-messages';

/** Steps that touch the file, run as local activities in the upload host's worker (src/activities/file-steps.ts). */
const steps = proxyLocalActivities<FileSteps & Pick<HostFileActivities, 'setAsideDuplicate'>>({
  startToCloseTimeout: '5m',
  // The file or the database may be unavailable for a while: keep trying, as v1's file activities do.
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
});

/** Database-only writes, as in v1. */
const ledger = proxyLocalActivities<LedgerActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '30s' },
});

/**
 * The transfer stays a (heartbeating) activity of its own: it can run for a long time, and an operator sees a
 * transfer being retried, with its attempt and last failure, in the Temporal UI and on the Pending page. It runs on
 * the workflow's own queue, so the server can hand it to the same worker at once (eager activity dispatch).
 */
const { transferFile } = proxyActivities<HostFileActivities>({
  startToCloseTimeout: '2h',
  heartbeatTimeout: '15s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', nonRetryableErrorTypes: [...BLOCKING_FAILURE_TYPES, FAILURE_TYPES.fileSuperseded] },
});

function failureOfType(err: unknown, types: readonly string[]): ApplicationFailure | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : undefined;
  return cause instanceof ApplicationFailure && cause.type && types.includes(cause.type) ? cause : undefined;
}

/**
 * The life of one uploaded result file, versions 2 and 3 (docs/workflow-versioning.md): the same steps, states and
 * trail as distributeFile, in fewer round trips. They run on the task queue of the upload host that holds the file, so
 * checking, archiving and their database writes are local activities of that host's worker.
 *
 * - distributeFileV2 sends every file through the transfer activity: two workflow tasks to AWAITING_ACK (before and
 *   after the transfer). Frozen: it serves the runs started before v3 until the last has closed.
 * - distributeFileV3 also sends a small file in its first step (a quick send): the happy path is one workflow task.
 *   A larger file, or one whose quick send failed, continues as v2 does. Frozen since v4.
 * - distributeFileV4, which new files start, is v3 that also keeps its search attributes (search-attributes.ts) true:
 *   the client sets lab, host and RECEIVED at start; the run upserts the state (and the file's id) when it reaches a
 *   waiting or a final state, in the same workflow task as its next command, so no round trip is added.
 *
 * One body with a flag rather than a `patched()` branch: a patch costs every new run a marker and a search-attribute
 * upsert (a visibility write on the server), and the flag keeps v2's commands exactly as they were recorded.
 */
export async function distributeFileV2(input: DistributeFileInput): Promise<FileStatus> {
  return deliverInLocalSteps(input, { quickSend: false, searchAttributes: false });
}

export async function distributeFileV3(input: DistributeFileInput): Promise<FileStatus> {
  return deliverInLocalSteps(input, { quickSend: true, searchAttributes: false });
}

export async function distributeFileV4(input: DistributeFileInput): Promise<FileStatus> {
  return deliverInLocalSteps(input, { quickSend: true, searchAttributes: true });
}

interface Shape {
  quickSend: boolean;
  /** Upsert GetresultsState and GetresultsFileId on waiting and final states (v4). */
  searchAttributes: boolean;
}

async function deliverInLocalSteps(input: DistributeFileInput, shape: Shape): Promise<FileStatus> {
  const { runId, workflowId } = workflowInfo();
  const status: FileStatus = { state: 'RECEIVED', accesses: 0 };
  /** What the run's GetresultsState says: RECEIVED as the client started it, then each upsert below. */
  let shownState: FileState = 'RECEIVED';
  /**
   * The state the run waits or ends in, for its status query and (v4) the Temporal UI. An upsert is a command: the
   * next activity, timer or completion goes with it in the same workflow task, and an unchanged state writes nothing.
   */
  const reach = (state: FileState): void => {
    status.state = state;
    if (!shape.searchAttributes || state === shownState) return;
    shownState = state;
    upsertSearchAttributes([
      { key: FILE_STATE_KEY, value: state },
      ...(status.resultFileId === undefined ? [] : [{ key: FILE_ID_KEY, value: status.resultFileId }]),
    ]);
  };
  const accesses: FetchEvidence[] = [];
  const copies: CopyUploaded[] = [];
  let retryRequested = false;
  let finished = false;
  /** Until archived or quarantined, our file sits at input.uploadPath. */
  let originalInPlace = true;

  // A message that is not ours (sent in clear, or without its shape) is recorded and ignored, so that it neither acts
  // nor wedges the run (untrusted-messages.ts). patched() is reached only then: other runs carry no marker.
  let refusals = 0;
  const refuse = (what: string, value: unknown, expected: string) =>
    ledger.recordRefusedMessage({ workflowId, runId, seq: ++refusals, what, reason: whyRefused(value, expected) });
  if (!isDistributeFileInput(input) && patched(REFUSE_UNTRUSTED_MESSAGES_PATCH)) {
    await refuse('workflow start', input, 'the input of a file workflow');
    throw ApplicationFailure.nonRetryable('Started with an input that is not ours: nothing was done (see the Security page).', FAILURE_TYPES.refusedInput);
  }

  setHandler(statusQuery, () => status);
  setHandler(retrySignal, () => {
    retryRequested = true;
  });
  /** Evidence keys the check refused: sent again, they wake nothing. */
  const refusedKeys = new Set<string>();
  setHandler(accessedSignal, async (evidence) => {
    if (!isFetchEvidence(evidence) && patched(REFUSE_UNTRUSTED_MESSAGES_PATCH)) return refuse('receipt signal (accessed)', evidence, 'a receipt');
    if (refusedKeys.has(evidence.evidenceKey)) return;
    if (!accesses.some((a) => a.evidenceKey === evidence.evidenceKey)) accesses.push(evidence);
  });
  // A person withdrew the file (withdrawFile): a wake-up like `accessed`; the wait below asks the ledger. patched() is
  // reached only by that signal, so other runs carry no marker.
  let withdrawRequested = false;
  setHandler(withdrawnSignal, () => {
    if (patched(WITHDRAWN_SIGNAL_PATCH)) withdrawRequested = true;
  });
  setHandler(copyUploadedSignal, async (copy) => {
    if (!isCopyUploaded(copy) && patched(REFUSE_UNTRUSTED_MESSAGES_PATCH)) return refuse('copyUploaded signal', copy, 'an announced copy');
    // The watcher re-announces a file it already submitted (e.g. after a restart): our own file, still in place, is no
    // copy. Once ours has been moved away, a file at the same path is a new upload of the same content.
    const reannounced = copy.uploadPath === input.uploadPath && originalInPlace;
    if (!reannounced && !copies.some((c) => c.uploadPath === copy.uploadPath)) copies.push(copy);
  });

  const ref = { uploadPath: input.uploadPath, fileName: input.fileName, sha256: input.sha256 };
  const upload = {
    workflowId,
    runId,
    fileName: input.fileName,
    uploadPath: input.uploadPath,
    sizeBytes: input.sizeBytes,
    sha256: input.sha256,
    uploadedAt: input.uploadedAt,
    uploadedBy: input.uploadedBy,
  };
  // v3: a small file is sent, archived and recorded in the first step, so the happy path is one workflow task.
  const intake = shape.quickSend ? await steps.receiveAndSend({ ...upload, ackTimeout: input.ackTimeout }) : await steps.receiveFile(upload);
  const { resultFileId } = intake;
  status.resultFileId = resultFileId;

  if (intake.kind === 'duplicate') {
    // receiveFile registered this upload as a DUPLICATE row already: only the file is left to set aside.
    await steps.setAsideDuplicate({ ...ref, uploadedAt: input.uploadedAt });
    reach('DUPLICATE');
    status.reason = `Same content as file #${intake.duplicateOf}, which was already received; not sent again.`;
    await condition(allHandlersFinished); // a refusal being recorded
    return status;
  }

  // Copies of this content that arrive while the delivery is under way are set aside beside it, in the background.
  let copyIndex = 0;
  const copyHandling = (async () => {
    for (;;) {
      await condition(() => copies.length > 0 || finished);
      const copy = copies.shift();
      if (!copy) return;
      const index = copyIndex++;
      await steps.setAsideCopy({
        resultFileId,
        copy: { ...copy, workflowId, runId: `${runId}:copy:${index}`, sha256: input.sha256, sizeBytes: input.sizeBytes },
      });
    }
  })();
  const finish = async (final: FileStatus): Promise<FileStatus> => {
    reach(final.state);
    finished = true;
    await copyHandling;
    await condition(allHandlersFinished);
    return final;
  };

  if (intake.kind === 'superseded') return finish({ ...status, state: 'SUPERSEDED', reason: intake.reason });
  if (intake.kind === 'rejected') {
    const { rejectedPath } = await steps.rejectFile({ ...ref, resultFileId, runId, uploadedAt: input.uploadedAt, code: intake.code, reason: intake.reason });
    originalInPlace = false;
    return finish({ ...status, state: 'REJECTED', reason: intake.reason, archivePath: rejectedPath });
  }

  let archivePath: string;
  if (intake.kind === 'delivered') {
    // The quick send did it all in the first step.
    archivePath = intake.archivePath;
    status.clinicFolder = intake.clinicFolder;
    status.remotePath = intake.delivery.remotePath;
  } else {
    // Route (waiting for a folder if need be), transfer and archive, each step when the one before has succeeded.
    let clinicFolder = intake.kind === 'routed' ? intake.clinicFolder : undefined;
    for (let attempt = 1; !clinicFolder; attempt++) {
      reach('NEEDS_FOLDER');
      status.reason = `No clinic folder is mapped for ${intake.identification.label} hint "${intake.identification.hint}".`;
      await condition(() => retryRequested);
      retryRequested = false;
      const route = await ledger.routeFile({ resultFileId, runId, attempt, identification: intake.identification, pages: intake.pages });
      clinicFolder = route?.clinicFolder;
    }
    reach('RECEIVED'); // on its way again, after a wait for a folder
    status.reason = undefined;
    status.clinicFolder = clinicFolder;

    let sent: DeliveryResult | undefined;
    for (let attempt = 0; !sent; attempt++) {
      try {
        sent = await transferFile({ ...ref, sizeBytes: input.sizeBytes, folder: clinicFolder });
      } catch (err) {
        const superseded = failureOfType(err, [FAILURE_TYPES.fileSuperseded]);
        if (superseded) {
          await ledger.recordSuperseded({ resultFileId, runId, reason: superseded.message });
          return finish({ ...status, state: 'SUPERSEDED', reason: superseded.message });
        }
        const blocked = failureOfType(err, BLOCKING_FAILURE_TYPES);
        if (!blocked) throw err;
        reach('TRANSFER_BLOCKED');
        status.reason = blocked.message;
        await ledger.recordTransferBlocked({ resultFileId, runId, attempt, failureType: blocked.type ?? 'unknown', message: blocked.message });
        retryRequested = false;
        await condition(() => retryRequested, input.blockedRetryInterval);
        retryRequested = false;
      }
    }
    status.state = 'SENT';
    status.reason = undefined;
    status.remotePath = sent.remotePath;
    ({ archivePath } = await steps.finishDelivery({ ...ref, resultFileId, runId, uploadedAt: input.uploadedAt, clinicFolder, delivery: sent, ackTimeout: input.ackTimeout }));
  }
  originalInPlace = false;
  status.archivePath = archivePath;
  reach('AWAITING_ACK');

  // An `accessed` signal is a wake-up, not proof: anyone who reaches Temporal can send one. Its fetches count only as
  // far as the log scan recorded them for this file (ledger.recordAccesses checks); the wait goes on otherwise, to the
  // same deadline.
  const deadline = Date.now() + msToNumber(input.ackTimeout);
  let wait: Duration = input.ackTimeout;
  for (;;) {
    const fetched = await condition(() => accesses.length > 0 || withdrawRequested, wait);
    if (withdrawRequested) {
      withdrawRequested = false;
      if (await ledger.isWithdrawn({ resultFileId })) {
        return finish({ ...status, state: 'WITHDRAWN', reason: 'Withdrawn from the clinic folder by a person; the timeline says who and why.' });
      }
      await refuse('withdrawn signal', null, 'a withdrawal');
      wait = Math.max(1, deadline - Date.now());
      continue;
    }
    if (!fetched) {
      await ledger.recordUnacknowledged({ resultFileId, runId, ackTimeout: input.ackTimeout });
      return finish({ ...status, state: 'UNACKNOWLEDGED', reason: `Not fetched within ${input.ackTimeout}.` });
    }
    const evidence = accesses.splice(0, accesses.length);
    const checked = await ledger.recordAccesses({ resultFileId, accesses: evidence });
    // Runs recorded before the check existed got no answer (undefined): their evidence was taken as it came.
    const verified = checked === undefined ? evidence : evidence.filter((e) => checked.verifiedKeys.includes(e.evidenceKey));
    for (const e of evidence) if (!verified.includes(e)) refusedKeys.add(e.evidenceKey);
    if (verified.length) {
      status.accesses = verified.length;
      status.acknowledgedAt = verified.map((e) => e.accessedAt).sort()[0];
      status.state = 'ACKNOWLEDGED';
      return finish(status);
    }
    wait = Math.max(1, deadline - Date.now());
  }
}
