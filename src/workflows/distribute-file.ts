// Version 1 of the per-file workflow, frozen: new files run distributeFileV2 (distribute-file-v2.ts). It stays, unchanged,
// until its last run has closed (docs/workflow-versioning.md, rule 3); test/histories/v1 holds it to its recorded runs.
// Its likeness to v2 is deliberate: a shared helper changed for v2 would change v1 too.
import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { HostFileActivities } from '../activities/host-file-activities';
import type { LedgerActivities } from '../activities/ledger-activities';
import {
  accessedSignal,
  copyUploadedSignal,
  retrySignal,
  statusQuery,
  type FetchEvidence,
  type CopyUploaded,
  type DistributeFileInput,
  type FileStatus,
} from './definitions';
import { BLOCKING_FAILURE_TYPES, FAILURE_TYPES } from './names';
import { REFUSE_UNTRUSTED_MESSAGES_PATCH, isFetchEvidence, isCopyUploaded, whyRefused } from './untrusted-messages';

const ledger = proxyLocalActivities<LedgerActivities>({
  startToCloseTimeout: '30s',
  // The database may be down for a while: keep trying, never give up on recording a step.
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '30s' },
});

function fileActivities(taskQueue: string) {
  const quick = proxyActivities<HostFileActivities>({
    taskQueue,
    startToCloseTimeout: '5m',
    // The worker heartbeats these while they run (autoHeartbeat): one that died with its worker is retried after 30 s,
    // not after the whole 5 minutes.
    heartbeatTimeout: '30s',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
  });
  const transfer = proxyActivities<HostFileActivities>({
    taskQueue,
    startToCloseTimeout: '2h',
    // Short, so a transfer whose worker died is noticed and retried quickly; progress heartbeats come far more often.
    heartbeatTimeout: '15s',
    // SSH outages retry with backoff; a refused host key or login waits for a person instead (see below).
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', nonRetryableErrorTypes: [...BLOCKING_FAILURE_TYPES, FAILURE_TYPES.fileSuperseded] },
  });
  // Activity proxies are Proxy objects: their functions must be picked by name, not spread.
  return {
    validateUpload: quick.validateUpload,
    quarantineRejected: quick.quarantineRejected,
    archiveOriginal: quick.archiveOriginal,
    setAsideDuplicate: quick.setAsideDuplicate,
    transferFile: transfer.transferFile,
  };
}

function failureOfType(err: unknown, types: readonly string[]): ApplicationFailure | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : undefined;
  return cause instanceof ApplicationFailure && cause.type && types.includes(cause.type) ? cause : undefined;
}

function blockingFailure(err: unknown): ApplicationFailure | undefined {
  return failureOfType(err, BLOCKING_FAILURE_TYPES);
}

/**
 * The life of one uploaded result file: validate, route, transfer, archive, then wait for the clinic to fetch it.
 * Every step's outcome is written to the database by a ledger activity, so the trail outlives Temporal's retention.
 */
