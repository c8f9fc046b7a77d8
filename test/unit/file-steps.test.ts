import { ApplicationFailure } from '@temporalio/common';
import { QUICK_SEND_DEFAULT_MAX_BYTES } from '../../src/activities/file-steps';
import type { RunProgress } from '../../src/db/file-ledger';
import { FAKE_CLINIC_FOLDER, FAKE_RESULT_FILE_ID, fakeActivities } from '../workflows/fake-activities';

/**
 * receiveAndSend (distributeFileV3's first step) as plain functions over fake file and ledger activities:
 * which parts run, in which order, and where a step run again after a crash picks up. The parts themselves are tested
 * on real parts (test/db/file-ledger.test.ts, test/e2e, the fault suite's SIGKILLed workers).
 */
const input = {
  workflowId: 'file-x',
  runId: 'run-1',
  fileName: '066-99000001-3.pdf',
  uploadPath: '/data/upload/066-99000001-3.pdf',
  sizeBytes: 4321,
  sha256: 'ab'.repeat(32),
  uploadedAt: '2026-12-01T08:00:00.000Z',
  ackTimeout: '30d',
};
const delivery = { remotePath: `${FAKE_CLINIC_FOLDER}/066-99000001-3.pdf`, renamedBecauseOfConflict: false, alreadyPresent: false, verifiedBy: 'remote-sha256sum' as const };

function registeredBefore(recorded: RunProgress) {
  return fakeActivities({ registerUpload: async () => ({ resultFileId: FAKE_RESULT_FILE_ID, recorded }) });
}

test('a small routed file is checked, sent, archived and recorded in the one step', async () => {
  const fakes = fakeActivities();
  expect(await fakes.activities.receiveAndSend(input)).toEqual({
    kind: 'delivered',
    resultFileId: FAKE_RESULT_FILE_ID,
    clinicFolder: FAKE_CLINIC_FOLDER,
    delivery,
    archivePath: '/data/archive/066-99000001-3.pdf',
  });
  expect(fakes.namesCalled()).toEqual(['registerUpload', 'validateUpload', 'routeFile', 'transferFile', 'archiveOriginal', 'recordSent']);
  // One transaction records the check, the route, the delivery and the archive, once the file is archived.
  expect(fakes.inputsTo('routeFile')[0]).toMatchObject({ deferRouted: true });
  expect(fakes.inputsTo('recordSent')[0]).toMatchObject({
    routed: { attempt: 0, pages: 1 },
    destination: FAKE_CLINIC_FOLDER,
    archived: { archivePath: '/data/archive/066-99000001-3.pdf', ackTimeout: '30d' },
  });
});

test('a file above the quick-send size is routed and left to the transfer activity', async () => {
  const fakes = fakeActivities();
  const intake = await fakes.activities.receiveAndSend({ ...input, sizeBytes: QUICK_SEND_DEFAULT_MAX_BYTES + 1 });
  expect(intake).toMatchObject({ kind: 'routed', clinicFolder: FAKE_CLINIC_FOLDER });
  expect(fakes.namesCalled()).toEqual(['registerUpload', 'validateUpload', 'routeFile']);
  expect(fakes.inputsTo('routeFile')[0]?.deferRouted).toBe(false);
});

test('a quick send that fails records nothing of it and leaves the file routed, for the transfer activity', async () => {
  const fakes = fakeActivities({
    transferFile: async () => {
      throw ApplicationFailure.nonRetryable('Server B presented a different host key.', 'HostKeyRejected');
    },
  });
  expect(await fakes.activities.receiveAndSend(input)).toMatchObject({ kind: 'routed', clinicFolder: FAKE_CLINIC_FOLDER });
  // The route is looked up before the quick send and recorded with its delivery; the send failed, so it is recorded now.
  expect(fakes.namesCalled()).toEqual(['registerUpload', 'validateUpload', 'routeFile', 'transferFile', 'routeFile']);
  expect(fakes.inputsTo('routeFile').map((r) => r.deferRouted)).toEqual([true, undefined]);
  expect(fakes.inputsTo('transferFile')[0]).toMatchObject({ checkedJustNow: true });
});

