import { createLedgerActivities, type LedgerActivities } from '../../src/activities/ledger-activities';
import { ResultFile } from '../../src/db/entities';
import { migrate, openOrm, type Orm } from '../../src/db/orm';
import { createTestDatabase, type TestDatabase } from '../harness/database';

let db: TestDatabase;
let orm: Orm;
let ledger: LedgerActivities;

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await openOrm(db.url);
  await migrate(orm);
  ledger = createLedgerActivities({ orm });
});
afterAll(async () => {
  await orm?.close(true);
  await db?.drop();
});

const upload = (runId: string, uploadPath: string) => ({
  workflowId: 'file-abc',
  runId,
  fileName: '066-12000001-3.pdf',
  uploadPath,
  sizeBytes: 10,
  sha256: 'ab'.repeat(32),
  uploadedAt: '2026-12-01T08:00:00.000Z',
});

describe('copies announced during a delivery', () => {
  test('a copy that was set aside gets a DUPLICATE row of its own; one already gone leaves none', async () => {
    const { resultFileId } = await ledger.registerUpload(upload('run-1', '/upload/066-12000001-3.pdf'));
    const kept = await ledger.recordCopySetAside({
      resultFileId,
      copy: upload('run-1:copy:0', '/upload/copy.pdf'),
      duplicatePath: '/duplicates/066-12000001-3.pdf',
    });
    // Our own file, announced again by a restarted watcher just as it was archived: nothing was there to set aside.
    const gone = await ledger.recordCopySetAside({ resultFileId, copy: upload('run-1:copy:1', '/upload/066-12000001-3.pdf'), duplicatePath: null });
    expect(gone).toBeNull();
    const rows = await orm.em.fork().find(ResultFile, {}, { orderBy: { id: 'asc' } });
    expect(rows.map((r) => [r.id, r.state, r.duplicateOf])).toEqual([
      [resultFileId, 'RECEIVED', null],
      [kept, 'DUPLICATE', resultFileId],
    ]);
  });
});
