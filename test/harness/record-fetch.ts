import { FileLedger } from '../../src/db/file-ledger';
import { openOrm } from '../../src/db/orm';
import type { FetchEvidence } from '../../src/workflows/definitions';

/**
 * Records a clinic's fetch as the log scan does before it wakes the file's workflow (src/receipts/record-fetches.ts):
 * an `accessed` signal alone proves nothing (issue 11), so a test that signals a fetch first records it here.
 */
export async function recordFetchAsTheScanDoes(databaseUrl: string, resultFileId: number, evidence: FetchEvidence): Promise<void> {
  const orm = await openOrm(databaseUrl);
  try {
    await new FileLedger(orm.em.fork()).recordReceipts(resultFileId, [evidence]);
  } finally {
    await orm.close();
  }
}
