import { migrate, openOrm, type Orm } from '../../src/db/orm';
import { createTestDatabase, type TestDatabase } from '../harness/database';

/**
 * Migration 0011 moves a single-lab installation's data into the lab `default` (issue 13): every file, folder row,
 * web upload and technician; admins become admins of the whole deployment, so they keep seeing everything.
 */
let db: TestDatabase;
let orm: Orm;

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await openOrm(db.url);
  await orm.getMigrator().up({ to: '0010-withdrawn-state' });
  const sql = orm.em.getConnection();
  await sql.execute(
    `insert into result_file (workflow_id, run_id, file_name, upload_path, size_bytes, sha256, state, uploaded_at, updated_at)
     values ('file-x', 'run-x', '066-12000001-3.pdf', '/data/upload/066-12000001-3.pdf', 10, repeat('c', 64), 'AWAITING_ACK', now(), now())`,
  );
  await sql.execute(`insert into remote_folder (label, folder_tag, folder, base_path, created_at, updated_at) values ('BHS', '12', 'digawana', 'viral_load', now(), now())`);
  await sql.execute(`insert into web_upload (username, file_name, sha256, size_bytes, uploaded_at) values ('tom', 'a.pdf', repeat('c', 64), 10, now())`);
  await sql.execute(
    `insert into app_user (username, password_hash, role, disabled, created_at, password_changed_at)
     values ('tom', 'x', 'technician', false, now(), now()), ('ada', 'x', 'admin', false, now(), now())`,
  );
  await migrate(orm);
});
afterAll(async () => {
  await orm?.close(true);
  await db?.drop();
});

it('puts every file, folder row and web upload into the lab default, with no host recorded', async () => {
  const sql = orm.em.getConnection();
  const [lab] = await sql.execute<Array<{ id: number }>>(`select id from lab where name = 'default'`);
  expect(lab).toBeDefined();
  const files = await sql.execute<Array<{ lab_id: number; upload_host: string | null }>>('select lab_id, upload_host from result_file');
  expect(files).toEqual([{ lab_id: lab!.id, upload_host: null }]);
  expect(await sql.execute('select lab_id from remote_folder')).toEqual([{ lab_id: lab!.id }]);
  expect(await sql.execute('select lab_id from web_upload')).toEqual([{ lab_id: lab!.id }]);
});

it('makes technicians members of the lab default and admins admins of every lab', async () => {
  const users = await orm.em.getConnection().execute<Array<{ username: string; lab_id: number | null }>>('select username, lab_id from app_user order by username');
  const [lab] = await orm.em.getConnection().execute<Array<{ id: number }>>(`select id from lab where name = 'default'`);
  expect(users).toEqual([
    { username: 'ada', lab_id: null },
    { username: 'tom', lab_id: lab!.id },
  ]);
});
