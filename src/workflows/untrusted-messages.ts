/**
 * Workflow inputs and signals are untrusted (issue 11): anyone who reaches Temporal can start a workflow or signal
 * one, with the `temporal` CLI or the UI. This module says which messages the workflows act on. It is pure (imported
 * by workflow code and by the payload codec).
 *
 * Two kinds are refused, recorded and otherwise ignored, so that they neither act nor wedge the workflow (a signal
 * handler that threw on a missing field would fail every later workflow task of that file):
 * - a payload that arrived without our encryption: the payload codec hands the workflow an `UnencryptedPayloadMark`
 *   in its place, never the sender's content;
 * - a message without the shape its name promises (no input at all, a string, missing fields).
 */
import type { CopyUploaded, DistributeFileInput, FetchEvidence, HandoverInput, ResendFileInput, WithdrawFileInput } from './definitions';

/** The one key of the object the codec puts where a payload without our encryption was. */
export const UNENCRYPTED_PAYLOAD_KEY = 'getresultsUnencryptedPayload';

export interface UnencryptedPayloadMark {
  [UNENCRYPTED_PAYLOAD_KEY]: {
    /** The payload's own `encoding` metadata (json/plain from the CLI), or "none". */
    encoding: string;
    bytes: number;
  };
}

/**
 * The patch that brought the refusals (docs/workflow-versioning.md): `patched()` is called only when a message is
 * refused, so runs that never meet one carry no marker, and a run recorded before, which took such a message in,
 * replays as it ran.
 */
export const REFUSE_UNTRUSTED_MESSAGES_PATCH = 'refuse-unencrypted-and-malformed-messages';

/** The patch that lets a `withdrawn` signal end the wait for the clinic's fetch (reached only by that signal). */
export const WITHDRAWN_SIGNAL_PATCH = 'withdrawn-signal-ends-the-wait';

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isText = (value: unknown, max: number): value is string => typeof value === 'string' && value.length > 0 && value.length <= max;
const isTime = (value: unknown): value is string => isText(value, 64) && !Number.isNaN(Date.parse(value));
const isSha256 = (value: unknown): value is string => typeof value === 'string' && /^[0-9a-f]{64}$/.test(value);
const isSize = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

export function isUnencryptedPayload(value: unknown): value is UnencryptedPayloadMark {
  return isObject(value) && isObject(value[UNENCRYPTED_PAYLOAD_KEY]);
}

/** The shape of an `accessed` signal (its evidence is then checked against what the log scan recorded). */
export function isFetchEvidence(value: unknown): value is FetchEvidence {
  return isObject(value) && isText(value.evidenceKey, 200) && isTime(value.accessedAt) && isText(value.client, 255) && isText(value.requestLine, 8192);
}

/** The shape of a `copyUploaded` signal (its path is then checked against the upload folder, src/disk/upload-folder.ts). */
export function isCopyUploaded(value: unknown): value is CopyUploaded {
  return isObject(value) && isText(value.uploadPath, 4096) && isText(value.fileName, 255) && isTime(value.uploadedAt);
}

/** The shape of a file workflow's input (its path is then checked against the upload folder by the first step). */
export function isDistributeFileInput(value: unknown): value is DistributeFileInput {
  return (
    isObject(value) &&
    isText(value.uploadPath, 4096) &&
    isText(value.fileName, 255) &&
    isSha256(value.sha256) &&
    isSize(value.sizeBytes) &&
    isText(value.fileTaskQueue, 255) &&
    isTime(value.uploadedAt) &&
    isText(value.ackTimeout, 32) &&
    isText(value.blockedRetryInterval, 32)
  );
}

/** The shape of a resend's input (the web page starts them; the transfer then checks the path, upload-folder.ts). */
export function isResendFileInput(value: unknown): value is ResendFileInput {
  return (
    isObject(value) &&
    isSize(value.resultFileId) &&
    isText(value.archivePath, 4096) &&
    isText(value.fileName, 255) &&
    isSha256(value.sha256) &&
    isSize(value.sizeBytes) &&
    isText(value.folder, 1024) &&
    isText(value.fileTaskQueue, 255) &&
    isText(value.actor, 255)
  );
}

/** The shape of a withdrawal's input (the web page starts them; the destination moves only our own content). */
export function isWithdrawFileInput(value: unknown): value is WithdrawFileInput {
  return (
    isObject(value) &&
    isSize(value.resultFileId) &&
    isText(value.fileWorkflowId, 255) &&
    isText(value.remotePath, 4096) &&
    isSha256(value.sha256) &&
    isSize(value.sizeBytes) &&
    isText(value.fileTaskQueue, 255) &&
    typeof value.withdrawalId === 'string' &&
    /^[A-Za-z0-9_-]{1,40}$/.test(value.withdrawalId) &&
    isText(value.actor, 255) &&
    isText(value.reason, 500)
  );
}

/** The shape of a handover's input (the web page starts them; the host then reads what the database says). */
export function isHandoverInput(value: unknown, needsFile: boolean): value is HandoverInput {
  return (
    isObject(value) &&
    typeof value.handoverId === 'string' &&
    /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(value.handoverId) &&
    (needsFile ? isSize(value.resultFileId) && value.resultFileId > 0 : value.resultFileId === undefined)
  );
}

/** Why a message was refused, in words for the security page. Never the message's content: it is the sender's. */
export function whyRefused(value: unknown, expected: string): string {
  if (isUnencryptedPayload(value)) {
    const { encoding, bytes } = value[UNENCRYPTED_PAYLOAD_KEY];
    return `it arrived without our payload encryption (${encoding}, ${bytes} bytes), so it was not sent by a getresults process`;
  }
  if (value === undefined) return `it carried nothing where ${expected} belongs`;
  if (value === null) return `it claimed ${expected} that the ledger does not hold`;
  return `it is not ${expected}`;
}
