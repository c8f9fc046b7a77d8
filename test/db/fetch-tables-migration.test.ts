import { migrate, openOrm, type Orm } from '../../src/db/orm';
import { createTestDatabase, type TestDatabase } from '../harness/database';

/**
 * Migration 0014 gives each kind of recorded fetch its own table (issue 15): the receipts stay (in `receipt`, was
 * `acknowledgement`), the unknown fetches (acknowledgement rows without a file) move to `unknown_fetch`, and
 * `foreign_access` becomes `foreign_fetch`. Nothing recorded is lost or changed, and a line stays recorded once.
 */
let db: TestDatabase;
let orm: Orm;

const ROW = `'10.20.0.5', 'GET /viral_load/digawana/066-12000001-3.pdf HTTP/1.1', 200, 1234`;

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await openOrm(db.url);
  await orm.getMigrator().up({ to: '0013-alerts' });
  const sql = orm.em.getConnection();
  await sql.execute(
    `insert into acknowledgement (result_file_id, remote_path, accessed_at, client, request_line, status, bytes, first, evidence_key, recorded_at, remote_user)
     values (7, 'viral_load/digawana/066-12000001-3.pdf', '2026-03-01T10:00:00Z', ${ROW}, true, 'line:1', '2026-03-01T10:05:00Z', 'digawana'),
            (null, 'viral_load/stray/x.pdf', '2026-03-01T11:00:00Z', ${ROW}, false, 'line:2', '2026-03-01T11:05:00Z', null)`,
  );
  await sql.execute(
    `insert into foreign_access (result_file_id, clinic_folder, remote_path, accessed_at, client, request_line, status, bytes, reason, evidence_key, recorded_at)
     values (7, 'viral_load/digawana', 'viral_load/digawana/066-12000001-3.pdf', '2026-03-01T12:00:00Z', ${ROW}, 'not the clinic', 'line:3', now())`,
  );
  await migrate(orm);
});
afterAll(async () => {
  await orm?.close(true);
  await db?.drop();
});

it('keeps the receipts in receipt, with every value', async () => {
  const rows = await orm.em.getConnection().execute('select result_file_id, remote_path, client, status, bytes, first, evidence_key, remote_user from receipt');
  expect(rows).toEqual([
    { result_file_id: '7', remote_path: 'viral_load/digawana/066-12000001-3.pdf', client: '10.20.0.5', status: 200, bytes: '1234', first: true, evidence_key: 'line:1', remote_user: 'digawana' },
  ]);
});

it('moves the fetches of no delivered file to unknown_fetch, times included', async () => {
  const rows = await orm.em.getConnection().execute<Array<Record<string, unknown>>>('select remote_path, accessed_at, recorded_at, evidence_key from unknown_fetch');
  expect(rows.map((r) => ({ ...r, accessed_at: new Date(r.accessed_at as string).toISOString(), recorded_at: new Date(r.recorded_at as string).toISOString() }))).toEqual([
    { remote_path: 'viral_load/stray/x.pdf', accessed_at: '2026-03-01T11:00:00.000Z', recorded_at: '2026-03-01T11:05:00.000Z', evidence_key: 'line:2' },
  ]);
});

it('keeps the foreign fetches in foreign_fetch', async () => {
  expect(await orm.em.getConnection().execute('select evidence_key, reason from foreign_fetch')).toEqual([{ evidence_key: 'line:3', reason: 'not the clinic' }]);
});

it('goes back down to the one acknowledgement table with nothing lost', async () => {
  await orm.getMigrator().down({ to: '0013-alerts' });
  const sql = orm.em.getConnection();
  expect(await sql.execute('select evidence_key, result_file_id from acknowledgement order by evidence_key')).toEqual([
    { evidence_key: 'line:1', result_file_id: '7' },
    { evidence_key: 'line:2', result_file_id: null },
  ]);
  expect(await sql.execute('select evidence_key from foreign_access')).toEqual([{ evidence_key: 'line:3' }]);
  await migrate(orm);
  expect(await sql.execute('select evidence_key from unknown_fetch')).toEqual([{ evidence_key: 'line:2' }]);
});
