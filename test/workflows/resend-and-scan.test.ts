import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import type { DeliveryResult } from '../../src/transfer/destination';
import type { ResendFileInput, resendFile } from '../../src/workflows/resend-file';
import type { scanAccessLog } from '../../src/workflows/scan-access-log';
import type { ScanSummary } from '../../src/activities/log-scan-activities';
import { FAKE_CLINIC_FOLDER, FAKE_RESULT_FILE_ID, fakeActivities } from './fake-activities';
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
