/**
 * The names Temporal knows our workflows, their IDs and our failures by. Workflow code, activities and clients all
 * import this module, so it imports nothing at run time: a name used on both sides of the sandbox is written once.
 */
/**
 * Workflow types as clients name them; workflow-types-check.ts holds them against the bundle's exports, so a renamed
 * workflow fails to compile.
 */
export const WORKFLOW_TYPES = {
  distributeFile: 'distributeFile',
  distributeFileV2: 'distributeFileV2',
  distributeFileV3: 'distributeFileV3',
  distributeFileV4: 'distributeFileV4',
  fetchArchivedPdf: 'fetchArchivedPdf',
  placeWebUpload: 'placeWebUpload',
  resendFile: 'resendFile',
  scanAccessLog: 'scanAccessLog',
  sweepAlerts: 'sweepAlerts',
  withdrawFile: 'withdrawFile',
} as const;

/** Content hash only: a workflow ID must never carry a patient identifier or a file name. */
export function fileWorkflowId(sha256: string): string {
  return `file-${sha256}`;
}

/**
 * The ID of an upload whose content another upload host's workflow is delivering: that host cannot touch this host's
 * file, so this host runs its own workflow for it (which finds the delivery and sets the copy aside here). Content hash
 * and the host's name only.
 */
export function fileWorkflowIdOnHost(sha256: string, taskQueue: string): string {
  return `file-${sha256}-on-${taskQueue}`;
}

/** Content hash and a sequence number only, for the same reason as fileWorkflowId. */
export function resendWorkflowId(sha256: string, seq: number): string {
  return `resend-${sha256}-${seq}`;
}

/** Content hash and a sequence number only, as for resends. */
export function withdrawWorkflowId(sha256: string, seq: number): string {
  return `withdraw-${sha256}-${seq}`;
}

/** A handover's random id only (src/workflows/host-handover.ts). */
export function handoverWorkflowId(handoverId: string): string {
  return `handover-${handoverId}`;
}

/** The ID the Schedule gives each scan it starts (Temporal appends the scheduled time). */
export const LOG_SCAN_WORKFLOW_ID = 'log-scan';

export const LOG_SCAN_SCHEDULE_ID = 'getresults-log-scan';

/** The notifier's sweep (src/workflows/sweep-alerts.ts), as the log scan's. */
export const ALERT_SWEEP_WORKFLOW_ID = 'alert-sweep';

export const ALERT_SCHEDULE_ID = 'getresults-alerts';

/** `ApplicationFailure` types our activities and workflows raise, and the workflows branch on. */
export const FAILURE_TYPES = {
  hostKeyRejected: 'HostKeyRejected',
  sshAuthenticationRefused: 'SshAuthenticationRefused',
  /** The local file was removed or replaced after it was checked: that run must stop. */
  fileSuperseded: 'FileSuperseded',
  fileStillBeingWritten: 'FileStillBeingWritten',
  resendFailed: 'ResendFailed',
  /** Another file holds a withdrawn file's path on server B: nothing was moved. */
  withdrawRefused: 'WithdrawRefused',
  /** A workflow started with an input that is not ours (src/workflows/untrusted-messages.ts): nothing was done. */
  refusedInput: 'RefusedInput',
} as const;

/** Transfer failures that need a person (a host key, a login), not another attempt. */
export const BLOCKING_FAILURE_TYPES: readonly string[] = [FAILURE_TYPES.hostKeyRejected, FAILURE_TYPES.sshAuthenticationRefused];
