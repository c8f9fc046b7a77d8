import type { MikroORM } from '@mikro-orm/postgresql';
import type { Identification } from '../domain/identifier-patterns';
import type { HotPathSql } from '../db/hot-path-sql';
import { ResultFile } from '../db/entities';
import { FileLedger, type RegisterUpload, type TransitionStep } from '../db/file-ledger';
import type { DeliveryResult } from '../transfer/destination';
import type { FetchEvidence } from '../workflows/definitions';
import type { FileHost } from '../labs/upload-hosts';
import { clinicFolderOf } from '../remote-folders/clinic-rule';
import { findRemoteFolder } from '../remote-folders/remote-folder-table';

export interface LedgerActivityDeps {
  orm: MikroORM;
  /** The per-file writes' own pool (src/db/hot-path-sql.ts); without it they share the ORM's. */
  hotPath?: HotPathSql;
  /**
   * The upload host this worker serves (registerUploadHost): files registered here record it and its lab, and are
   * routed through that lab's folder table. Never taken from a workflow's input, which anyone reaching Temporal can write.
   */
  host?: FileHost;
}

/** A checked file on its way to a clinic folder: what routeFile records. */
interface RouteInput {
  resultFileId: number;
  runId: string;
  attempt: number;
  identification: Identification;
  pages: number;
}

function validatedStep({ runId, identification, pages }: RouteInput): TransitionStep {
  return {
    state: null,
    event: {
      eventKey: `${runId}:validated`,
      type: 'VALIDATED',
      message: `Valid PDF (${pages} page${pages === 1 ? '' : 's'}); style ${identification.label}, identifier found in its text.`,
      detail: { label: identification.label, hint: identification.hint },
    },
    patch: { identifier: identification.identifier, label: identification.label, hint: identification.hint },
  };
}

function archivedStep(input: { runId: string; archivePath: string; ackTimeout: string }): TransitionStep {
  return {
    state: 'AWAITING_ACK',
    event: {
      eventKey: `${input.runId}:archived`,
      type: 'ARCHIVED',
      message: `Original archived at ${input.archivePath}. Waiting up to ${input.ackTimeout} for the clinic to fetch it.`,
      detail: { archivePath: input.archivePath },
    },
    patch: { archivePath: input.archivePath },
  };
}

function routedSteps(input: RouteInput, clinicFolder: string): TransitionStep[] {
  return [
    validatedStep(input),
    { state: 'RECEIVED', event: { eventKey: `${input.runId}:routed`, type: 'ROUTED', message: `Routed to clinic folder ${clinicFolder}.`, detail: { clinicFolder } }, patch: { clinicFolder } },
  ];
}

/**
 * Database writes of the per-file workflow. They run as local activities beside the workflow (no extra round trip
 * through the Temporal server); each forks its own EntityManager and is idempotent through event keys.
 */
