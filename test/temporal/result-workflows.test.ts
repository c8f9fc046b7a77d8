import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { connectResultWorkflows, resultWorkflowsOn } from '../../src/temporal/client';
import { encryptingDataConverter } from '../../src/temporal/data-converter';
import { AesGcmPayloadCodec } from '../../src/temporal/payload-codec';
import type { ResultWorkflows, WorkflowRun } from '../../src/temporal/result-workflows';
import { connectForWorkers } from '../../src/workers/worker';
import type { DistributeFileInput } from '../../src/workflows/definitions';
import { LOG_SCAN_SCHEDULE_ID, fileWorkflowId, resendWorkflowId } from '../../src/workflows/names';
import type { ResendFileInput } from '../../src/workflows/definitions';
import { startTestTemporal, type TestTemporal } from '../harness/temporal';
import { waitFor } from '../harness/wait-for';
import { fakeActivities } from '../workflows/fake-activities';
import { bundleWorkflows } from '../workflows/workflow-env';
import { Worker } from '@temporalio/worker';
import { SHARED_TASK_QUEUE } from '../../src/workflows/definitions';
import { FILE_ID_KEY } from '../../src/workflows/search-attributes';

/*
 * ResultWorkflows against a real dev server, with no worker: a started workflow then stays running, which is all the
 * start/signal/closed branches need. Each case runs over a plain client Connection (watch, web, CLI) and over a
 * worker's NativeConnection (start, worker), since the SDK's errors must be told apart the same way on both.
 */

const payloadCodec = new AesGcmPayloadCodec({ currentKeyId: 'test', keys: new Map([['test', randomBytes(32)]]) });
let temporal: TestTemporal;
/** Reads and ends workflows behind the module's back; on its own connection. */
let inspector: Client;
let inspectorConnection: Connection;

beforeAll(async () => {
  temporal = await startTestTemporal();
  inspectorConnection = await Connection.connect({ address: temporal.address });
  inspector = new Client({ connection: inspectorConnection, dataConverter: encryptingDataConverter(payloadCodec) });
}, 120_000);
afterAll(async () => {
  await inspectorConnection?.close();
  await temporal?.cleanup();
});

let n = 0;
function upload(): DistributeFileInput {
  const sha256 = randomBytes(32).toString('hex');
  const fileName = `066-1200000${++n}-3.pdf`;
  return {
    uploadPath: `/upload/${fileName}`,
    fileName,
    sha256,
    sizeBytes: 100,
    fileTaskQueue: 'getresults-files-nowhere',
    uploadedAt: new Date().toISOString(),
    ackTimeout: '30d',
    blockedRetryInterval: '1h',
  };
}

async function runOf(workflowId: string): Promise<WorkflowRun> {
  return { workflowId, runId: (await inspector.workflow.getHandle(workflowId).describe()).runId };
}

async function signalNames(run: WorkflowRun): Promise<string[]> {
  const history = await inspector.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
  return (history.events ?? []).flatMap((e) => (e.workflowExecutionSignaledEventAttributes?.signalName ? [e.workflowExecutionSignaledEventAttributes.signalName] : []));
}

/** The lab and host the process submits for: the file workflow starts with them as search attributes. */
const UPLOAD_HOST = { lab: 'north-lab', host: 'bench-2' };

const terminate = (run: WorkflowRun) => inspector.workflow.getHandle(run.workflowId, run.runId).terminate('test');

const connections: Array<[string, () => Promise<{ workflows: ResultWorkflows; close: () => Promise<void> }>]> = [
  [
    'a client Connection',
    () => connectResultWorkflows({ endpoint: { address: temporal.address, tls: false }, namespace: 'default', payloadCodec }, 'test', { uploadHost: UPLOAD_HOST }),
  ],
  [
    "a worker's NativeConnection",
    async () => {
      const connection = await connectForWorkers({ address: temporal.address, tls: false }, 'test');
      return { workflows: resultWorkflowsOn(connection, { namespace: 'default', payloadCodec }, { uploadHost: UPLOAD_HOST }), close: () => connection.close() };
    },
  ],
];