describe('run again after a crash, it resumes from what the run recorded', () => {
  test('sent but not archived: archives and records it, without checking or sending again', async () => {
    const fakes = registeredBefore({ sent: { ...delivery, destination: FAKE_CLINIC_FOLDER } });
    expect(await fakes.activities.receiveAndSend(input)).toEqual({
      kind: 'delivered',
      resultFileId: FAKE_RESULT_FILE_ID,
      clinicFolder: FAKE_CLINIC_FOLDER,
      delivery,
      archivePath: '/data/archive/066-99000001-3.pdf',
    });
    expect(fakes.namesCalled()).toEqual(['registerUpload', 'recordSent', 'archiveOriginal', 'recordArchived']);
  });

  test('sent and archived but nothing recorded: sent again from the archived copy (found at the clinic), then recorded', async () => {
    const fakes = fakeActivities({
      registerUpload: async () => ({ resultFileId: FAKE_RESULT_FILE_ID, recorded: {} }),
      findArchived: async () => ({ archivePath: '/data/archive/2026/12/01/066-99000001-3.pdf' }),
      archiveOriginal: async () => ({ archivePath: '/data/archive/2026/12/01/066-99000001-3.pdf' }),
      transferFile: async (request) => ({ ...delivery, remotePath: `${request.folder}/${request.fileName}`, alreadyPresent: true }),
    });
    expect(await fakes.activities.receiveAndSend(input)).toMatchObject({
      kind: 'delivered',
      delivery: { alreadyPresent: true },
      archivePath: '/data/archive/2026/12/01/066-99000001-3.pdf',
    });
    // Checked and sent from where it now lies; the archive step runs again, which finds its earlier result (and removes
    // an upload left in place by a crash between link and unlink).
    expect(fakes.namesCalled()).toEqual(['registerUpload', 'findArchived', 'validateUpload', 'routeFile', 'transferFile', 'archiveOriginal', 'recordSent']);
    expect(fakes.inputsTo('validateUpload')[0]?.uploadPath).toBe('/data/archive/2026/12/01/066-99000001-3.pdf');
    expect(fakes.inputsTo('transferFile')[0]?.uploadPath).toBe('/data/archive/2026/12/01/066-99000001-3.pdf');
    expect(fakes.inputsTo('recordSent')[0]?.archived).toEqual({ archivePath: '/data/archive/2026/12/01/066-99000001-3.pdf', ackTimeout: '30d' });
  });

  test('registered before, nothing archived: checked and sent from the upload folder as the first time', async () => {
    const fakes = registeredBefore({});
    expect(await fakes.activities.receiveAndSend(input)).toMatchObject({ kind: 'delivered' });
    expect(fakes.namesCalled()).toEqual(['registerUpload', 'findArchived', 'validateUpload', 'routeFile', 'transferFile', 'archiveOriginal', 'recordSent']);
  });

  test('sent and archived: the recorded delivery, and nothing touched', async () => {
    const fakes = registeredBefore({ sent: { ...delivery, destination: FAKE_CLINIC_FOLDER }, archivePath: '/data/archive/2026/12/01/x.pdf' });
    expect(await fakes.activities.receiveAndSend(input)).toMatchObject({ kind: 'delivered', delivery, archivePath: '/data/archive/2026/12/01/x.pdf' });
    expect(fakes.namesCalled()).toEqual(['registerUpload']);
  });

  test('rejected or superseded: that outcome stands, and the file is not checked again', async () => {
    const rejected = registeredBefore({ rejected: { code: 'PDF_INVALID', reason: 'Not a PDF.' } });
    expect(await rejected.activities.receiveAndSend(input)).toEqual({ kind: 'rejected', resultFileId: FAKE_RESULT_FILE_ID, code: 'PDF_INVALID', reason: 'Not a PDF.' });
    expect(rejected.namesCalled()).toEqual(['registerUpload']);
    const superseded = registeredBefore({ superseded: { reason: 'The file changed.' } });
    expect(await superseded.activities.receiveFile(input)).toEqual({ kind: 'superseded', resultFileId: FAKE_RESULT_FILE_ID, reason: 'The file changed.' });
    expect(superseded.namesCalled()).toEqual(['registerUpload']);
  });
});
