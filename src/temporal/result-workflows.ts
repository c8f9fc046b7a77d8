import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { decodeOptionalFailureToOptionalError } from '@temporalio/common/lib/internal-non-workflow';
import { temporal } from '@temporalio/proto';
import {
  SHARED_TASK_QUEUE,
  accessedSignal,
  copyUploadedSignal,
  retrySignal,
  type FetchEvidence,
  type CopyUploaded,
  type DistributeFileInput,
  type HandoverInput,
  type ResendFileInput,
  type WithdrawFileInput,
} from '../workflows/definitions';
import type { distributeFileV4 } from '../workflows/distribute-file-v2';
import type { fetchArchivedPdf, placeWebUpload } from '../workflows/host-handover';
import type { ArchivedPdfOutcome, WebUploadOutcome } from '../activities/handover-activities';
import { WORKFLOW_TYPES, fileWorkflowId, fileWorkflowIdOnHost, handoverWorkflowId } from '../workflows/names';
import type { resendFile } from '../workflows/resend-file';
import { FILE_ID_KEY, FILE_STATE_KEY, LAB_KEY, UPLOAD_HOST_KEY } from '../workflows/search-attributes';
import type { withdrawFile } from '../workflows/withdraw-file';
import { ensureAlertSchedule, ensureLogScanSchedule } from './schedules';

/** One run of a workflow, as result_file records it. */
export interface WorkflowRun {
  workflowId: string;
  runId: string;
}

export interface SubmitOutcome {
  /** `copy-of-running`: a twin with the same content was being delivered, and was told about this copy instead. */
  kind: 'started' | 'copy-of-running';
  workflowId: string;
}

/** `closed`: the workflow is no longer running (finished, timed out, terminated), so nothing was waiting for it. */
export type SignalOutcome = 'delivered' | 'closed';

/**
 * How a handover with an upload host ended, seen from the page: the host's own answer, or `no-answer` (nothing within
 * the page's wait: the host is slow or went offline), or `failed` (the host tried and gave up; its worker log says why).
 */
export type HandoverAnswer<T> = T | { outcome: 'no-answer' } | { outcome: 'failed' };

/** A handover the host has not started within this long is dropped by Temporal: a person asked for it, not a queue. */
export const HANDOVER_RUN_TIMEOUT_MS = 2 * 60_000;

export interface PendingActivity {
  activityType?: string;
  /** 1 on the first attempt. */
  attempt: number;
  lastFailureMessage?: string;
}

/**
 * Everything the rest of the code does with our workflows, in the words of the domain. Callers branch on results, not
 * on Temporal's error classes, and tests fake this instead of a Client.
 */
export interface ResultWorkflows {
  /**
   * Hands an upload to the workflow for its content: starts it, or, while a twin with the same content is running,
   * announces the upload to it as a copy.
   */
  submitFile(input: DistributeFileInput): Promise<SubmitOutcome>;
  /** Tells the running workflow of `workflowId` that another copy of its content landed. */
  announceCopy(workflowId: string, copy: CopyUploaded): Promise<SignalOutcome>;
  /** Wakes a workflow waiting for a folder mapping or a fixed host key. */
  retry(run: WorkflowRun): Promise<SignalOutcome>;
  /** Passes the clinic's fetch of the file (a receipt) to the workflow waiting for it. */
  deliverReceipt(run: WorkflowRun, evidence: FetchEvidence): Promise<SignalOutcome>;
  /** `already-started`: this resend was asked for before (the ID is taken), so nothing new was started. */
  startResend(workflowId: string, input: ResendFileInput): Promise<'started' | 'already-started'>;
  /** `already-started`: this withdrawal was asked for before (the ID is taken), so nothing new was started. */
  startWithdraw(workflowId: string, input: WithdrawFileInput): Promise<'started' | 'already-started'>;
  /** Waits up to `timeoutMs` for a withdrawal to end: done, refused (its timeline says why), or still under way. */
  awaitWithdraw(workflowId: string, timeoutMs: number): Promise<'withdrawn' | 'refused' | 'pending'>;
  /** Asks the upload host of `taskQueue` to hand over an archived PDF it holds (src/workflows/host-handover.ts). */
  fetchArchivedPdf(taskQueue: string, input: HandoverInput, waitMs: number): Promise<HandoverAnswer<ArchivedPdfOutcome>>;
  /** Asks the upload host of `taskQueue` to place a web upload in its upload folder. */
  placeWebUpload(taskQueue: string, input: HandoverInput, waitMs: number): Promise<HandoverAnswer<WebUploadOutcome>>;
  /** Creates the Schedule of access-log scans, or brings it in line with `interval`. */
  ensureLogScanSchedule(interval: string): Promise<'created' | 'updated'>;
  /** The notifier's sweep (src/workflows/sweep-alerts.ts). */
  ensureAlertSchedule(interval: string): Promise<'created' | 'updated'>;
  /** The activities a workflow is running now; fails when the workflow cannot be described. */
  pendingActivities(run: WorkflowRun): Promise<PendingActivity[]>;
  /** Resolves when Temporal answers. */
  checkHealth(): Promise<void>;
  /**
   * Whether a worker has polled `taskQueue` for activities within QUEUE_SERVED_WINDOW_S: an upload host's queue
   * unserved that long means the host is offline, and work sent to it would only wait.
   */
  isQueueServed(taskQueue: string): Promise<boolean>;
}