export function createLedgerActivities({ orm, hotPath, host }: LedgerActivityDeps) {
  const ledger = () => new FileLedger(orm.em.fork(), hotPath);

  return {
    async registerUpload(input: Omit<RegisterUpload, 'uploadedAt' | 'host'> & { uploadedAt: string }) {
      return ledger().register({ ...input, uploadedAt: new Date(input.uploadedAt), host });
    },

    /**
     * Records the passed validation and looks the clinic folder up; records NEEDS_FOLDER when it is missing. With
     * `deferRouted`, a found folder is only returned: the caller records VALIDATED and ROUTED with its SENT
     * (recordSent's `routed`), in one transaction instead of two; the quick send does (file-steps.ts).
     */
    async routeFile(input: RouteInput & { deferRouted?: boolean }) {
      const { resultFileId, runId, attempt, identification } = input;
      // One fork for the lookup and the writes, as when the lookup was the ledger's own.
      const em = orm.em.fork();
      const l = new FileLedger(em, hotPath);
      const found = await findRemoteFolder(em, identification.label, identification.hint, host?.labId);
      const clinicFolder = found ? clinicFolderOf(found) : undefined;
      if (!clinicFolder) {
        const reason =
          `No clinic folder is set up for ${identification.label} hint "${identification.hint}". Ask an admin to add it ` +
          `(Remote folders page, or getresults folders load); the file is then sent by itself.`;
        await l.transitions(resultFileId, [
          validatedStep(input),
          { state: 'NEEDS_FOLDER', event: { eventKey: `${runId}:needs-folder:${attempt}`, type: 'NEEDS_FOLDER', message: reason }, patch: { stateReason: reason } },
        ]);
        return null;
      }
      // The check's result and the route in one transaction: one round of writes for both.
      if (!input.deferRouted) await l.transitions(resultFileId, routedSteps(input, clinicFolder));
      return { clinicFolder };
    },

    async recordRejected(input: { resultFileId: number; runId: string; code: string; reason: string; rejectedPath: string }) {
      await ledger().transition(
        input.resultFileId,
        'REJECTED',
        { eventKey: `${input.runId}:rejected`, type: 'REJECTED', message: input.reason, detail: { code: input.code, rejectedPath: input.rejectedPath } },
        { rejectionCode: input.code, stateReason: input.reason, archivePath: input.rejectedPath },
      );
    },

    async recordSuperseded(input: { resultFileId: number; runId: string; reason: string }) {
      await ledger().transition(
        input.resultFileId,
        'SUPERSEDED',
        { eventKey: `${input.runId}:superseded`, type: 'SUPERSEDED', message: input.reason },
        { stateReason: input.reason },
      );
    },

    async recordTransferBlocked(input: { resultFileId: number; runId: string; attempt: number; failureType: string; message: string }) {
      const reason = `${input.message} The transfer is retried automatically and whenever an operator asks for a retry.`;
      await ledger().transition(
        input.resultFileId,
        'TRANSFER_BLOCKED',
        { eventKey: `${input.runId}:blocked:${input.attempt}`, type: 'TRANSFER_BLOCKED', message: reason, detail: { failureType: input.failureType } },
        { stateReason: reason },
      );
    },

    /** With `routed` (a routeFile that deferred its writes), VALIDATED and ROUTED are recorded in the same transaction. */
    async recordSent(input: {
      resultFileId: number;
      runId: string;
      destination: string;
      delivery: DeliveryResult;
      sha256: string;
      routed?: Omit<RouteInput, 'resultFileId' | 'runId'>;
      /** The original, already archived: ARCHIVED (and AWAITING_ACK) in the same transaction. */
      archived?: { archivePath: string; ackTimeout: string };
    }) {
      const { delivery } = input;
      const notes = [
        delivery.alreadyPresent ? 'the identical file was already there' : null,
        delivery.renamedBecauseOfConflict ? 'a different file already had this name, so this one was given a distinguishable name' : null,
      ].filter(Boolean);
      const sent: TransitionStep = {
        state: 'SENT',
        event: {
          eventKey: `${input.runId}:sent`,
          type: delivery.renamedBecauseOfConflict ? 'SENT_UNDER_OTHER_NAME' : 'SENT',
          message: `Sent to ${delivery.remotePath}; SHA-256 verified (${delivery.verifiedBy})${notes.length ? `; ${notes.join('; ')}` : ''}.`,
          detail: { ...delivery, destination: input.destination, sha256: input.sha256 },
        },
        patch: { remotePath: delivery.remotePath, sentAt: new Date() },
      };
      const routed = input.routed ? routedSteps({ ...input.routed, resultFileId: input.resultFileId, runId: input.runId }, input.destination) : [];
      const archived = input.archived ? [archivedStep({ runId: input.runId, ...input.archived })] : [];
      await ledger().transitions(input.resultFileId, [...routed, sent, ...archived]);
    },

    async recordArchived(input: { resultFileId: number; runId: string; archivePath: string; ackTimeout: string }) {
      await ledger().transitions(input.resultFileId, [archivedStep(input)]);
    },

    /**
     * The fetches an `accessed` signal claims, checked against what the log scan recorded for this file (issue 11): a
     * signal can be sent by anyone who reaches Temporal, so it is only a wake-up. Evidence the scan recorded for this
     * file is `verified`; any other is refused, kept on the file's timeline as RECEIPT_REFUSED, and acknowledges
     * nothing. (The name is the activity's since v1: recorded histories name it.) Runs recorded before this answered
     * undefined, which their workflow code took as accepted.
     */
    async recordAccesses(input: { resultFileId: number; accesses: FetchEvidence[] }): Promise<{ verifiedKeys: string[] }> {
      return ledger().checkSignalledFetches(input.resultFileId, input.accesses);
    },

    /** A message named a path outside the upload folder (src/disk/upload-folder.ts): kept on the file's timeline. */
    async recordRefusedPath(input: { resultFileId: number; runId: string; path: string; reason: string }) {
      await ledger().transition(input.resultFileId, null, {
        eventKey: `${input.runId}:refused-path`,
        type: 'REFUSED_PATH',
        message: `A copy was announced at ${JSON.stringify(input.path)}, which is not in the upload folder: nothing there was touched. ${input.reason}`,
        detail: { path: input.path },
      });
    },

    /**
     * A workflow input or signal that the workflow refused: sent without our payload encryption, or without the shape
     * its name promises (src/workflows/untrusted-messages.ts). `seq` counts the run's refusals, so a retry lands once.
     */
    async recordRefusedMessage(input: { workflowId: string; runId: string; seq: number; what: string; reason: string }) {
      await ledger().recordRefusedMessage({
        workflowId: input.workflowId,
        runId: input.runId,
        eventKey: `${input.runId}:refused-message:${input.seq}`,
        message: `A ${input.what} was refused and changed nothing: ${input.reason}.`,
      });
    },

    /** A withdrawal done on server B (withdrawFile): the file becomes WITHDRAWN, with who and why. */
    async recordWithdrawn(input: { resultFileId: number; withdrawalId: string; actor: string; reason: string; outcome: 'moved' | 'alreadyMoved' | 'notThere'; movedTo?: string }) {
      const { resultFileId, ...withdrawal } = input;
      await ledger().recordWithdrawn(resultFileId, withdrawal);
    },

    /** A withdrawal that could not be done (another file holds the path): on the file's timeline, the state unchanged. */
    async recordWithdrawRefused(input: { resultFileId: number; withdrawalId: string; actor: string; message: string }) {
      await ledger().transition(input.resultFileId, null, {
        eventKey: `withdraw-refused:${input.withdrawalId}`,
        type: 'WITHDRAW_REFUSED',
        message: `${input.actor}'s withdrawal was not done: ${input.message}`,
        actor: input.actor,
      });
    },

    /** Whether the ledger holds the file as withdrawn: a `withdrawn` signal is only a wake-up (as `accessed` is). */
    async isWithdrawn(input: { resultFileId: number }): Promise<boolean> {
      const row = await orm.em.fork().findOne(ResultFile, { id: input.resultFileId }, { fields: ['state'] });
      return row?.state === 'WITHDRAWN';
    },

    async recordUnacknowledged(input: { resultFileId: number; runId: string; ackTimeout: string }) {
      const reason = `Nobody fetched the file within ${input.ackTimeout} of sending. Call the clinic.`;
      await ledger().transition(
        input.resultFileId,
        'UNACKNOWLEDGED',
        { eventKey: `${input.runId}:unacknowledged`, type: 'UNACKNOWLEDGED', message: reason },
        { stateReason: reason },
      );
    },

    /**
     * A person's resend of a delivered file (the resendFile workflow): a RESENT event with the delivery result, or
     * RESEND_FAILED with the reason. No state change: the file was delivered before and still counts as delivered.
     */
    async recordResent(input: {
      resultFileId: number;
      /** The resend workflow's ID: one event per resend. */
      resendId: string;
      actor: string;
      destination: string;
      delivery?: DeliveryResult;
      failure?: { type: string; message: string };
    }) {
      const { delivery, failure } = input;
      const message = delivery
        ? `Sent again at ${input.actor}'s request to ${delivery.remotePath}; SHA-256 verified (${delivery.verifiedBy})` +
          `${delivery.alreadyPresent ? '; the identical file was still there, nothing was copied' : ''}` +
          `${delivery.renamedBecauseOfConflict ? '; a different file had the name, so this one has a distinguishable name' : ''}.`
        : `Resend asked for by ${input.actor} failed: ${failure?.message ?? 'unknown error'}`;
      await ledger().transition(input.resultFileId, null, {
        eventKey: `${input.resendId}:${delivery ? 'resent' : 'failed'}`,
        type: delivery ? 'RESENT' : 'RESEND_FAILED',
        message,
        detail: { ...(delivery ?? {}), ...(failure ? { failure } : {}), destination: input.destination, resendId: input.resendId },
        actor: input.actor,
      });
    },

    /**
     * Records a copy set aside during a delivery as a row of its own. A copy that was already gone when it was to be set
     * aside (`duplicatePath` null) is no upload to account for, and leaves no row: most often it is the run's own file,
     * announced again by a restarted watcher in the moment it was being archived. (A file removed from the upload folder
     * before the watcher took it is not recorded either.)
     */
    async recordCopySetAside(input: {
      resultFileId: number;
      copy: Omit<RegisterUpload, 'uploadedAt' | 'host'> & { uploadedAt: string };
      duplicatePath: string | null;
    }): Promise<number | null> {
      if (input.duplicatePath === null) return null;
      return ledger().registerCopy(input.resultFileId, {
        ...input.copy,
        uploadedAt: new Date(input.copy.uploadedAt),
        duplicatePath: input.duplicatePath,
        host,
      });
    },
  };
}

export type LedgerActivities = ReturnType<typeof createLedgerActivities>;
