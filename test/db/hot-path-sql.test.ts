import { Client } from 'pg';
import { HotPathSql } from '../../src/db/hot-path-sql';
import { createTestDatabase, type TestDatabase } from '../harness/database';

/** The ledger's own pool against a real PostgreSQL: what it does when the server cuts a connection mid-transaction. */
let db: TestDatabase;
let sql: HotPathSql;
let admin: Client;

beforeAll(async () => {
  db = await createTestDatabase();
  sql = new HotPathSql(db.url, 2);
  admin = new Client({ connectionString: db.url });
  await admin.connect();
  await admin.query('create table hot_path_probe (n int)');
});
afterAll(async () => {
  await admin?.end();
  await sql?.close();
  await db?.drop();
});

test('parameters travel as bind values; a failed transaction leaves nothing', async () => {
  await sql.transaction(async (tx) => {
    await tx.execute('select 1');
    await tx.execute('insert into hot_path_probe (n) values (?), (?)', [1, 2]);
  });
  await expect(
    sql.transaction(async (tx) => {
      await tx.execute('insert into hot_path_probe (n) values (?)', [3]);
      throw new Error('the step failed');
    }),
  ).rejects.toThrow('the step failed');
  expect((await admin.query('select n from hot_path_probe order by n')).rows.map((r) => r.n)).toEqual([1, 2]);
  await expect(sql.transaction((tx) => tx.execute('select ?', [1, 2]))).rejects.toThrow(/1 placeholders and 2 values/);
});

test('a backend terminated in the middle of a transaction fails that transaction only: the process lives on', async () => {
  const cut = sql.transaction(async (tx) => {
    const [{ pid }] = await tx.execute<Array<{ pid: number }>>('select pg_backend_pid() as pid');
    await admin.query('select pg_terminate_backend($1)', [pid]);
    // The connection's 'error' arrives while this client is checked out: it must not be an unhandled 'error' event.
    await new Promise((resolve) => setTimeout(resolve, 200));
    await tx.execute('insert into hot_path_probe (n) values (?)', [4]);
  });
  await expect(cut).rejects.toThrow();
  // The broken connection was destroyed, not pooled: the next transactions get working ones.
  for (let i = 0; i < 3; i++) await sql.transaction((tx) => tx.execute('insert into hot_path_probe (n) values (?)', [10 + i]));
  expect((await admin.query('select n from hot_path_probe where n >= 4 order by n')).rows.map((r) => r.n)).toEqual([10, 11, 12]);
});
