import type { EntityManager } from '@mikro-orm/postgresql';
import { ResultFile } from '../db/entities';
import type { FileState } from '../domain/file-state';
import type { ResultWorkflows } from '../temporal/result-workflows';

/** Wakes every workflow waiting in one of `states` (after a mapping was added, or a host key fixed). */
export async function retryWaitingFiles(em: EntityManager, workflows: ResultWorkflows, states: FileState[]): Promise<{ signalled: number; failed: number }> {
  const waiting = await em.find(ResultFile, { state: { $in: states } }, { fields: ['workflowId', 'runId'] });
  let signalled = 0;
  let failed = 0;
  for (const row of waiting) {
    // A workflow that closed meanwhile, or one Temporal cannot reach now, is counted and the rest still get theirs.
    const outcome = await workflows.retry(row).catch(() => 'unreachable' as const);
    if (outcome === 'delivered') signalled++;
    else failed++;
  }
  return { signalled, failed };
}
