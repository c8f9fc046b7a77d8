import type { AlertActivities } from '../../src/activities/alert-activities';
import type { HostFileActivities } from '../../src/activities/host-file-activities';
import type { HandoverActivities } from '../../src/activities/handover-activities';
import { createFileSteps, type FileSteps } from '../../src/activities/file-steps';
import type { LedgerActivities } from '../../src/activities/ledger-activities';
import type { LogScanActivities, ScanSummary } from '../../src/activities/log-scan-activities';
import type { DistributeFileInput } from '../../src/workflows/definitions';

/** Every activity a workflow of ours can call, with the real types: a fake that drifts from them fails the type-check. */
export type AllActivities = HostFileActivities & LedgerActivities & LogScanActivities & HandoverActivities & AlertActivities;
export type ActivityName = keyof AllActivities;
/** What the worker serves: the activities, and distributeFileV2's steps composed of them as in production. */
export type ServedActivities = AllActivities & FileSteps;
type InputOf<N extends ActivityName> = Parameters<AllActivities[N]>[0];

export interface ActivityCall {
  name: ActivityName;
  input: unknown;
}

export interface FakeActivities {
  activities: ServedActivities;
  /**
   * Every call of a file, ledger or scan activity, in order (retries included). A v2 step's parts are listed one by
   * one, so v1 and v2 leave the same list for the same scenario.
   */
  calls: ActivityCall[];
  /** The v2 steps (receiveFile, finishDelivery...) that were called, in order. */
  stepsCalled: Array<keyof FileSteps>;
  namesCalled(): ActivityName[];
  inputsTo<N extends ActivityName>(name: N): Array<InputOf<N>>;
}

export const FAKE_RESULT_FILE_ID = 41;
/** The upload every file-workflow scenario starts with. */
export const FAKE_FILE_NAME = '066-99000001-3.pdf';
export const FAKE_UPLOAD_PATH = `/data/upload/${FAKE_FILE_NAME}`;

/** A file workflow's input for an upload on `taskQueue`'s host. */
export function distributeInput(taskQueue: string, overrides: Partial<DistributeFileInput> = {}): DistributeFileInput {
  return {
    uploadPath: FAKE_UPLOAD_PATH,
    fileName: FAKE_FILE_NAME,
    sha256: 'ab'.repeat(32),
    sizeBytes: 4321,
    fileTaskQueue: taskQueue,
    uploadedAt: '2026-12-01T08:00:00.000Z',
    ackTimeout: '1h',
    blockedRetryInterval: '1h',
    ...overrides,
  };
}
export const FAKE_CLINIC_FOLDER = 'viral_load/testclinic';
/** A made-up identifier: nothing here is patient data, and none of it reaches a real file or server. */
export const FAKE_IDENTIFICATION = { label: 'BHP', identifier: '066-99000001-3', hint: '99' };

/** A day of normal work: the file is valid, its folder is mapped, the transfer and every move succeed. */
function happyPath(): AllActivities {
  const emptyScan: ScanSummary = {
    source: 'access.log',
    bytesRead: 0,
    linesRead: 0,
    hits: 0,
    acknowledged: 0,
    unknownHits: 0,
    foreignHits: 0,
    parseErrors: 0,
    notes: [],
  };
  return {
    validateUpload: async () => ({ outcome: 'valid', result: { ok: true, identification: FAKE_IDENTIFICATION, pages: 1 } }),
    quarantineRejected: async (input) => ({ rejectedPath: `/data/rejected/${input.fileName}` }),
    transferFile: async (input) => ({
      remotePath: `${input.folder}/${input.fileName}`,
      renamedBecauseOfConflict: false,
      alreadyPresent: false,
      verifiedBy: 'remote-sha256sum',
    }),
    archiveOriginal: async (input) => ({ archivePath: `/data/archive/${input.fileName}` }),
    findArchived: async () => ({ archivePath: null }),
    setAsideDuplicate: async (input) => ({ duplicatePath: `/data/duplicates/${input.fileName}` }),
    handOverArchivedPdf: async () => ({ outcome: 'handed-over', sizeBytes: 4321 }),
    placeWebUpload: async () => ({ outcome: 'placed' }),
    registerUpload: async () => ({ resultFileId: FAKE_RESULT_FILE_ID }),
    routeFile: async () => ({ clinicFolder: FAKE_CLINIC_FOLDER }),
    recordRejected: async () => undefined,
    recordSuperseded: async () => undefined,
    recordTransferBlocked: async () => undefined,
    recordSent: async () => undefined,
    recordArchived: async () => undefined,
    recordAccesses: async (input) => ({ verifiedKeys: input.accesses.map((a) => a.evidenceKey) }),
    recordUnacknowledged: async () => undefined,
    recordResent: async () => undefined,
    recordCopySetAside: async () => FAKE_RESULT_FILE_ID + 1,
    recordRefusedPath: async () => undefined,
    recordRefusedMessage: async () => undefined,
    withdrawDelivered: async (input) => ({ outcome: 'moved', movedTo: `.withdrawn/${input.remotePath}.${input.withdrawalId}` }),
    recordWithdrawn: async () => undefined,
    recordWithdrawRefused: async () => undefined,
    isWithdrawn: async () => true,
    scanAccessLogOnce: async () => emptyScan,
    raiseAlerts: async () => ({ found: 0, raised: 0 }),
    sendAlerts: async () => [],
  };
}

/**
 * Fake activities for workflow-level tests: the happy path unless a test overrides a step, and a record of every call.
 * They stand in for the file, SSH and database work, which have their own tests on real parts.
 */
export function fakeActivities(overrides: Partial<AllActivities> = {}): FakeActivities {
  const calls: ActivityCall[] = [];
  const impl: AllActivities = { ...happyPath(), ...overrides };
  const recorded = Object.fromEntries(
    Object.entries(impl).map(([name, fn]) => [
      name,
      async (input: unknown) => {
        calls.push({ name: name as ActivityName, input });
        return (fn as (input: unknown) => Promise<unknown>)(input);
      },
    ]),
  ) as unknown as AllActivities; // the same functions, wrapped one by one: Object.fromEntries cannot keep their types
  const stepsCalled: Array<keyof FileSteps> = [];
  const composed = createFileSteps({ files: recorded, ledger: recorded });
  const steps = Object.fromEntries(
    Object.entries(composed).map(([name, fn]) => [
      name,
      async (input: unknown) => {
        stepsCalled.push(name as keyof FileSteps);
        return (fn as (input: unknown) => Promise<unknown>)(input);
      },
    ]),
  ) as unknown as FileSteps; // as above
  return {
    activities: { ...recorded, ...steps },
    calls,
    stepsCalled,
    namesCalled: () => calls.map((c) => c.name),
    inputsTo: <N extends ActivityName>(name: N) => calls.filter((c) => c.name === name).map((c) => c.input as InputOf<N>),
  };
}

/** An activity that answers from a list, one entry per call (the last one repeats); an Error entry is thrown. */
export function inTurn<T>(...answers: Array<T | Error>): () => Promise<T> {
  let call = 0;
  return async () => {
    const answer = answers[Math.min(call++, answers.length - 1)];
    if (answer instanceof Error) throw answer;
    return answer;
  };
}
