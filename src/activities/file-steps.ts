import type { Identification } from '../domain/identifier-patterns';
import type { DeliveryResult } from '../transfer/destination';
import type { HostFileActivities } from './host-file-activities';
import type { LedgerActivities } from './ledger-activities';

/**
 * The steps of distributeFileV2 and V3, each one local activity in the worker of the upload host that holds the file: the
 * file work and the database writes of one step run together, with no round trip through the Temporal server between
 * them. They are composed from the same file and ledger activities that distributeFile (v1) calls one by one, so what
 * is done and recorded is the same; only the packaging differs.
 *
 * A local activity that fails is run again from its start, so every part of a step must be safe to repeat: the ledger
 * writes are keyed by run and step, and the file moves find their own earlier result (safe-move.ts). Nothing that
 * moves the upload is followed, within one step, by something that needs it in place.
 */
export interface FileStepDeps {
  files: HostFileActivities;
  ledger: LedgerActivities;
  /**
   * Files up to this size are sent within the first step (receiveAndSend), so that a file reaches AWAITING_ACK in
   * one workflow task. Larger ones, and any whose quick send fails, go through the heartbeating transfer activity.
   * Default QUICK_SEND_DEFAULT_MAX_BYTES; 0 sends every file through the activity.
   */
  quickSendMaxBytes?: number;
}

/**
 * A step is a local activity, and a local activity holds its workflow task open (the SDK extends it while the step
 * runs): keep quick sends to what takes well under a second or two even on a slow line to server B.
 */
export const QUICK_SEND_DEFAULT_MAX_BYTES = 4 * 1024 * 1024;

/** What registering an upload needs: the run, and the file as the watcher found it. */
export type ReceiveInput = Parameters<LedgerActivities['registerUpload']>[0];

/** What the first step found: where the workflow goes next. */
export type Intake =
  | { kind: 'duplicate'; resultFileId: number; duplicateOf: number }
  | { kind: 'superseded'; resultFileId: number; reason: string }
  | { kind: 'rejected'; resultFileId: number; code: string; reason: string }
  | { kind: 'needs-folder'; resultFileId: number; identification: Identification; pages: number }
  | { kind: 'routed'; resultFileId: number; identification: Identification; pages: number; clinicFolder: string };

/** What receiveAndSend found: an Intake, or the file sent, archived and recorded. */
export type QuickIntake =
  | Intake
  | { kind: 'delivered'; resultFileId: number; clinicFolder: string; delivery: DeliveryResult; archivePath: string };

type DeliveryInput = {
  resultFileId: number;
  runId: string;
  uploadPath: string;
  fileName: string;
  sha256: string;
  uploadedAt: string;
  clinicFolder: string;
  delivery: DeliveryResult;
  ackTimeout: string;
};

const ref = (input: ReceiveInput) => ({ uploadPath: input.uploadPath, fileName: input.fileName, sha256: input.sha256 });

