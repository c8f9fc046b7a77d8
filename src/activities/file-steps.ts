import type { Identification } from '../domain/identifier-patterns';
import type { DeliveryResult } from '../transfer/destination';
import type { FileActivities } from './file-activities';
import type { LedgerActivities } from './ledger-activities';

/**
 * The steps of distributeFileV2, each one local activity in the worker of the upload host that holds the file: the
 * file work and the database writes of one step run together, with no round trip through the Temporal server between
 * them. They are composed from the same file and ledger activities that distributeFile (v1) calls one by one, so what
 * is done and recorded is the same; only the packaging differs.
 *
 * A local activity that fails is run again from its start, so every part of a step must be safe to repeat: the ledger
 * writes are keyed by run and step, and the file moves find their own earlier result (safe-move.ts). Nothing that
 * moves the upload is followed, within one step, by something that needs it in place.
 */
export interface FileStepDeps {
  files: FileActivities;
  ledger: LedgerActivities;
}

/** What registering an upload needs: the run, and the file as the watcher found it. */
export type ReceiveInput = Parameters<LedgerActivities['registerUpload']>[0];

/** What the first step found: where the workflow goes next. */
export type Intake =
  | { kind: 'duplicate'; resultFileId: number; duplicateOf: number }
  | { kind: 'superseded'; resultFileId: number; reason: string }
  | { kind: 'rejected'; resultFileId: number; code: string; reason: string }
  | { kind: 'needs-folder'; resultFileId: number; identification: Identification; pages: number }
  | { kind: 'routed'; resultFileId: number; identification: Identification; pages: number; clinicFolder: string };

export function createFileSteps({ files, ledger }: FileStepDeps) {
  return {
    /**
     * Registers the upload, checks the file and looks its clinic folder up. Repeating it registers nothing twice (the
     * run id is the key) and checks the file again where it still lies: nothing here moves it.
     */
    async receiveFile(input: ReceiveInput): Promise<Intake> {
      const { resultFileId, duplicateOf } = await ledger.registerUpload(input);
      if (duplicateOf !== undefined) return { kind: 'duplicate', resultFileId, duplicateOf };
      const checked = await files.validateUpload({ uploadPath: input.uploadPath, fileName: input.fileName, sha256: input.sha256 });
      if (checked.outcome === 'superseded') {
        await ledger.recordSuperseded({ resultFileId, runId: input.runId, reason: checked.reason });
        return { kind: 'superseded', resultFileId, reason: checked.reason };
      }
      if (checked.outcome === 'rejected') return { kind: 'rejected', resultFileId, code: checked.result.code, reason: checked.result.reason };
      const { identification, pages } = checked.result;
      const route = await ledger.routeFile({ resultFileId, runId: input.runId, attempt: 0, identification, pages });
      return route
        ? { kind: 'routed', resultFileId, identification, pages, clinicFolder: route.clinicFolder }
        : { kind: 'needs-folder', resultFileId, identification, pages };
    },

    /** Moves a rejected file to the rejected folder beside its reason, then records it. */
    async rejectFile(input: { resultFileId: number; runId: string; uploadPath: string; fileName: string; sha256: string; uploadedAt: string; code: string; reason: string }) {
      const { rejectedPath } = await files.quarantineRejected(input);
      await ledger.recordRejected({ resultFileId: input.resultFileId, runId: input.runId, code: input.code, reason: input.reason, rejectedPath });
      return { rejectedPath };
    },

    /** Records the verified delivery, archives the original and records that: the file then waits for its receipt. */
    async finishDelivery(input: {
      resultFileId: number;
      runId: string;
      uploadPath: string;
      fileName: string;
      sha256: string;
      uploadedAt: string;
      clinicFolder: string;
      delivery: DeliveryResult;
      ackTimeout: string;
    }) {
      const { resultFileId, runId } = input;
      await ledger.recordSent({ resultFileId, runId, destination: input.clinicFolder, delivery: input.delivery, sha256: input.sha256 });
      const { archivePath } = await files.archiveOriginal(input);
      await ledger.recordArchived({ resultFileId, runId, archivePath, ackTimeout: input.ackTimeout });
      return { archivePath };
    },

    /** A copy of this content that landed during the delivery: set aside and recorded as a row of its own. */
    async setAsideCopy(input: {
      resultFileId: number;
      copy: { workflowId: string; runId: string; uploadPath: string; fileName: string; sha256: string; sizeBytes: number; uploadedAt: string; uploadedBy?: string };
    }) {
      const { duplicatePath } = await files.setAsideDuplicate(input.copy);
      await ledger.recordCopySetAside({ resultFileId: input.resultFileId, duplicatePath, copy: input.copy });
      return { duplicatePath };
    },
  };
}

export type FileSteps = ReturnType<typeof createFileSteps>;
