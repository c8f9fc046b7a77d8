import type { Client } from '@temporalio/client';
import type { EntityManager } from '@mikro-orm/postgresql';
import { ResultFile } from '../db/entities';
import type { FileState } from '../domain/file-state';
import { retrySignal } from '../workflows/definitions';

/** Wakes every workflow waiting in one of `states` (after a mapping was added, or a host key fixed). */
export async function retryWaitingFiles(em: EntityManager, client: Client, states: FileState[]): Promise<{ signalled: number; failed: number }> {
  const waiting = await em.find(ResultFile, { state: { $in: states } }, { fields: ['workflowId', 'runId'] });
  let signalled = 0;
  let failed = 0;
  for (const row of waiting) {
    try {
      await client.workflow.getHandle(row.workflowId, row.runId).signal(retrySignal);
      signalled++;
    } catch {
      failed++;
    }
  }
  return { signalled, failed };
}
