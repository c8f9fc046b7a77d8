import { FileLedger } from '../../src/db/file-ledger';
import { openOrm } from '../../src/db/orm';
import type { AccessEvidence } from '../../src/workflows/definitions';

/**
 * Records a clinic's fetch as the log scan does before it wakes the file's workflow (src/acklog/record-receipts.ts):
 * an `accessed` signal alone proves nothing (issue 11), so a test that signals a fetch first records it here.
 */
export async function recordFetchAsTheScanDoes(databaseUrl: string, resultFileId: number, evidence: AccessEvidence): Promise<void> {
  const orm = await openOrm(databaseUrl);
  try {
    await new FileLedger(orm.em.fork()).recordAccesses(resultFileId, [{ ...evidence, accessedAt: new Date(evidence.accessedAt) }]);
  } finally {
    await orm.close();
  }
}