/** A worker polls continuously (a poll lasts up to a minute); two minutes without one means none is running. */
export const QUEUE_SERVED_WINDOW_S = 120;

/** A running twin may close between our start and our signal; then starting again is right. Bounded, not endless. */
const SUBMIT_ATTEMPTS = 5;

async function unlessClosed(send: () => Promise<void>): Promise<SignalOutcome> {
  try {
    await send();
    return 'delivered';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return 'closed';
    throw err;
  }
}

async function unlessAlreadyStarted(start: () => Promise<unknown>): Promise<'started' | 'already-started'> {
  try {
    await start();
    return 'started';
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return 'already-started';
    throw err;
  }
}

/** Resolves to `late` after `ms`, unless `work` settles first; the timer never outlives the race. */
async function within<T>(work: Promise<T>, ms: number): Promise<T | 'late'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), ms)));
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

export interface ResultWorkflowsOptions {
  /**
   * Ask the server to hand new file workflows straight to a worker in this process (eager start): true when the client
   * shares the NativeConnection of a worker that serves the upload host's queue (`getresults start`). It saves the
   * round trip of the first workflow task.
   */
  eagerStart?: boolean;
  /**
   * The lab and upload host whose files this process submits (GETRESULTS_LAB, GETRESULTS_HOST_ID): a file workflow
   * starts with them as search attributes, so operators can filter by lab and host in the Temporal UI.
   */
  uploadHost?: { lab: string; host: string };
}

