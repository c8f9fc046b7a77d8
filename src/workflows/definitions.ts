/**
 * Names and message types shared by the workflow, the worker, the watcher and tests. Imported by workflow code, so it
 * may only import `@temporalio/workflow` and pure modules.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { FileState } from '../domain/file-state';

/** Workflows and database activities run here; any worker with database access can serve it. */
export const SHARED_TASK_QUEUE = 'getresults';

/** Activities that touch the uploaded file run on a queue owned by the host whose upload folder holds it. */
export function fileTaskQueueFor(hostId: string): string {
  return `getresults-files-${hostId}`;
}

export interface DistributeFileInput {
  uploadPath: string;
  fileName: string;
  sha256: string;
  sizeBytes: number;
  /** Queue of the upload host where `uploadPath` lives. */
  fileTaskQueue: string;
  /** ISO time the watcher picked the file up; also names the archive's dated folder, so retries agree on it. */
  uploadedAt: string;
  uploadedBy?: string;
  /** How long to wait for the clinic to fetch the file, e.g. `30d`. */
  ackTimeout: string;
  /** How long a transfer blocked by a host-key or login refusal waits before trying again by itself. */
  blockedRetryInterval: string;
}

/**
 * A fetch: one access-log line, identified, that shows a delivered file being fetched. The log scan records it and
 * sends it in the `accessed` signal (the signal's name dates from v1; histories carry it), where it is only a
 * wake-up: the ledger checks it against what the scan recorded.
 */
export interface FetchEvidence {
  /** Stable identity of the log line, so the same line can never be recorded twice. */
  evidenceKey: string;
  /** When the clinic fetched the file (ISO time, from the log line). */
  accessedAt: string;
  client: string;
  requestLine: string;
  status?: number;
  bytes?: number;
  user?: string;
  remotePath?: string;
}

export interface FileStatus {
  state: FileState;
  reason?: string;
  resultFileId?: number;
  clinicFolder?: string;
  remotePath?: string;
  archivePath?: string;
  acknowledgedAt?: string;
  accesses: number;
}

export interface CopyUploaded {
  uploadPath: string;
  fileName: string;
  /** ISO time the watcher found the copy. */
  uploadedAt: string;
  uploadedBy?: string;
}

/** The clinic fetched the file (sent by the log scan). */
export const accessedSignal = defineSignal<[FetchEvidence]>('accessed');
/** Try a waiting step again now: a folder mapping was added, or the host key was fixed. */
export const retrySignal = defineSignal('retry');
/** Another copy with the same content landed in an upload folder while this delivery was under way. */
export const copyUploadedSignal = defineSignal<[CopyUploaded]>('copyUploaded');
/** The file was withdrawn (sent by withdrawFile): a wake-up; the run checks the ledger before it ends. */
export const withdrawnSignal = defineSignal('withdrawn');
export const statusQuery = defineQuery<FileStatus>('status');

/** The input of both host handovers (host-handover.ts). */
export interface HandoverInput {
  /** A random UUID, the id of the file_handover row; it names no file. */
  handoverId: string;
  /** The archived file to show (fetchArchivedPdf only). */
  resultFileId?: number;
}

/** The input of resendFile (resend-file.ts). */
export interface ResendFileInput {
  resultFileId: number;
  /** The archived original: the transfer's source. It lives on the host that archived it, hence `fileTaskQueue`. */
  archivePath: string;
  fileName: string;
  sha256: string;
  sizeBytes: number;
  /** The clinic folder it was delivered to (`result_file.clinic_folder`). */
  folder: string;
  /** Queue of the host whose archive holds `archivePath`. */
  fileTaskQueue: string;
  /** Who asked for it (web username); the RESENT event carries it as actor. */
  actor: string;
}

/** The input of withdrawFile (withdraw-file.ts). */
export interface WithdrawFileInput {
  resultFileId: number;
  /** The file's own workflow: told when the withdrawal is done, so a run waiting for the clinic's fetch ends. */
  fileWorkflowId: string;
  /** Where it was delivered, and its content: only our file at that path is moved. */
  remotePath: string;
  sha256: string;
  sizeBytes: number;
  /** Queue of a host that reaches server B (the web page's host, as for resends). */
  fileTaskQueue: string;
  /** Names the moved-aside copy and keys the trail's events: `w-<file id>-<seq>`. */
  withdrawalId: string;
  /** Who asked, and why (the web page's form). */
  actor: string;
  reason: string;
}
