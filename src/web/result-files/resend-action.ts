import { fileTaskQueueFor } from '../../workflows/definitions';
import type { EntityManager } from '@mikro-orm/postgresql';
import { ResultFile } from '../../db/entities';
import { FileLedger } from '../../db/file-ledger';
import type { ResultWorkflows } from '../../temporal/result-workflows';
import { resendWorkflowId } from '../../workflows/names';
import type { ResendFileInput } from '../../workflows/definitions';
import { AUDITABLE_STATES } from '../views/states';
import { ActionRefused } from './file-actions';

export interface ResendDeps {
  em: EntityManager;
  actor: string;
  workflows?: ResultWorkflows;
  /**
   * Queue of the host that holds the archive. result_file records no host, so the web process assumes the archive is
   * on its own host (fileTaskQueueFor(config.hostId)): true for `getresults start` and a single upload host.
   */
  fileTaskQueue?: string;
}

/** Whether the file page offers "Resend": delivered, and an archived copy to send from. */
export function canResend(row: { state: (typeof AUDITABLE_STATES)[number]; archivePath?: string | null; clinicFolder?: string | null }): boolean {
  return AUDITABLE_STATES.includes(row.state) && !!row.archivePath && !!row.clinicFolder;
}

/**
 * Starts the resendFile workflow for a delivered file. `seq` is the file's event count when the page was drawn (a
 * hidden field), so pressing the button twice asks once: the second start finds the same workflow ID taken.
 */
export async function requestResend(deps: ResendDeps, id: number, seq: number): Promise<{ workflowId: string }> {
  const row = await deps.em.findOne(ResultFile, { id });
  if (!row) throw new ActionRefused('There is no such file.');
  if (!canResend(row)) throw new ActionRefused('Only a delivered file with an archived copy and a clinic folder can be sent again.');
  if (!deps.workflows) throw new ActionRefused('Resend is unavailable: this web process is not connected to Temporal (TEMPORAL_ADDRESS).');
  // The archive is on the upload host that received the file (result_file.upload_host); files from before hosts were
  // recorded are on this web process's own host.
  const fileTaskQueue = row.uploadHost ? fileTaskQueueFor(row.uploadHost) : deps.fileTaskQueue;
  if (!fileTaskQueue) throw new ActionRefused('Resend is unavailable: this web process was not told which host holds the archive.');
  if (row.uploadHost && !(await deps.workflows.isQueueServed(fileTaskQueue))) {
    throw new ActionRefused(
      `The upload host ${row.uploadHost}, which holds this file's archive, is offline: none of its workers has asked for work in the last two minutes. Nothing was started; press Resend again once it is back.`,
    );
  }
  const workflowId = resendWorkflowId(row.sha256, seq);
  const input: ResendFileInput = {
    resultFileId: row.id,
    archivePath: row.archivePath!,
    fileName: row.fileName,
    sha256: row.sha256,
    sizeBytes: row.sizeBytes,
    folder: row.clinicFolder!,
    fileTaskQueue,
    actor: deps.actor,
  };
  // Recorded first, so the timeline shows the request before the workflow's RESENT; a repeat adds nothing (same key).
  await new FileLedger(deps.em).transition(id, null, {
    eventKey: `web:${workflowId}`,
    type: 'RESEND_REQUESTED',
    message: `${deps.actor} asked for the file to be sent again from the archive.`,
    detail: { workflowId },
    actor: deps.actor,
  });
  if ((await deps.workflows.startResend(workflowId, input)) === 'already-started') {
    throw new ActionRefused('This resend was already asked for (the button pressed twice?). Reload the file page to send it again.');
  }
  return { workflowId };
}