describe.each(connections)('ResultWorkflows on %s', (_name, connect) => {
  let workflows: ResultWorkflows;
  let close: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    ({ workflows, close } = await connect());
  });
  afterAll(() => close?.());

  it('answers the health check', async () => {
    await expect(workflows.checkHealth()).resolves.toBeUndefined();
  });

  it('starts one workflow per content, announces a copy to a running twin, and starts again once the twin closed', async () => {
    const first = upload();
    const workflowId = fileWorkflowId(first.sha256);
    expect(await workflows.submitFile(first)).toEqual({ kind: 'started', workflowId });
    const copy = { ...first, uploadPath: '/upload/copy.pdf', fileName: 'copy.pdf' };
    expect(await workflows.submitFile(copy)).toEqual({ kind: 'copy-of-running', workflowId });
    const firstRun = await runOf(workflowId);
    expect(await signalNames(firstRun)).toEqual(['copyUploaded']);
    // New files run the current workflow version on the queue of the host that holds them.
    const described = await inspector.workflow.getHandle(workflowId, firstRun.runId).describe();
    expect({ type: described.type, taskQueue: described.taskQueue }).toEqual({ type: 'distributeFileV4', taskQueue: first.fileTaskQueue });
    // What an operator filters by in the Temporal UI: the state as started, the lab and the host (no file name).
    expect(Object.fromEntries(described.typedSearchAttributes.getAll().map(({ key, value }) => [key.name, value]))).toEqual({
      GetresultsState: 'RECEIVED',
      GetresultsLab: 'north-lab',
      GetresultsHost: 'bench-2',
    });

    await terminate(firstRun);
    expect(await workflows.announceCopy(workflowId, copy)).toBe('closed');
    expect(await workflows.submitFile(copy)).toEqual({ kind: 'started', workflowId });
    expect((await runOf(workflowId)).runId).not.toBe(firstRun.runId);
    await terminate(await runOf(workflowId));
  });

  it('wakes a waiting run and delivers receipts to it; a closed run is reported, not thrown', async () => {
    const input = upload();
    const { workflowId } = await workflows.submitFile(input);
    const run = await runOf(workflowId);
    const evidence = { evidenceKey: `k${n}`, accessedAt: new Date().toISOString(), client: '10.0.0.1', requestLine: 'GET /x.pdf' };
    expect(await workflows.retry(run)).toBe('delivered');
    expect(await workflows.deliverReceipt(run, evidence)).toBe('delivered');
    expect(await signalNames(run)).toEqual(['retry', 'accessed']);
    // Not yet picked up by a worker: nothing is running, so nothing is retrying.
    expect(await workflows.pendingActivities(run)).toEqual([]);

    await terminate(run);
    expect(await workflows.retry(run)).toBe('closed');
    expect(await workflows.deliverReceipt(run, evidence)).toBe('closed');
    await expect(workflows.pendingActivities({ workflowId: 'file-none', runId: run.runId })).rejects.toThrow();
  });

  it('starts a resend once for one ID', async () => {
    const sha256 = randomBytes(32).toString('hex');
    const input: ResendFileInput = {
      resultFileId: 1,
      archivePath: '/archive/x.pdf',
      fileName: 'x.pdf',
      sha256,
      sizeBytes: 100,
      folder: 'clinic',
      fileTaskQueue: 'getresults-files-nowhere',
      actor: 'tom',
    };
    const workflowId = resendWorkflowId(sha256, 3);
    expect(await workflows.startResend(workflowId, input)).toBe('started');
    // Found in the UI beside the file's own run by its database id.
    expect((await inspector.workflow.getHandle(workflowId).describe()).typedSearchAttributes.get(FILE_ID_KEY)).toBe(1);
    expect(await workflows.startResend(workflowId, input)).toBe('already-started');
    // REJECT_DUPLICATE: not even after the first closed.
    await terminate(await runOf(workflowId));
    expect(await workflows.startResend(workflowId, input)).toBe('already-started');
  });

  it('creates the log-scan Schedule, then updates it', async () => {
    expect(await workflows.ensureLogScanSchedule('5m')).toBe('created');
    expect(await workflows.ensureLogScanSchedule('7m')).toBe('updated');
    const schedule = inspector.schedule.getHandle(LOG_SCAN_SCHEDULE_ID);
    const description = await schedule.describe();
    expect(description.action).toMatchObject({ type: 'startWorkflow', workflowType: 'scanAccessLog' });
    expect(description.spec.intervals?.[0]?.every).toBe(7 * 60 * 1000);
    await schedule.delete();
  });
});

describe('pendingActivities on a real retrying activity', () => {
  it("reports the attempt and the last failure's own message, decoded from its encrypted form", async () => {
    const fakes = fakeActivities({
      transferFile: async () => {
        throw new Error('Connection refused by server B');
      },
    });
    const connection = await connectForWorkers({ address: temporal.address, tls: false }, 'test');
    const { workflows, close } = await connectResultWorkflows({ endpoint: { address: temporal.address, tls: false }, namespace: 'default', payloadCodec }, 'test');
    // One worker for the resend workflow and its transfer: the input names the shared queue as the file's host queue.
    const worker = await Worker.create({
      connection,
      taskQueue: SHARED_TASK_QUEUE,
      workflowBundle: await bundleWorkflows(),
      activities: fakes.activities,
      dataConverter: encryptingDataConverter(payloadCodec),
    });
    try {
      await worker.runUntil(async () => {
        const sha256 = randomBytes(32).toString('hex');
        const workflowId = resendWorkflowId(sha256, 1);
        const input: ResendFileInput = { resultFileId: 1, archivePath: '/archive/x.pdf', fileName: 'x.pdf', sha256, sizeBytes: 100, folder: 'clinic', fileTaskQueue: SHARED_TASK_QUEUE, actor: 'tom' };
        expect(await workflows.startResend(workflowId, input)).toBe('started');
        const run = await runOf(workflowId);
        const retrying = await waitFor('the transfer to be retried', async () => (await workflows.pendingActivities(run)).find((a) => a.attempt >= 2));
        expect(retrying).toEqual({ activityType: 'transferFile', attempt: expect.any(Number), lastFailureMessage: 'Connection refused by server B' });
        // Stored encrypted all the same: Temporal itself holds only the placeholder.
        const raw = await inspector.workflowService.describeWorkflowExecution({ namespace: 'default', execution: run });
        expect(raw.pendingActivities?.[0]?.lastFailure?.message).not.toContain('server B');
        await terminate(run);
      });
    } finally {
      await close();
      await connection.close();
    }
  }, 60_000);
});