export async function distributeFile(input: DistributeFileInput): Promise<FileStatus> {
  const { runId, workflowId } = workflowInfo();
  const files = fileActivities(input.fileTaskQueue);
  const status: FileStatus = { state: 'RECEIVED', accesses: 0 };
  const accesses: FetchEvidence[] = [];
  const copies: CopyUploaded[] = [];
  let retryRequested = false;
  let finished = false;
  /** Until archived or quarantined, our file sits at input.uploadPath. */
  let originalInPlace = true;

  setHandler(statusQuery, () => status);
  setHandler(retrySignal, () => {
    retryRequested = true;
  });
  // The one change since v1 was frozen (issue 11): a signal that is not ours is recorded and ignored instead of being
  // believed (a clear receipt) or wedging the run (no input). Behind a patch reached only by such a signal, so every
  // run that never met one replays as recorded. No new v1 runs start, so a forged start needs no check here.
  let refusals = 0;
  const refuse = (what: string, value: unknown, expected: string) =>
    ledger.recordRefusedMessage({ workflowId, runId, seq: ++refusals, what, reason: whyRefused(value, expected) });
  setHandler(accessedSignal, async (evidence) => {
    if (!isFetchEvidence(evidence) && patched(REFUSE_UNTRUSTED_MESSAGES_PATCH)) return refuse('receipt signal (accessed)', evidence, 'a receipt');
    if (!accesses.some((a) => a.evidenceKey === evidence.evidenceKey)) accesses.push(evidence);
  });
  setHandler(copyUploadedSignal, async (copy) => {
    if (!isCopyUploaded(copy) && patched(REFUSE_UNTRUSTED_MESSAGES_PATCH)) return refuse('copyUploaded signal', copy, 'an announced copy');
    // The watcher re-announces a file it already submitted (e.g. after a restart): our own file, still in place, is no
    // copy. Once ours has been moved away, a file at the same path is a new upload of the same content.
    const reannounced = copy.uploadPath === input.uploadPath && originalInPlace;
    if (!reannounced && !copies.some((c) => c.uploadPath === copy.uploadPath)) copies.push(copy);
  });

  const ref = { uploadPath: input.uploadPath, fileName: input.fileName, sha256: input.sha256 };
  const { resultFileId, duplicateOf } = await ledger.registerUpload({
    workflowId,
    runId,
    fileName: input.fileName,
    uploadPath: input.uploadPath,
    sizeBytes: input.sizeBytes,
    sha256: input.sha256,
    uploadedAt: input.uploadedAt,
    uploadedBy: input.uploadedBy,
  });
  status.resultFileId = resultFileId;

  if (duplicateOf !== undefined) {
    await files.setAsideDuplicate({ ...ref, uploadedAt: input.uploadedAt });
    status.state = 'DUPLICATE';
    status.reason = `Same content as file #${duplicateOf}, which was already received; not sent again.`;
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
      const { duplicatePath } = await files.setAsideDuplicate({ ...copy, sha256: input.sha256 });
      await ledger.recordCopySetAside({
        resultFileId,
        duplicatePath,
        copy: { ...copy, workflowId, runId: `${runId}:copy:${index}`, sha256: input.sha256, sizeBytes: input.sizeBytes },
      });
    }
  })();
  const finish = async (final: FileStatus): Promise<FileStatus> => {
    finished = true;
    await copyHandling;
    await condition(allHandlersFinished);
    return final;
  };

  const checked = await files.validateUpload(ref);
  if (checked.outcome === 'superseded') {
    await ledger.recordSuperseded({ resultFileId, runId, reason: checked.reason });
    return finish({ ...status, state: 'SUPERSEDED', reason: checked.reason });
  }
  if (checked.outcome === 'rejected') {
    const { code, reason } = checked.result;
    const { rejectedPath } = await files.quarantineRejected({ ...ref, uploadedAt: input.uploadedAt, code, reason });
    originalInPlace = false;
    await ledger.recordRejected({ resultFileId, runId, code, reason, rejectedPath });
    return finish({ ...status, state: 'REJECTED', reason, archivePath: rejectedPath });
  }

  const { identification, pages } = checked.result;
  let route: { clinicFolder: string } | null = null;
  for (let attempt = 0; !route; attempt++) {
    route = await ledger.routeFile({ resultFileId, runId, attempt, identification, pages });
    if (!route) {
      status.state = 'NEEDS_FOLDER';
      status.reason = `No clinic folder is mapped for ${identification.label} hint "${identification.hint}".`;
      await condition(() => retryRequested);
      retryRequested = false;
    }
  }
  status.state = 'RECEIVED';
  status.reason = undefined;
  status.clinicFolder = route.clinicFolder;

  let delivery: Awaited<ReturnType<HostFileActivities['transferFile']>> | undefined;
  for (let attempt = 0; !delivery; attempt++) {
    try {
      delivery = await files.transferFile({ ...ref, sizeBytes: input.sizeBytes, folder: route.clinicFolder });
    } catch (err) {
      const superseded = failureOfType(err, [FAILURE_TYPES.fileSuperseded]);
      if (superseded) {
        await ledger.recordSuperseded({ resultFileId, runId, reason: superseded.message });
        return finish({ ...status, state: 'SUPERSEDED', reason: superseded.message });
      }
      const blocked = blockingFailure(err);
      if (!blocked) throw err;
      status.state = 'TRANSFER_BLOCKED';
      status.reason = blocked.message;
      await ledger.recordTransferBlocked({ resultFileId, runId, attempt, failureType: blocked.type ?? 'unknown', message: blocked.message });
      retryRequested = false;
      await condition(() => retryRequested, input.blockedRetryInterval);
      retryRequested = false;
    }
  }
  status.state = 'SENT';
  status.reason = undefined;
  status.remotePath = delivery.remotePath;
  await ledger.recordSent({ resultFileId, runId, destination: route.clinicFolder, delivery, sha256: input.sha256 });

  const { archivePath } = await files.archiveOriginal({ ...ref, uploadedAt: input.uploadedAt });
  originalInPlace = false;
  status.archivePath = archivePath;
  await ledger.recordArchived({ resultFileId, runId, archivePath, ackTimeout: input.ackTimeout });
  status.state = 'AWAITING_ACK';

  const fetched = await condition(() => accesses.length > 0, input.ackTimeout);
  if (!fetched) {
    await ledger.recordUnacknowledged({ resultFileId, runId, ackTimeout: input.ackTimeout });
    return finish({ ...status, state: 'UNACKNOWLEDGED', reason: `Not fetched within ${input.ackTimeout}.` });
  }
  const evidence = accesses.splice(0, accesses.length);
  await ledger.recordAccesses({ resultFileId, accesses: evidence });
  status.accesses = evidence.length;
  status.acknowledgedAt = evidence.map((e) => e.accessedAt).sort()[0];
  status.state = 'ACKNOWLEDGED';
  return finish(status);
}
