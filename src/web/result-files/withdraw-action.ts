import { fileTaskQueueFor } from '../../workflows/definitions';
import type { EntityManager } from '@mikro-orm/postgresql';
import { ResultFile } from '../../db/entities';
import { FileLedger } from '../../db/file-ledger';
import type { ResultWorkflows } from '../../temporal/result-workflows';
import { withdrawWorkflowId } from '../../workflows/names';
import type { WithdrawFileInput } from '../../workflows/definitions';
import { AUDITABLE_STATES } from '../views/states';
import { ActionRefused } from './file-actions';

export interface WithdrawDeps {
  em: EntityManager;
  actor: string;
  workflows?: ResultWorkflows;
  /** Queue of a host that reaches server B: as for resends (resend-action.ts), the web process's own. */
  fileTaskQueue?: string;
}

/** Whether the file page offers "Withdraw": sent to a clinic folder, and not withdrawn yet. */
export function canWithdraw(row: { state: (typeof AUDITABLE_STATES)[number]; remotePath?: string | null }): boolean {
  return AUDITABLE_STATES.includes(row.state) && !!row.remotePath;
}

/**
 * Starts the withdrawFile workflow (src/workflows/withdraw-file.ts) for a sent file: it takes the file out of the
 * clinic's folder on server B, records who and why, and ends the file's wait for its fetch. `seq` is the file's event
 * count when the page was drawn, so pressing the button twice asks once.
 */
export async function requestWithdraw(deps: WithdrawDeps, id: number, seq: number, reason: string): Promise<{ workflowId: string }> {
  const row = await deps.em.findOne(ResultFile, { id });
  if (!row) throw new ActionRefused('There is no such file.');
  if (!canWithdraw(row)) throw new ActionRefused('Only a file that was sent to a clinic folder can be withdrawn.');
  if (!reason) throw new ActionRefused('Say why the file is withdrawn (the clinic and the trail will want to know).');
  if (!deps.workflows) throw new ActionRefused('Withdraw is unavailable: this web process is not connected to Temporal (TEMPORAL_ADDRESS).');
  // Withdrawn by the worker of the host that sent it (it reaches server B); files from before hosts were recorded, by
  // this web process's own host.
  const fileTaskQueue = row.uploadHost ? fileTaskQueueFor(row.uploadHost) : deps.fileTaskQueue;
  if (!fileTaskQueue) throw new ActionRefused('Withdraw is unavailable: this web process was not told which host reaches server B.');
  if (row.uploadHost && !(await deps.workflows.isQueueServed(fileTaskQueue))) {
    throw new ActionRefused(
      `The upload host ${row.uploadHost}, which sent this file, is offline: none of its workers has asked for work in the last two minutes. Nothing was withdrawn yet; try again once it is back.`,
    );
  }
  const workflowId = withdrawWorkflowId(row.sha256, seq);
  const withdrawalId = `w-${row.id}-${seq}`;
  const input: WithdrawFileInput = {
    resultFileId: row.id,
    fileWorkflowId: row.workflowId,
    remotePath: row.remotePath!,
    sha256: row.sha256,
    sizeBytes: row.sizeBytes,
    fileTaskQueue,
    withdrawalId,
    actor: deps.actor,
    reason,
  };
  // Recorded first, so the timeline shows who asked and why before the workflow's WITHDRAWN; a repeat adds nothing.
  await new FileLedger(deps.em).transition(id, null, {
    eventKey: `web:${workflowId}`,
    type: 'WITHDRAW_REQUESTED',
    message: `${deps.actor} asked for the file to be withdrawn from ${row.clinicFolder ?? 'its clinic folder'}: ${reason}`,
    detail: { workflowId, withdrawalId },
    actor: deps.actor,
  });
  if ((await deps.workflows.startWithdraw(workflowId, input)) === 'already-started') {
    throw new ActionRefused('This withdrawal was already asked for (the button pressed twice?). Reload the file page to see where it is.');
  }
  return { workflowId };
}
