import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { defineSignal } from '@temporalio/workflow';
import { QUICK_SEND_DEFAULT_MAX_BYTES } from '../../src/activities/file-steps';
import type { DeliveryResult } from '../../src/transfer/destination';
import {
  accessedSignal,
  copyUploadedSignal,
  retrySignal,
  statusQuery,
  type FetchEvidence,
  type DistributeFileInput,
  type FileStatus,
} from '../../src/workflows/definitions';
import type { distributeFile } from '../../src/workflows/distribute-file';
import type { distributeFileV2, distributeFileV3, distributeFileV4 } from '../../src/workflows/distribute-file-v2';
import { FILE_ID_KEY, FILE_STATE_KEY } from '../../src/workflows/search-attributes';
import type { FileState } from '../../src/domain/file-state';
import { UNENCRYPTED_PAYLOAD_KEY } from '../../src/workflows/untrusted-messages';
import { waitFor } from '../harness/wait-for';
import { FAKE_CLINIC_FOLDER, FAKE_FILE_NAME, FAKE_RESULT_FILE_ID, FAKE_UPLOAD_PATH, distributeInput, fakeActivities, inTurn, type ActivityName } from './fake-activities';
import { startWorkflowTestEnv, type WorkflowTestEnv } from './workflow-env';

jest.setTimeout(60_000);

let env: WorkflowTestEnv;
beforeAll(async () => {
  env = await startWorkflowTestEnv();
});
afterAll(async () => {
  await env?.close();
});

const FILE_NAME = FAKE_FILE_NAME;
const UPLOAD_PATH = FAKE_UPLOAD_PATH;
const inputFor = distributeInput;

function evidence(key: string, accessedAt: string): FetchEvidence {
  return { evidenceKey: key, accessedAt, client: '10.20.0.5', requestLine: `GET /results/${FAKE_CLINIC_FOLDER}/${FILE_NAME} HTTP/1.1`, status: 200 };
}

function delivered(folder = FAKE_CLINIC_FOLDER): DeliveryResult {
  return { remotePath: `${folder}/${FILE_NAME}`, renamedBecauseOfConflict: false, alreadyPresent: false, verifiedBy: 'remote-sha256sum' };
}


function stateIs(handle: WorkflowHandle, state: FileState): Promise<FileStatus> {
  return waitFor(`state ${state}`, async () => {
    const status = await handle.query(statusQuery);
    return status.state === state && status;
  });
}

/** The replay corpus's file name prefix of a file workflow type: distributeFileV4 -> distribute-file-v4. */
function historyPrefixOf(workflowType: string): string {
  return workflowType.replace(/^distributeFile/, 'distribute-file').replace(/V(\d+)$/, '-v$1');
}