export function createFileSteps({ files, ledger, quickSendMaxBytes = QUICK_SEND_DEFAULT_MAX_BYTES }: FileStepDeps) {
  /**
   * Checks a registered upload and looks its clinic folder up. Repeating it checks the file again where it still
   * lies: nothing here moves it.
   */
  async function checkAndRoute(
    input: ReceiveInput & { archivedCopy?: boolean },
    resultFileId: number,
    deferRouted = false,
  ): Promise<Exclude<Intake, { kind: 'duplicate' }>> {
    const checked = await files.validateUpload({ uploadPath: input.uploadPath, fileName: input.fileName, sha256: input.sha256, archivedCopy: input.archivedCopy });
    if (checked.outcome === 'superseded') {
      await ledger.recordSuperseded({ resultFileId, runId: input.runId, reason: checked.reason });
      return { kind: 'superseded', resultFileId, reason: checked.reason };
    }
    if (checked.outcome === 'rejected') return { kind: 'rejected', resultFileId, code: checked.result.code, reason: checked.result.reason };
    const { identification, pages } = checked.result;
    const route = await ledger.routeFile({ resultFileId, runId: input.runId, attempt: 0, identification, pages, deferRouted });
    return route
      ? { kind: 'routed', resultFileId, identification, pages, clinicFolder: route.clinicFolder }
      : { kind: 'needs-folder', resultFileId, identification, pages };
  }

  /**
   * Registers the upload; a run that registered before continues from what it recorded (a rejection or a
   * supersession stands: the file was moved away or is no longer ours to check).
   */
  async function register(input: ReceiveInput) {
    const registered = await ledger.registerUpload(input);
    const { resultFileId, duplicateOf, recorded } = registered;
    if (duplicateOf !== undefined) return { intake: { kind: 'duplicate', resultFileId, duplicateOf } as const, recorded };
    if (recorded?.rejected) return { intake: { kind: 'rejected', resultFileId, ...recorded.rejected } as const, recorded };
    if (recorded?.superseded) return { intake: { kind: 'superseded', resultFileId, reason: recorded.superseded.reason } as const, recorded };
    return { resultFileId, recorded };
  }

  async function finishDelivery(input: DeliveryInput) {
    const { resultFileId, runId } = input;
    await ledger.recordSent({ resultFileId, runId, destination: input.clinicFolder, delivery: input.delivery, sha256: input.sha256 });
    const { archivePath } = await files.archiveOriginal(input);
    await ledger.recordArchived({ resultFileId, runId, archivePath, ackTimeout: input.ackTimeout });
    return { archivePath };
  }

  return {
    /** Registers the upload (the run id is the key: never twice), checks the file and looks its clinic folder up. */
    async receiveFile(input: ReceiveInput): Promise<Intake> {
      const registered = await register(input);
      return registered.intake ?? checkAndRoute(input, registered.resultFileId);
    },

    /**
     * receiveFile, then, for a routed file up to quickSendMaxBytes, the transfer, the archive and one transaction that
     * records check, route, delivery and archive, in the same step: the whole happy path in one local activity. A quick send that fails for any reason is left to the transfer
     * activity, which retries it where an operator can watch (the Temporal UI, the Pending page) and knows which
     * failures need a person; nothing is recorded of the failed quick attempt.
     *
     * Run again after a crash, it resumes from what the run recorded: a file recorded as sent is archived (or found
     * archived) rather than checked again; a file found in the archive without a record is sent from there.
     */
    async receiveAndSend(input: ReceiveInput & { ackTimeout: string }): Promise<QuickIntake> {
      const registered = await register(input);
      if (registered.intake) return registered.intake;
      const { resultFileId, recorded } = registered;
      if (recorded?.sent) {
        // Recorded as delivered (the step died after its transaction, before its workflow task completed): that stands.
        // SENT without ARCHIVED is finished as finishDelivery would (it records SENT before it archives).
        const { destination: clinicFolder, remotePath, renamedBecauseOfConflict, alreadyPresent, verifiedBy } = recorded.sent;
        const delivery: DeliveryResult = { remotePath, renamedBecauseOfConflict, alreadyPresent, verifiedBy };
        const { archivePath } = recorded.archivePath ? { archivePath: recorded.archivePath } : await finishDelivery({ ...ref(input), resultFileId, runId: input.runId, uploadedAt: input.uploadedAt, ackTimeout: input.ackTimeout, clinicFolder, delivery });
        return { kind: 'delivered', resultFileId, clinicFolder, delivery, archivePath };
      }
      // Registered before, so this step runs again after a crash, and no delivery recorded: a quick send may have sent
      // and archived the file and died before recording both. It then continues from the archived copy (sending it
      // again finds it at the clinic).
      const archivedBefore = recorded ? (await files.findArchived({ ...ref(input), uploadedAt: input.uploadedAt })).archivePath : null;
      const source = archivedBefore ? { ...input, uploadPath: archivedBefore, archivedCopy: true } : input;
      const quick = input.sizeBytes <= quickSendMaxBytes || archivedBefore !== null;
      // A quick send records the route with the delivery, in one transaction (recordSent's `routed`).
      const intake = await checkAndRoute(source, resultFileId, quick);
      if (intake.kind !== 'routed' || !quick) return intake;
      const { clinicFolder, identification, pages } = intake;
      let delivery: DeliveryResult;
      try {
        // Checked a moment ago in this step: the destination's own check against the hash is enough here (a file
        // changed since fails it, and the transfer activity then finds it superseded).
        delivery = await files.transferFile({ ...ref(source), sizeBytes: input.sizeBytes, folder: clinicFolder, checkedJustNow: true });
      } catch (err) {
        // From the archive, only this step knows where the file is: it is retried as a whole.
        if (archivedBefore) throw err;
        // Whatever went wrong, the transfer activity meets it again and shows it (or, if it passed, succeeds). The
        // route is recorded now, as without a quick send.
        const route = await ledger.routeFile({ resultFileId, runId: input.runId, attempt: 0, identification, pages });
        return route ? { ...intake, clinicFolder: route.clinicFolder } : { kind: 'needs-folder', resultFileId, identification, pages };
      }
      // Archived, then everything recorded in one transaction: check, route, delivery and archive. Also after a resume
      // from the archive: a crash between the archive's link and its unlink leaves the upload in place too, and
      // archiveOriginal (which finds its own earlier result) removes it.
      const { archivePath } = await files.archiveOriginal({ ...ref(input), uploadedAt: input.uploadedAt });
      await ledger.recordSent({
        resultFileId,
        runId: input.runId,
        destination: clinicFolder,
        delivery,
        sha256: input.sha256,
        routed: { attempt: 0, identification, pages },
        archived: { archivePath, ackTimeout: input.ackTimeout },
      });
      return { kind: 'delivered', resultFileId, clinicFolder, delivery, archivePath };
    },

    /** Moves a rejected file to the rejected folder beside its reason, then records it. */
    async rejectFile(input: { resultFileId: number; runId: string; uploadPath: string; fileName: string; sha256: string; uploadedAt: string; code: string; reason: string }) {
      const { rejectedPath } = await files.quarantineRejected(input);
      await ledger.recordRejected({ resultFileId: input.resultFileId, runId: input.runId, code: input.code, reason: input.reason, rejectedPath });
      return { rejectedPath };
    },

    /** Records the verified delivery, archives the original and records that: the file then waits for its receipt. */
    finishDelivery,

    /** A copy of this content that landed during the delivery: set aside and recorded as a row of its own. */
    async setAsideCopy(input: {
      resultFileId: number;
      copy: { workflowId: string; runId: string; uploadPath: string; fileName: string; sha256: string; sizeBytes: number; uploadedAt: string; uploadedBy?: string };
    }) {
      const { duplicatePath, refused } = await files.setAsideDuplicate(input.copy);
      if (refused) {
        // A copyUploaded signal naming a path outside the upload folder: nothing was touched; the attempt is kept.
        await ledger.recordRefusedPath({ resultFileId: input.resultFileId, runId: input.copy.runId, path: input.copy.uploadPath, reason: refused });
        return { duplicatePath: null };
      }
      await ledger.recordCopySetAside({ resultFileId: input.resultFileId, duplicatePath, copy: input.copy });
      return { duplicatePath };
    },
  };
}

export type FileSteps = ReturnType<typeof createFileSteps>;