export function createResultWorkflows(client: Client, options: ResultWorkflowsOptions = {}): ResultWorkflows {
  // A new file's search attributes: RECEIVED at this host of this lab, sent with the start request at no extra cost.
  const startingAttributes = [
    { key: FILE_STATE_KEY, value: 'RECEIVED' },
    ...(options.uploadHost ? [{ key: LAB_KEY, value: options.uploadHost.lab }, { key: UPLOAD_HOST_KEY, value: options.uploadHost.host }] : []),
  ];
  async function handover<T>(type: string, taskQueue: string, input: HandoverInput, waitMs: number): Promise<HandoverAnswer<T>> {
    const handle = await client.workflow.start<(input: HandoverInput) => Promise<T>>(type, {
      taskQueue,
      workflowId: handoverWorkflowId(input.handoverId),
      args: [input],
      workflowExecutionTimeout: HANDOVER_RUN_TIMEOUT_MS,
      typedSearchAttributes: input.resultFileId ? [{ key: FILE_ID_KEY, value: input.resultFileId }] : [],
    });
    const answer = await within(
      handle.result().catch((err: unknown) => (err instanceof WorkflowFailedError ? ({ outcome: 'failed' } as const) : Promise.reject(err))),
      waitMs,
    );
    return answer === 'late' ? { outcome: 'no-answer' } : answer;
  }

  const workflows: ResultWorkflows = {
    async submitFile(input) {
      // The ID is the content hash, so the same content is never in flight twice. A closed workflow with the same ID
      // is started again (ALLOW_DUPLICATE); its first step finds the permanent record and sets the copy aside.
      // New files run distributeFileV4, on the queue of the upload host that holds them (docs/workflow-versioning.md):
      // runs of older versions already under way carry on where they are.
      let workflowId = fileWorkflowId(input.sha256);
      const copy: CopyUploaded = { uploadPath: input.uploadPath, fileName: input.fileName, uploadedAt: input.uploadedAt, uploadedBy: input.uploadedBy };
      for (let attempt = 0; attempt < SUBMIT_ATTEMPTS; attempt++) {
        const started = await unlessAlreadyStarted(() =>
          client.workflow.start<typeof distributeFileV4>(WORKFLOW_TYPES.distributeFileV4, {
            taskQueue: input.fileTaskQueue,
            workflowId,
            args: [input],
            typedSearchAttributes: startingAttributes,
            workflowIdReusePolicy: 'ALLOW_DUPLICATE',
            requestEagerStart: options.eagerStart,
          }),
        );
        if (started === 'started') return { kind: 'started', workflowId };
        if (workflowId === fileWorkflowId(input.sha256)) {
          // The twin already running may belong to another upload host, whose worker cannot reach a file on this
          // one: announced to it, this copy would stay in our upload folder unseen. It gets a run on this host's
          // queue instead, which finds the twin's delivery and sets the copy aside here (a DUPLICATE). Only in this
          // rare case does a submit cost a describe.
          const twin = await client.workflow
            .getHandle(workflowId)
            .describe()
            .catch((err: unknown) => (err instanceof WorkflowNotFoundError ? undefined : Promise.reject(err)));
          if (twin?.status.name === 'RUNNING' && twin.taskQueue !== input.fileTaskQueue) {
            workflowId = fileWorkflowIdOnHost(input.sha256, input.fileTaskQueue);
            continue;
          }
        }
        if ((await workflows.announceCopy(workflowId, copy)) === 'delivered') return { kind: 'copy-of-running', workflowId };
      }
      throw new Error(`Could not hand ${workflowId} to Temporal after ${SUBMIT_ATTEMPTS} attempts (it kept starting and closing).`);
    },

    // No run ID: the copy belongs to whichever run of this content is under way now.
    announceCopy: (workflowId, copy) => unlessClosed(() => client.workflow.getHandle(workflowId).signal(copyUploadedSignal, copy)),

    retry: (run) => unlessClosed(() => client.workflow.getHandle(run.workflowId, run.runId).signal(retrySignal)),

    deliverReceipt: (run, evidence) => unlessClosed(() => client.workflow.getHandle(run.workflowId, run.runId).signal(accessedSignal, evidence)),

    startResend: (workflowId, input) =>
      unlessAlreadyStarted(() =>
        client.workflow.start<typeof resendFile>(WORKFLOW_TYPES.resendFile, {
          taskQueue: SHARED_TASK_QUEUE,
          workflowId,
          args: [input],
          typedSearchAttributes: [{ key: FILE_ID_KEY, value: input.resultFileId }],
          // The ID carries the page's event count, so a second press of the same button is refused, not repeated.
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
        }),
      ),

    startWithdraw: (workflowId, input) =>
      unlessAlreadyStarted(() =>
        client.workflow.start<typeof withdrawFile>(WORKFLOW_TYPES.withdrawFile, {
          taskQueue: SHARED_TASK_QUEUE,
          workflowId,
          args: [input],
          typedSearchAttributes: [{ key: FILE_ID_KEY, value: input.resultFileId }],
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
        }),
      ),

    async awaitWithdraw(workflowId, timeoutMs) {
      const ended = client.workflow
        .getHandle(workflowId)
        .result()
        .then(
          () => 'withdrawn' as const,
          () => 'refused' as const,
        );
      const outcome = await within(ended, timeoutMs);
      return outcome === 'late' ? 'pending' : outcome;
    },

    fetchArchivedPdf: (taskQueue, input, waitMs) => handover<Awaited<ReturnType<typeof fetchArchivedPdf>>>(WORKFLOW_TYPES.fetchArchivedPdf, taskQueue, input, waitMs),

    placeWebUpload: (taskQueue, input, waitMs) => handover<Awaited<ReturnType<typeof placeWebUpload>>>(WORKFLOW_TYPES.placeWebUpload, taskQueue, input, waitMs),

    ensureLogScanSchedule: (interval) => ensureLogScanSchedule(client.schedule, interval),

    ensureAlertSchedule: (interval) => ensureAlertSchedule(client.schedule, interval),

    async pendingActivities(run) {
      const description = await client.workflow.getHandle(run.workflowId, run.runId).describe();
      // Our failure messages travel encrypted (encodeCommonAttributes): the raw message is a placeholder until the
      // client's own converter and codec decode it.
      return Promise.all(
        (description.raw.pendingActivities ?? []).map(async (a) => ({
          activityType: a.activityType?.name ?? undefined,
          attempt: a.attempt ?? 0,
          lastFailureMessage: (await decodeOptionalFailureToOptionalError(client.options.loadedDataConverter, a.lastFailure))?.message ?? undefined,
        })),
      );
    },

    async checkHealth() {
      await client.workflowService.getSystemInfo({});
    },

    async isQueueServed(taskQueue) {
      const { pollers } = await client.workflowService.describeTaskQueue({
        namespace: client.options.namespace,
        taskQueue: { name: taskQueue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
        taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
      });
      const since = Date.now() / 1000 - QUEUE_SERVED_WINDOW_S;
      return pollers.some((p) => Number(p.lastAccessTime?.seconds ?? 0) >= since);
    },
  };
  return workflows;
}
