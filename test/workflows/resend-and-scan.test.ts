import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import type { DeliveryResult } from '../../src/transfer/destination';
import type { ResendFileInput, WithdrawFileInput } from '../../src/workflows/definitions';
import type { resendFile } from '../../src/workflows/resend-file';
import type { scanAccessLog } from '../../src/workflows/scan-access-log';
import type { sweepAlerts } from '../../src/workflows/sweep-alerts';
import type { withdrawFile } from '../../src/workflows/withdraw-file';
import type { distributeFileV3 } from '../../src/workflows/distribute-file-v2';
import type { fetchArchivedPdf, placeWebUpload } from '../../src/workflows/host-handover';
import { accessedSignal, statusQuery, withdrawnSignal } from '../../src/workflows/definitions';
import { waitFor } from '../harness/wait-for';
import type { ScanSummary } from '../../src/activities/log-scan-activities';
import { FAKE_CLINIC_FOLDER, FAKE_RESULT_FILE_ID, distributeInput, fakeActivities } from './fake-activities';
import { startWorkflowTestEnv, type WorkflowTestEnv } from './workflow-env';

jest.setTimeout(60_000);

let env: WorkflowTestEnv;
beforeAll(async () => {
  env = await startWorkflowTestEnv();
});
afterAll(async () => {
  await env?.close();
});

const FILE_NAME = '066-99000001-3.pdf';

function resendInput(taskQueue: string): ResendFileInput {
  return {
    resultFileId: FAKE_RESULT_FILE_ID,
    archivePath: `/data/archive/2026/12/01/${FILE_NAME}`,
    fileName: FILE_NAME,
    sha256: 'cd'.repeat(32),
    sizeBytes: 4321,
    folder: FAKE_CLINIC_FOLDER,
    fileTaskQueue: taskQueue,
    actor: 'tech1',
  };
}