/** A step that does not finish until the test lets it: signals sent meanwhile are all waiting when it does. */
function gate(): { wait: Promise<void>; open(): void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

/**
 * The types live side by side until the last run of the older ones has closed (docs/workflow-versioning.md), so all
 * pass every scenario: the same states, reasons and activity calls in the same order. v2 packs the calls into fewer
 * local steps; v3 also tries a small file's transfer once within its first step (a quick send): when that fails, the
 * transfer activity makes the attempts v1 makes, so the transfer is called once more.
 */
describe.each([
  ['distributeFile', 'distribute-file', 0],
  ['distributeFileV2', 'distribute-file-v2', 0],
  ['distributeFileV3', 'distribute-file-v3', 1],
  ['distributeFileV4', 'distribute-file-v4', 1],
] as const)('%s', (workflowType, historyPrefix, quickSends) => {
  async function start(taskQueue: string, overrides: Partial<DistributeFileInput> = {}) {
    // v2 runs on the upload host's queue; here the test's one queue serves both roles.
    return env.client.workflow.start<typeof distributeFile | typeof distributeFileV2 | typeof distributeFileV3 | typeof distributeFileV4>(workflowType, {
      taskQueue,
      workflowId: env.workflowId('file'),
      args: [inputFor(taskQueue, overrides)],
    });
  }

  test('ACKNOWLEDGED: validated, routed, sent, archived, then the first fetch acknowledges it', async () => {
    const fakes = fakeActivities();
    const result = await env.withWorker(fakes, async (taskQueue) => {
      const handle = await start(taskQueue);
      await stateIs(handle, 'AWAITING_ACK');
      // What a deployment holds for up to 30 days: runs waiting for the clinic's fetch.
      await env.recordHistory(handle, `${historyPrefix}-waiting-for-ack`);
      await handle.signal(accessedSignal, evidence('log:1:100', '2026-12-02T09:00:00.000Z'));
      const status = await handle.result();
      await env.recordHistory(handle, `${historyPrefix}-acknowledged`);
      return status;
    });
    expect(result).toMatchObject({
      state: 'ACKNOWLEDGED',
      resultFileId: FAKE_RESULT_FILE_ID,
      clinicFolder: FAKE_CLINIC_FOLDER,
      remotePath: `${FAKE_CLINIC_FOLDER}/${FILE_NAME}`,
      archivePath: `/data/archive/${FILE_NAME}`,
      acknowledgedAt: '2026-12-02T09:00:00.000Z',
      accesses: 1,
    });
    // A quick send (v3) archives the original before it records the check, route, delivery and archive at once.
    const delivery: ActivityName[] = quickSends ? ['archiveOriginal', 'recordSent'] : ['recordSent', 'archiveOriginal', 'recordArchived'];
    expect(fakes.namesCalled()).toEqual(['registerUpload', 'validateUpload', 'routeFile', 'transferFile', ...delivery, 'recordAccesses']);
    expect(fakes.inputsTo('transferFile')[0]).toMatchObject({ uploadPath: UPLOAD_PATH, folder: FAKE_CLINIC_FOLDER, sizeBytes: 4321 });
    expect(fakes.inputsTo('recordAccesses')[0]).toEqual({ resultFileId: FAKE_RESULT_FILE_ID, accesses: [evidence('log:1:100', '2026-12-02T09:00:00.000Z')] });
  });

  test('ACKNOWLEDGED: fetches that arrive together are recorded once each, and the earliest is the acknowledgement', async () => {
    const transfer = gate();
    const fakes = fakeActivities({
      transferFile: async (input) => {
        await transfer.wait;
        return delivered(input.folder);
      },
    });
    const result = await env.withWorker(fakes, async (taskQueue) => {
      const handle = await start(taskQueue);
      await waitFor('the transfer to start', () => fakes.namesCalled().includes('transferFile'));
      await handle.signal(accessedSignal, evidence('log:1:200', '2026-12-02T10:00:00.000Z'));
      await handle.signal(accessedSignal, evidence('log:1:200', '2026-12-02T10:00:00.000Z'));
      await handle.signal(accessedSignal, evidence('log:1:100', '2026-12-02T09:00:00.000Z'));
      transfer.open();
      return handle.result();
    });
    expect(result).toMatchObject({ state: 'ACKNOWLEDGED', accesses: 2, acknowledgedAt: '2026-12-02T09:00:00.000Z' });
    const recorded = fakes.inputsTo('recordAccesses');
    expect(recorded).toHaveLength(1);
    expect(recorded[0].accesses.map((a) => a.evidenceKey)).toEqual(['log:1:200', 'log:1:100']);
  });

  test('UNACKNOWLEDGED: nobody fetches it before the acknowledgement timeout', async () => {
    const fakes = fakeActivities();
    const result = await env.withWorker(fakes, async (taskQueue) => {
      const handle = await start(taskQueue, { ackTimeout: '2s' });
      const status = await handle.result();
      await env.recordHistory(handle, `${historyPrefix}-unacknowledged`);
      return status;
    });
    expect(result).toMatchObject({ state: 'UNACKNOWLEDGED', reason: 'Not fetched within 2s.', accesses: 0 });
    expect(fakes.inputsTo('recordUnacknowledged')).toEqual([{ resultFileId: FAKE_RESULT_FILE_ID, runId: expect.any(String), ackTimeout: '2s' }]);
    expect(fakes.namesCalled().slice(-2)).toEqual([quickSends ? 'recordSent' : 'recordArchived', 'recordUnacknowledged']);
  });

  test('REJECTED: an invalid file is quarantined with its reason and never sent', async () => {
    const reason = 'The identifier 066-99000001-3 from the file name does not appear in the PDF text.';
    const fakes = fakeActivities({
      validateUpload: async () => ({ outcome: 'rejected', result: { ok: false, code: 'IDENTIFIER_NOT_IN_TEXT', reason } }),
    });
    const result = await env.withWorker(fakes, async (taskQueue) => {
      const handle = await start(taskQueue);
      const status = await handle.result();
      await env.recordHistory(handle, `${historyPrefix}-rejected`);
      return status;
    });
    expect(result).toMatchObject({ state: 'REJECTED', reason, archivePath: `/data/rejected/${FILE_NAME}` });
    expect(fakes.namesCalled()).toEqual(['registerUpload', 'validateUpload', 'quarantineRejected', 'recordRejected']);
    expect(fakes.inputsTo('quarantineRejected')[0]).toMatchObject({ uploadPath: UPLOAD_PATH, code: 'IDENTIFIER_NOT_IN_TEXT', reason });
    expect(fakes.inputsTo('recordRejected')[0]).toMatchObject({ code: 'IDENTIFIER_NOT_IN_TEXT', reason, rejectedPath: `/data/rejected/${FILE_NAME}` });
  });

  test('SUPERSEDED: the file changed after pick-up, found by the check', async () => {
    const reason = 'The file changed after it was picked up; its new content is handled separately.';
    const fakes = fakeActivities({ validateUpload: async () => ({ outcome: 'superseded', reason }) });
    const result = await env.withWorker(fakes, async (taskQueue) => {
      const handle = await start(taskQueue);
      const status = await handle.result();
      await env.recordHistory(handle, `${historyPrefix}-superseded-at-check`);
      return status;
    });
    expect(result).toMatchObject({ state: 'SUPERSEDED', reason });
    expect(fakes.namesCalled()).toEqual(['registerUpload', 'validateUpload', 'recordSuperseded']);
  });

  test('SUPERSEDED: the file was replaced before the transfer, which refuses to send it', async () => {
    const reason = 'The file was replaced after it was checked; this version was not sent.';
    const fakes = fakeActivities({
      transferFile: async () => {
        throw ApplicationFailure.nonRetryable(reason, 'FileSuperseded');
      },
    });
    const result = await env.withWorker(fakes, async (taskQueue) => {
      const handle = await start(taskQueue);
      const status = await handle.result();
      await env.recordHistory(handle, `${historyPrefix}-superseded-at-transfer`);
      return status;
    });
    expect(result).toMatchObject({ state: 'SUPERSEDED', reason, clinicFolder: FAKE_CLINIC_FOLDER });
    // A failed quick send leaves the route to be recorded after it, then the transfer activity tries.
    const quickSend: ActivityName[] = quickSends ? ['transferFile', 'routeFile'] : [];
    expect(fakes.namesCalled()).toEqual(['registerUpload', 'validateUpload', 'routeFile', ...quickSend, 'transferFile', 'recordSuperseded']);
  });

  test('DUPLICATE: content already delivered is set aside and not checked or sent again', async () => {
    const fakes = fakeActivities({ registerUpload: async () => ({ resultFileId: FAKE_RESULT_FILE_ID, duplicateOf: 7 }) });
    const result = await env.withWorker(fakes, async (taskQueue) => {
      const handle = await start(taskQueue);
      const status = await handle.result();
      await env.recordHistory(handle, `${historyPrefix}-duplicate`);
      return status;
    });
    expect(result).toMatchObject({ state: 'DUPLICATE', reason: expect.stringContaining('file #7') });
    expect(fakes.namesCalled()).toEqual(['registerUpload', 'setAsideDuplicate']);
    expect(fakes.inputsTo('setAsideDuplicate')[0]).toMatchObject({ uploadPath: UPLOAD_PATH, uploadedAt: '2026-12-01T08:00:00.000Z' });
  });

  test('NEEDS_FOLDER, then routed: it waits for the mapping and continues on the retry signal', async () => {
    const fakes = fakeActivities({ routeFile: inTurn<{ clinicFolder: string } | null>(null, { clinicFolder: FAKE_CLINIC_FOLDER }) });
    const result = await env.withWorker(fakes, async (taskQueue) => {
      const handle = await start(taskQueue);
      const waiting = await stateIs(handle, 'NEEDS_FOLDER');
      expect(waiting.reason).toBe('No clinic folder is mapped for BHP hint "99".');
      expect(fakes.inputsTo('routeFile')).toHaveLength(1);
      await env.recordHistory(handle, `${historyPrefix}-waiting-for-folder`);
      await handle.signal(retrySignal);
      await stateIs(handle, 'AWAITING_ACK');
      await handle.signal(accessedSignal, evidence('log:1:300', '2026-12-02T11:00:00.000Z'));
      const status = await handle.result();
      await env.recordHistory(handle, `${historyPrefix}-needs-folder-then-routed`);
      return status;
    });
    expect(result).toMatchObject({ state: 'ACKNOWLEDGED', clinicFolder: FAKE_CLINIC_FOLDER });
    expect(result.reason).toBeUndefined();
    expect(fakes.inputsTo('routeFile').map((r) => r.attempt)).toEqual([0, 1]);
  });

  test('TRANSFER_BLOCKED by a refused host key, retried when an operator signals', async () => {
    const refused = ApplicationFailure.nonRetryable('Server B presented a different host key.', 'HostKeyRejected');
    const fakes = fakeActivities({
      transferFile: inTurn<DeliveryResult>(...Array<Error>(1 + quickSends).fill(refused), delivered()),
    });
    const result = await env.withWorker(fakes, async (taskQueue) => {
      const handle = await start(taskQueue, { blockedRetryInterval: '1h' });
      const blocked = await stateIs(handle, 'TRANSFER_BLOCKED');
      expect(blocked.reason).toBe('Server B presented a different host key.');
      await env.recordHistory(handle, `${historyPrefix}-waiting-transfer-blocked`);
      await handle.signal(retrySignal);
      await stateIs(handle, 'AWAITING_ACK');
      await handle.signal(accessedSignal, evidence('log:1:400', '2026-12-02T12:00:00.000Z'));
      const status = await handle.result();
      await env.recordHistory(handle, `${historyPrefix}-blocked-then-retried-by-signal`);
      return status;
    });
    expect(result.state).toBe('ACKNOWLEDGED');
    expect(result.reason).toBeUndefined();
    expect(fakes.inputsTo('transferFile')).toHaveLength(2 + quickSends);
    expect(fakes.inputsTo('recordTransferBlocked')).toEqual([
      { resultFileId: FAKE_RESULT_FILE_ID, runId: expect.any(String), attempt: 0, failureType: 'HostKeyRejected', message: 'Server B presented a different host key.' },
    ]);
  });

  test('TRANSFER_BLOCKED by a refused login, retried by itself after the blocked-retry interval', async () => {
    const refused = ApplicationFailure.nonRetryable('Server B refused our login.', 'SshAuthenticationRefused');
    const fakes = fakeActivities({ transferFile: inTurn<DeliveryResult>(...Array<Error>(2 + quickSends).fill(refused), delivered()) });
    const result = await env.withWorker(fakes, async (taskQueue) => {
      const handle = await start(taskQueue, { blockedRetryInterval: '1s', ackTimeout: '1s' });
      const status = await handle.result();
      await env.recordHistory(handle, `${historyPrefix}-blocked-then-retried-by-timer`);
      return status;
    });
    expect(result).toMatchObject({ state: 'UNACKNOWLEDGED', remotePath: `${FAKE_CLINIC_FOLDER}/${FILE_NAME}` });
    expect(fakes.inputsTo('transferFile')).toHaveLength(3 + quickSends);
    expect(fakes.inputsTo('recordTransferBlocked').map((b) => [b.attempt, b.failureType])).toEqual([
      [0, 'SshAuthenticationRefused'],
      [1, 'SshAuthenticationRefused'],
    ]);
  });

  test('a transient transfer failure is retried by Temporal and never waits for a person', async () => {
    const reset = new Error('Connection reset by peer');
    const fakes = fakeActivities({ transferFile: inTurn<DeliveryResult>(...Array<Error>(1 + quickSends).fill(reset), delivered()) });
    const result = await env.withWorker(fakes, async (taskQueue) => {
      const handle = await start(taskQueue, { ackTimeout: '1s' });
      return handle.result();
    });
    expect(result.state).toBe('UNACKNOWLEDGED');
    expect(fakes.inputsTo('transferFile')).toHaveLength(2 + quickSends);
    expect(fakes.inputsTo('recordTransferBlocked')).toHaveLength(0);
  });

  test('copies that land while the delivery runs are set aside and recorded, each once; our own file re-announced is not a copy', async () => {
    const transfer = gate();
    // The upload folder, as the file system has it: a copy is moved aside once (announced again after that, nothing is
    // there any more), and our own file leaves the folder when it is archived.
    const inUploadFolder = new Set<string>([UPLOAD_PATH, '/data/upload/copy-1.pdf']);
    const fakes = fakeActivities({
      transferFile: async (input) => {
        await transfer.wait;
        return delivered(input.folder);
      },
      archiveOriginal: async (input) => {
        inUploadFolder.delete(input.uploadPath);
        return { archivePath: `/data/archive/${input.fileName}` };
      },
      setAsideDuplicate: async (input) => {
        if (!inUploadFolder.delete(input.uploadPath)) return { duplicatePath: null };
        return { duplicatePath: `/data/duplicates/${path.basename(input.uploadPath)}` };
      },
    });
    const copyAt = (uploadPath: string, uploadedAt: string) => ({ uploadPath, fileName: FILE_NAME, uploadedAt, uploadedBy: 'tech1' });
    const { result, runId } = await env.withWorker(fakes, async (taskQueue) => {
      const handle = await start(taskQueue);
      await waitFor('the transfer to start', () => fakes.namesCalled().includes('transferFile'));
      // The watcher restarted and announced our own file, still in place: no copy.
      await handle.signal(copyUploadedSignal, copyAt(UPLOAD_PATH, '2026-12-01T08:00:05.000Z'));
      // One copy, announced twice: queued once, or (if the first is being set aside already) found gone the second time.
      await handle.signal(copyUploadedSignal, copyAt('/data/upload/copy-1.pdf', '2026-12-01T08:00:06.000Z'));
      await handle.signal(copyUploadedSignal, copyAt('/data/upload/copy-1.pdf', '2026-12-01T08:00:07.000Z'));
      // The transfer activity runs beside the copies' handling; a quick send is the workflow's first step, after which
      // the copies are handled.
      if (!quickSends) await waitFor('the first copy to be recorded', () => fakes.namesCalled().includes('recordCopySetAside'));
      transfer.open();
      await waitFor('the first copy to be recorded', () => fakes.namesCalled().includes('recordCopySetAside'));
      await stateIs(handle, 'AWAITING_ACK');
      // Ours has been archived now: new content at its old path is a new upload of the same content.
      inUploadFolder.add(UPLOAD_PATH);
      await handle.signal(copyUploadedSignal, copyAt(UPLOAD_PATH, '2026-12-01T09:00:00.000Z'));
      await handle.signal(accessedSignal, evidence('log:1:500', '2026-12-02T13:00:00.000Z'));
      const status = await handle.result();
      await env.recordHistory(handle, `${historyPrefix}-copies-set-aside`);
      return { result: status, runId: handle.firstExecutionRunId };
    });
    expect(result.state).toBe('ACKNOWLEDGED');
    const recorded = fakes.inputsTo('recordCopySetAside');
    // A copy found gone leaves no row (the ledger's rule, test/db/file-ledger.test.ts): what is left is each copy once.
    expect(recorded.filter((c) => c.duplicatePath !== null).map((c) => [c.copy.uploadPath, c.duplicatePath])).toEqual([
      ['/data/upload/copy-1.pdf', '/data/duplicates/copy-1.pdf'],
      [UPLOAD_PATH, `/data/duplicates/${FILE_NAME}`],
    ]);
    const copyRunIds = recorded.map((c) => c.copy.runId);
    expect(new Set(copyRunIds).size).toBe(copyRunIds.length);
    expect(copyRunIds.every((id) => id.startsWith(`${runId}:copy:`))).toBe(true);
  });
});

describe.each(['distributeFileV2', 'distributeFileV3', 'distributeFileV4'] as const)('%s: a receipt signal is a wake-up, not proof', (workflowType) => {
  test('a fetch the log scan did not record is refused and the file waits on, to the same deadline; a recorded one acknowledges', async () => {
    const fakes = fakeActivities({
      recordAccesses: async (input) => ({ verifiedKeys: input.accesses.filter((a) => a.evidenceKey.startsWith('log:')).map((a) => a.evidenceKey) }),
    });
    const result = await env.withWorker(fakes, async (taskQueue) => {
      const handle = await env.client.workflow.start<typeof distributeFileV2 | typeof distributeFileV3 | typeof distributeFileV4>(workflowType, {
        taskQueue,
        workflowId: env.workflowId('file'),
        args: [inputFor(taskQueue)],
      });
      await stateIs(handle, 'AWAITING_ACK');
      await handle.signal(accessedSignal, evidence('forged-1', '2026-12-02T09:00:00.000Z'));
      await waitFor('the forged receipt to be checked', () => fakes.inputsTo('recordAccesses').length === 1);
      expect((await handle.query(statusQuery)).state).toBe('AWAITING_ACK');
      // Sent again, the refused key wakes nothing; the real one acknowledges.
      await handle.signal(accessedSignal, evidence('forged-1', '2026-12-02T09:00:00.000Z'));
      await handle.signal(accessedSignal, evidence('log:1:900', '2026-12-02T10:00:00.000Z'));
      const status = await handle.result();
      await env.recordHistory(handle, `${historyPrefixOf(workflowType)}-receipt-refused-then-acknowledged`);
      return status;
    });
    expect(result).toMatchObject({ state: 'ACKNOWLEDGED', accesses: 1, acknowledgedAt: '2026-12-02T10:00:00.000Z' });
    expect(fakes.inputsTo('recordAccesses').map((r) => r.accesses.map((a) => a.evidenceKey))).toEqual([['forged-1'], ['log:1:900']]);
  });

  test('refused evidence does not extend the wait: the file is unacknowledged at its deadline', async () => {
    const fakes = fakeActivities({ recordAccesses: async () => ({ verifiedKeys: [] }) });
    const result = await env.withWorker(fakes, async (taskQueue) => {
      const handle = await env.client.workflow.start<typeof distributeFileV2 | typeof distributeFileV3 | typeof distributeFileV4>(workflowType, {
        taskQueue,
        workflowId: env.workflowId('file'),
        args: [inputFor(taskQueue, { ackTimeout: '3s' })],
      });
      await stateIs(handle, 'AWAITING_ACK');
      await handle.signal(accessedSignal, evidence('forged-2', '2026-12-02T09:00:00.000Z'));
      return handle.result();
    });
    expect(result).toMatchObject({ state: 'UNACKNOWLEDGED', reason: 'Not fetched within 3s.' });
    expect(fakes.namesCalled().slice(-2)).toEqual(['recordAccesses', 'recordUnacknowledged']);
  });
});

/** What the payload codec hands a workflow in place of a payload sent in clear (src/temporal/payload-codec.ts). */
const SENT_IN_CLEAR = { [UNENCRYPTED_PAYLOAD_KEY]: { encoding: 'json/plain', bytes: 120 } };
const anyAccessed = defineSignal<[unknown?]>('accessed');
const anyCopyUploaded = defineSignal<[unknown?]>('copyUploaded');

describe.each(['distributeFile', 'distributeFileV2', 'distributeFileV3', 'distributeFileV4'] as const)('%s: messages that are not ours', (workflowType) => {
  test('a signal sent in clear or without its input is recorded and ignored, without wedging the run: a real receipt then acknowledges', async () => {
    const fakes = fakeActivities();
    const result = await env.withWorker(fakes, async (taskQueue) => {
      const handle = await env.client.workflow.start<typeof distributeFile | typeof distributeFileV2 | typeof distributeFileV3 | typeof distributeFileV4>(workflowType, {
        taskQueue,
        workflowId: env.workflowId('file'),
        args: [inputFor(taskQueue)],
      });
      await stateIs(handle, 'AWAITING_ACK');
      await handle.signal(anyAccessed, SENT_IN_CLEAR);
      await handle.signal(anyAccessed);
      await handle.signal(anyCopyUploaded, SENT_IN_CLEAR);
      await handle.signal(anyCopyUploaded, 'not a copy');
      await waitFor('the refusals to be recorded', () => fakes.inputsTo('recordRefusedMessage').length === 4);
      expect((await handle.query(statusQuery)).state).toBe('AWAITING_ACK');
      await handle.signal(accessedSignal, evidence('log:1:900', '2026-12-02T10:00:00.000Z'));
      const status = await handle.result();
      await env.recordHistory(handle, `${historyPrefixOf(workflowType)}-messages-not-ours-refused`);
      return status;
    });
    expect(result).toMatchObject({ state: 'ACKNOWLEDGED', accesses: 1 });
    const refused = fakes.inputsTo('recordRefusedMessage');
    expect(refused.map((r) => [r.seq, r.what])).toEqual([
      [1, 'receipt signal (accessed)'],
      [2, 'receipt signal (accessed)'],
      [3, 'copyUploaded signal'],
      [4, 'copyUploaded signal'],
    ]);
    expect(refused.map((r) => r.reason)).toEqual([
      'it arrived without our payload encryption (json/plain, 120 bytes), so it was not sent by a getresults process',
      'it carried nothing where a receipt belongs',
      'it arrived without our payload encryption (json/plain, 120 bytes), so it was not sent by a getresults process',
      'it is not an announced copy',
    ]);
    // Only the real receipt was checked against the log scan's records; no copy was set aside.
    expect(fakes.inputsTo('recordAccesses').map((r) => r.accesses.map((a) => a.evidenceKey))).toEqual([['log:1:900']]);
    expect(fakes.namesCalled()).not.toContain('recordCopySetAside');
  });
});

describe.each(['distributeFileV2', 'distributeFileV3', 'distributeFileV4', 'resendFile'] as const)('%s: a start with an input that is not ours', (workflowType) => {
  test.each([
    ['sent in clear', SENT_IN_CLEAR, /without our payload encryption/],
    ['without its shape', { uploadPath: '/etc/passwd' }, /^it is not the input of a/],
  ])('%s: is recorded, touches nothing and fails the run as RefusedInput', async (_case, input, reason) => {
    const fakes = fakeActivities();
    const failure = await env.withWorker(fakes, async (taskQueue) => {
      const handle = await env.client.workflow.start(workflowType, { taskQueue, workflowId: env.workflowId('forged'), args: [input] });
      return handle.result().then(
        () => undefined,
        (err: unknown) => err,
      );
    });
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const cause = (failure as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe('RefusedInput');
    expect(fakes.namesCalled()).toEqual(['recordRefusedMessage']);
    expect(fakes.inputsTo('recordRefusedMessage')[0]!.reason).toMatch(reason);
  });
});

describe('each version takes fewer round trips than the one before', () => {
  /** History events up to the wait for the clinic's fetch, and the workflow tasks among them. */
  async function historyUntilAwaitingAck(workflowType: 'distributeFile' | 'distributeFileV2' | 'distributeFileV3' | 'distributeFileV4', overrides: Partial<DistributeFileInput> = {}) {
    const fakes = fakeActivities();
    return env.withWorker(fakes, async (taskQueue) => {
      const handle = await env.client.workflow.start<typeof distributeFile | typeof distributeFileV2 | typeof distributeFileV3 | typeof distributeFileV4>(workflowType, {
        taskQueue,
        workflowId: env.workflowId('file'),
        args: [inputFor(taskQueue, overrides)],
      });
      // History only, no queries: a query answered while a workflow task is open may split it in two.
      await waitFor('the wait for the fetch to be recorded', async () => {
        const events = (await handle.fetchHistory()).events ?? [];
        return events.some((e) => e.timerStartedEventAttributes) && events;
      });
      const events = (await handle.fetchHistory()).events ?? [];
      await handle.terminate('measured');
      return { events: events.length, workflowTasks: events.filter((e) => e.workflowTaskCompletedEventAttributes).length, steps: fakes.stepsCalled };
    });
  }

  test('v2: two workflow tasks and two local steps around one transfer; v3: one workflow task and one step', async () => {
    const v1 = await historyUntilAwaitingAck('distributeFile');
    const v2 = await historyUntilAwaitingAck('distributeFileV2');
    const v3 = await historyUntilAwaitingAck('distributeFileV3');
    expect(v2.steps).toEqual(['receiveFile', 'finishDelivery']);
    expect(v2.workflowTasks).toBe(2);
    expect(v2.workflowTasks).toBeLessThan(v1.workflowTasks);
    expect(v2.events).toBeLessThan(v1.events);
    expect(v3.steps).toEqual(['receiveAndSend']);
    expect(v3.workflowTasks).toBe(1);
    expect(v3.events).toBeLessThan(v2.events);
  });

  test('v4: as v3, one workflow task and one step; its one search-attribute upsert rides in that task', async () => {
    const v3 = await historyUntilAwaitingAck('distributeFileV3');
    const v4 = await historyUntilAwaitingAck('distributeFileV4');
    expect(v4.steps).toEqual(['receiveAndSend']);
    expect(v4.workflowTasks).toBe(1);
    expect(v4.events).toBe(v3.events + 1);
  });

  test('v3, a file above the quick-send size: as v2, two workflow tasks and two local steps around the transfer', async () => {
    const v3 = await historyUntilAwaitingAck('distributeFileV3', { sizeBytes: QUICK_SEND_DEFAULT_MAX_BYTES + 1 });
    expect(v3.steps).toEqual(['receiveAndSend', 'finishDelivery']);
    expect(v3.workflowTasks).toBe(2);
  });
});

/**
 * What an operator filters by in the Temporal UI (docs/deployment.md): v4 keeps GetresultsState and GetresultsFileId
 * true at each waiting and final state. Asked of the server's visibility store, as the UI asks it.
 */
describe('distributeFileV4: search attributes follow the waiting and final states', () => {
  async function attributesOf(handle: WorkflowHandle) {
    const { typedSearchAttributes } = await handle.describe();
    return { state: typedSearchAttributes.get(FILE_STATE_KEY), fileId: typedSearchAttributes.get(FILE_ID_KEY) };
  }

  /** Visibility is updated after the workflow task: the list query finds the run once it has caught up. */
  function listedAs(handle: WorkflowHandle, state: FileState) {
    const query = `WorkflowId = "${handle.workflowId}" AND GetresultsState = "${state}" AND GetresultsFileId = ${FAKE_RESULT_FILE_ID}`;
    return waitFor(`the run listed as ${state}`, async () => {
      for await (const run of env.client.workflow.list({ query })) return run;
      return undefined;
    });
  }

  test('RECEIVED as started, NEEDS_FOLDER while it waits, AWAITING_ACK once sent, ACKNOWLEDGED at the end', async () => {
    // No mapping at first: the file waits for a folder until the retry signal.
    const fakes = fakeActivities({ routeFile: inTurn<{ clinicFolder: string } | null>(null, { clinicFolder: FAKE_CLINIC_FOLDER }) });
    await env.withWorker(fakes, async (taskQueue) => {
      const handle = await env.client.workflow.start<typeof distributeFileV4>('distributeFileV4', {
        taskQueue,
        workflowId: env.workflowId('file'),
        args: [inputFor(taskQueue)],
        typedSearchAttributes: [{ key: FILE_STATE_KEY, value: 'RECEIVED' }],
      });
      await stateIs(handle, 'NEEDS_FOLDER');
      expect(await attributesOf(handle)).toEqual({ state: 'NEEDS_FOLDER', fileId: FAKE_RESULT_FILE_ID });
      await listedAs(handle, 'NEEDS_FOLDER');
      await handle.signal(retrySignal);
      await stateIs(handle, 'AWAITING_ACK');
      expect(await attributesOf(handle)).toEqual({ state: 'AWAITING_ACK', fileId: FAKE_RESULT_FILE_ID });
      await listedAs(handle, 'AWAITING_ACK');
      await handle.signal(accessedSignal, evidence('log:1:900', '2026-12-02T12:00:00.000Z'));
      await handle.result();
      expect(await attributesOf(handle)).toEqual({ state: 'ACKNOWLEDGED', fileId: FAKE_RESULT_FILE_ID });
      await listedAs(handle, 'ACKNOWLEDGED');
    });
  });

  test('distributeFileV3 runs keep the attributes they started with: old runs replay as recorded', async () => {
    const fakes = fakeActivities();
    await env.withWorker(fakes, async (taskQueue) => {
      const handle = await env.client.workflow.start<typeof distributeFileV3>('distributeFileV3', {
        taskQueue,
        workflowId: env.workflowId('file'),
        args: [inputFor(taskQueue)],
      });
      await stateIs(handle, 'AWAITING_ACK');
      expect(await attributesOf(handle)).toEqual({ state: undefined, fileId: undefined });
      await handle.terminate('measured');
    });
  });
});
