/**
 * Archive retention through the real command (`getresults archive prune`), on real PostgreSQL and real files: a dry
 * run by default, then --apply removes only old PDFs of finished files kept on this host, records each removal in the
 * tamper-evident trail, and keeps every record.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { verifyChain } from '../../src/db/audit-chain';
import { migrate, openOrm, type Orm } from '../../src/db/orm';
import { reasonFileFor } from '../../src/disk/safe-move';
import { DEFAULT_LAB_ID, createTestDatabase, type TestDatabase } from '../harness/database';

const CLI = path.join(__dirname, '..', '..', 'bin', 'getresults.js');
const YEAR = 365.25 * 86_400_000;

let db: TestDatabase;
let orm: Orm;
let dir: string;
const kept: Record<string, { id: number; path: string; sha256: string }> = {};

function prune(...args: string[]) {
  return spawnSync(process.execPath, [CLI, 'archive', 'prune', ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: db.url, GETRESULTS_DATA_DIR: path.join(dir, 'data'), USER: 'records-officer' },
  });
}

let seq = 0;
async function keptFile(label: string, state: string, ageYears: number, folder: string): Promise<void> {
  seq++;
  const sha256 = seq.toString(16).padStart(64, '0');
  const file = path.join(folder, `066-1200000${seq}-3.pdf`);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `%PDF-1.4 result ${seq}`);
  if (state === 'REJECTED') writeFileSync(reasonFileFor(file, sha256), '{"reason":"not a PDF"}');
  const [row] = await orm.em.fork().getConnection().execute<Array<{ id: string }>>(
    `insert into result_file (workflow_id, run_id, file_name, upload_path, size_bytes, sha256, state, archive_path, uploaded_at, updated_at, lab_id)
     values (?, ?, ?, ?, 20, ?, ?, ?, ?, now(), ?) returning id`,
    [`file-${seq}`, `run-${seq}`, path.basename(file), `/upload/${path.basename(file)}`, sha256, state, file, new Date(Date.now() - ageYears * YEAR), DEFAULT_LAB_ID],
  );
  kept[label] = { id: Number(row!.id), path: file, sha256 };
}

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await openOrm(db.url);
  await migrate(orm);
  dir = mkdtempSync(path.join(os.tmpdir(), 'gr-retention-'));
  const archive = path.join(dir, 'data', 'archive');
  await keptFile('oldFetched', 'ACKNOWLEDGED', 8, path.join(archive, '2018', '11', '02'));
  await keptFile('oldRejected', 'REJECTED', 9, path.join(dir, 'data', 'rejected', '2017', '05', '06'));
  await keptFile('oldStillWaiting', 'AWAITING_ACK', 8, path.join(archive, '2018', '11', '03'));
  await keptFile('recent', 'ACKNOWLEDGED', 1, path.join(archive, '2025', '11', '02'));
  await keptFile('otherHost', 'ACKNOWLEDGED', 8, path.join(dir, 'elsewhere', 'archive'));
});
afterAll(async () => {
  await orm?.close(true);
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

test('a dry run says what would go and removes nothing', () => {
  const run = prune('--keep-years', '7');
  expect(run.status).toBe(0);
  expect(run.stdout).toContain(`Dry run: 2 kept PDF(s) uploaded`);
  expect(run.stdout).toContain(`#${kept.oldRejected!.id}, #${kept.oldFetched!.id}.`);
  expect(run.stdout).not.toContain('066-1200000');
  for (const f of Object.values(kept)) expect(existsSync(f.path)).toBe(true);
});

test('--apply removes the old PDFs of finished files on this host, records each, and keeps every record', async () => {
  const run = prune('--keep-years', '7', '--apply');
  expect(run.status).toBe(0);
  expect(run.stdout).toContain('Pruned 2 kept PDF(s)');
  expect(existsSync(kept.oldFetched!.path)).toBe(false);
  expect(existsSync(kept.oldRejected!.path)).toBe(false);
  expect(existsSync(reasonFileFor(kept.oldRejected!.path, kept.oldRejected!.sha256))).toBe(false);
  for (const label of ['oldStillWaiting', 'recent', 'otherHost']) expect(existsSync(kept[label]!.path)).toBe(true);

  const sql = orm.em.fork().getConnection();
  const rows = await sql.execute<Array<{ id: string; state: string; archive_path: string | null }>>('select id, state, archive_path from result_file order by id');
  expect(rows).toHaveLength(5);
  expect(rows.filter((r) => r.archive_path === null).map((r) => Number(r.id)).sort()).toEqual([kept.oldFetched!.id, kept.oldRejected!.id].sort());
  expect(rows.find((r) => Number(r.id) === kept.oldFetched!.id)?.state).toBe('ACKNOWLEDGED');
  const events = await sql.execute<Array<{ result_file_id: string; type: string; actor: string; message: string }>>(`select result_file_id, type, actor, message from file_event order by seq`);
  expect(events.map((e) => [Number(e.result_file_id), e.type, e.actor])).toEqual([
    [kept.oldRejected!.id, 'ARCHIVE_PRUNED', 'records-officer'],
    [kept.oldFetched!.id, 'ARCHIVE_PRUNED', 'records-officer'],
  ]);
  expect(events[0]!.message).toContain('retention policy (keep 7 year(s)');
  const chain = await verifyChain(orm.em.fork());
  expect(chain.firstBreak).toBeNull();
  expect(chain.checked).toBe(2);

  const again = prune('--keep-years', '7', '--apply');
  expect(again.stdout).toContain('Nothing to prune');
  expect(prune('--keep-years', '0').stderr).toContain('at least 1');
});