describe('resendFile', () => {
  test('sends the archived copy and records RESENT with the delivery', async () => {
    const delivery: DeliveryResult = { remotePath: `${FAKE_CLINIC_FOLDER}/${FILE_NAME}`, renamedBecauseOfConflict: false, alreadyPresent: true, verifiedBy: 'read-back' };
    const fakes = fakeActivities({ transferFile: async () => delivery });
    const { result, workflowId } = await env.withWorker(fakes, async (taskQueue) => {
      const handle = await env.client.workflow.start<typeof resendFile>('resendFile', {
        taskQueue,
        workflowId: env.workflowId('resend'),
        args: [resendInput(taskQueue)],
      });
      const outcome = await handle.result();
      await env.recordHistory(handle, 'resend-file-sent');
      return { result: outcome, workflowId: handle.workflowId };
    });
    expect(result).toEqual(delivery);
    expect(fakes.inputsTo('transferFile')[0]).toMatchObject({ uploadPath: `/data/archive/2026/12/01/${FILE_NAME}`, folder: FAKE_CLINIC_FOLDER });
    expect(fakes.inputsTo('recordResent')).toEqual([
      { resultFileId: FAKE_RESULT_FILE_ID, resendId: workflowId, actor: 'tech1', destination: FAKE_CLINIC_FOLDER, delivery },
    ]);
  });

  test('a failed resend is recorded with its reason, and the workflow fails naming no file', async () => {
    const fakes = fakeActivities({
      transferFile: async () => {
        throw ApplicationFailure.nonRetryable('Server B presented a different host key.', 'HostKeyRejected');
      },
    });
    const failure = await env.withWorker(fakes, async (taskQueue) => {
      const handle = await env.client.workflow.start<typeof resendFile>('resendFile', {
        taskQueue,
        workflowId: env.workflowId('resend'),
        args: [resendInput(taskQueue)],
      });
      const error = await handle.result().then(
        () => undefined,
        (err: unknown) => err,
      );
      await env.recordHistory(handle, 'resend-file-failed');
      return error;
    });
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const cause = (failure as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe('ResendFailed');
    expect(cause?.message).not.toContain(FILE_NAME);
    expect(fakes.inputsTo('recordResent')).toEqual([
      expect.objectContaining({ failure: { type: 'HostKeyRejected', message: 'Server B presented a different host key.' } }),
    ]);
  });
});

describe('scanAccessLog', () => {
  test('runs one scan under its own workflow and run id and returns its counters', async () => {
    const summary: ScanSummary = {
      source: 'access.log',
      bytesRead: 2048,
      linesRead: 10,
      hits: 3,
      acknowledged: 2,
      unknownHits: 1,
      foreignHits: 0,
      parseErrors: 0,
      notes: ['rotated: finished access.log.1 first'],
    };
    const fakes = fakeActivities({ scanAccessLogOnce: async () => summary });
    const { result, ids } = await env.withWorker(fakes, async (taskQueue) => {
      const handle = await env.client.workflow.start<typeof scanAccessLog>('scanAccessLog', { taskQueue, workflowId: env.workflowId('log-scan'), args: [] });
      const outcome = await handle.result();
      await env.recordHistory(handle, 'scan-access-log');
      return { result: outcome, ids: { workflowId: handle.workflowId, runId: handle.firstExecutionRunId } };
    });
    expect(result).toEqual(summary);
    expect(fakes.inputsTo('scanAccessLogOnce')).toEqual([ids]);
  });
});

describe('sweepAlerts', () => {
  test('records what needs a person, then tells the channels, and returns the counts', async () => {
    const fakes = fakeActivities({
      raiseAlerts: async () => ({ found: 4, raised: 3 }),
      sendAlerts: async () => [
        { channel: 'email', alerts: 3, sent: true },
        { channel: 'webhook', alerts: 3, sent: true },
      ],
    });
    const result = await env.withWorker(fakes, async (taskQueue) => {
      const handle = await env.client.workflow.start<typeof sweepAlerts>('sweepAlerts', { taskQueue, workflowId: env.workflowId('alert-sweep'), args: [] });
      const outcome = await handle.result();
      await env.recordHistory(handle, 'sweep-alerts');
      return outcome;
    });
    expect(result).toEqual({ found: 4, raised: 3, sent: 6 });
    expect(fakes.namesCalled()).toEqual(['raiseAlerts', 'sendAlerts']);
  });
});

describe('withdrawFile', () => {
  const withdrawInput = (taskQueue: string, fileWorkflowId: string): WithdrawFileInput => ({
    resultFileId: FAKE_RESULT_FILE_ID,
    fileWorkflowId,
    remotePath: `${FAKE_CLINIC_FOLDER}/${FILE_NAME}`,
    sha256: 'ab'.repeat(32),
    sizeBytes: 4321,
    fileTaskQueue: taskQueue,
    withdrawalId: 'w-41-7',
    actor: 'tech1',
    reason: 'sent to the wrong clinic',
  });
  const fileInput = (taskQueue: string) => distributeInput(taskQueue);

  test('moves the file aside, records WITHDRAWN, and ends the file\'s run waiting for the clinic\'s fetch', async () => {
    const fakes = fakeActivities();
    const { result, fileStatus } = await env.withWorker(fakes, async (taskQueue) => {
      const file = await env.client.workflow.start<typeof distributeFileV3>('distributeFileV3', { taskQueue, workflowId: env.workflowId('file'), args: [fileInput(taskQueue)] });
      await waitFor('the file to wait for its fetch', async () => (await file.query(statusQuery)).state === 'AWAITING_ACK');
      const handle = await env.client.workflow.start<typeof withdrawFile>('withdrawFile', { taskQueue, workflowId: env.workflowId('withdraw'), args: [withdrawInput(taskQueue, file.workflowId)] });
      const outcome = await handle.result();
      const status = await file.result();
      await env.recordHistory(handle, 'withdraw-file-moved');
      await env.recordHistory(file, 'distribute-file-v3-withdrawn');
      return { result: outcome, fileStatus: status };
    });
    expect(result).toEqual({ outcome: 'moved', movedTo: `.withdrawn/${FAKE_CLINIC_FOLDER}/${FILE_NAME}.w-41-7` });
    expect(fakes.inputsTo('withdrawDelivered')).toEqual([{ remotePath: `${FAKE_CLINIC_FOLDER}/${FILE_NAME}`, sha256: 'ab'.repeat(32), size: 4321, withdrawalId: 'w-41-7' }]);
    expect(fakes.inputsTo('recordWithdrawn')).toEqual([
      { resultFileId: FAKE_RESULT_FILE_ID, withdrawalId: 'w-41-7', actor: 'tech1', reason: 'sent to the wrong clinic', outcome: 'moved', movedTo: `.withdrawn/${FAKE_CLINIC_FOLDER}/${FILE_NAME}.w-41-7` },
    ]);
    expect(fileStatus).toMatchObject({ state: 'WITHDRAWN' });
    expect(fakes.namesCalled()).not.toContain('recordUnacknowledged');
  });

  test('another file at the path: nothing moved, the refusal recorded, the workflow fails as WithdrawRefused', async () => {
    const fakes = fakeActivities({
      withdrawDelivered: async () => {
        throw ApplicationFailure.nonRetryable('Another file now holds it on server B (not the one we sent), so nothing was moved.', 'WithdrawRefused');
      },
    });
    const failure = await env.withWorker(fakes, async (taskQueue) => {
      const handle = await env.client.workflow.start<typeof withdrawFile>('withdrawFile', { taskQueue, workflowId: env.workflowId('withdraw'), args: [withdrawInput(taskQueue, 'file-gone')] });
      const err = await handle.result().then(() => undefined, (e: unknown) => e);
      await env.recordHistory(handle, 'withdraw-file-refused');
      return err;
    });
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect(((failure as WorkflowFailedError).cause as ApplicationFailure).type).toBe('WithdrawRefused');
    expect(fakes.inputsTo('recordWithdrawRefused')).toEqual([
      { resultFileId: FAKE_RESULT_FILE_ID, withdrawalId: 'w-41-7', actor: 'tech1', message: 'Another file now holds it on server B (not the one we sent), so nothing was moved.' },
    ]);
    expect(fakes.namesCalled()).not.toContain('recordWithdrawn');
  });

  test('a withdrawn signal the ledger does not back is refused: the file waits on, and a real fetch acknowledges it', async () => {
    const fakes = fakeActivities({ isWithdrawn: async () => false });
    const status = await env.withWorker(fakes, async (taskQueue) => {
      const file = await env.client.workflow.start<typeof distributeFileV3>('distributeFileV3', { taskQueue, workflowId: env.workflowId('file'), args: [fileInput(taskQueue)] });
      await waitFor('the file to wait for its fetch', async () => (await file.query(statusQuery)).state === 'AWAITING_ACK');
      await file.signal(withdrawnSignal);
      await waitFor('the claim to be refused', () => fakes.inputsTo('recordRefusedMessage').length === 1);
      expect((await file.query(statusQuery)).state).toBe('AWAITING_ACK');
      await file.signal(accessedSignal, { evidenceKey: 'log:1:1', accessedAt: '2026-12-02T10:00:00.000Z', client: '10.0.0.5', requestLine: 'GET /x HTTP/1.1', status: 200 });
      return file.result();
    });
    expect(status).toMatchObject({ state: 'ACKNOWLEDGED' });
    expect(fakes.inputsTo('recordRefusedMessage')[0]).toMatchObject({ what: 'withdrawn signal', reason: 'it claimed a withdrawal that the ledger does not hold' });
  });
});

describe('the handovers between the web page and an upload host', () => {
  const handoverId = '0b7e4c1a-2f3d-4e5a-9b8c-7d6e5f4a3b2c';

  test('fetchArchivedPdf asks its host for the file the page named and answers what the host did', async () => {
    const fakes = fakeActivities({ handOverArchivedPdf: async () => ({ outcome: 'too-large', sizeBytes: 999_999_999 }) });
    const result = await env.withWorker(fakes, async (taskQueue) => {
      const handle = await env.client.workflow.start<typeof fetchArchivedPdf>('fetchArchivedPdf', {
        taskQueue,
        workflowId: env.workflowId('handover'),
        args: [{ handoverId, resultFileId: FAKE_RESULT_FILE_ID }],
      });
      const outcome = await handle.result();
      await env.recordHistory(handle, 'fetch-archived-pdf');
      return outcome;
    });
    expect(result).toEqual({ outcome: 'too-large', sizeBytes: 999_999_999 });
    expect(fakes.inputsTo('handOverArchivedPdf')).toEqual([{ handoverId, resultFileId: FAKE_RESULT_FILE_ID }]);
  });

  test('placeWebUpload asks its host to place the upload of that handover', async () => {
    const fakes = fakeActivities({ placeWebUpload: async () => ({ outcome: 'name-taken' }) });
    const result = await env.withWorker(fakes, async (taskQueue) => {
      const handle = await env.client.workflow.start<typeof placeWebUpload>('placeWebUpload', { taskQueue, workflowId: env.workflowId('handover'), args: [{ handoverId }] });
      const outcome = await handle.result();
      await env.recordHistory(handle, 'place-web-upload');
      return outcome;
    });
    expect(result).toEqual({ outcome: 'name-taken' });
    expect(fakes.inputsTo('placeWebUpload')).toEqual([{ handoverId }]);
  });

  test.each([
    ['fetchArchivedPdf', { handoverId: '../../etc/passwd', resultFileId: FAKE_RESULT_FILE_ID }],
    ['fetchArchivedPdf', { handoverId }],
    ['placeWebUpload', { handoverId, resultFileId: FAKE_RESULT_FILE_ID }],
  ] as const)('%s started with an input that is not ours (%j) is recorded and does nothing', async (type, input) => {
    const fakes = fakeActivities();
    const failure = await env.withWorker(fakes, async (taskQueue) => {
      const handle = await env.client.workflow.start(type, { taskQueue, workflowId: env.workflowId('handover'), args: [input] });
      const err = await handle.result().then(() => undefined, (e: unknown) => e);
      if (type === 'fetchArchivedPdf' && !('resultFileId' in input)) await env.recordHistory(handle, 'fetch-archived-pdf-refused');
      return err;
    });
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect(((failure as WorkflowFailedError).cause as ApplicationFailure).type).toBe('RefusedInput');
    expect(fakes.namesCalled()).toEqual(['recordRefusedMessage']);
    expect(fakes.inputsTo('recordRefusedMessage')[0]).toMatchObject({ what: type === 'fetchArchivedPdf' ? 'PDF view' : 'web upload', reason: expect.stringContaining('it is not the input of a') });
  });
});
