import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { canonicalJson, eventHash, GENESIS_HASH, verifyChain } from '../../src/db/audit-chain';
import { FileLedger } from '../../src/db/file-ledger';
import { migrate, openOrm, type Orm } from '../../src/db/orm';
import { createTestDatabase, type TestDatabase } from '../harness/database';

const root = path.join(__dirname, '..', '..');
let db: TestDatabase;
let orm: Orm;
let pg: Client;

const LEGACY = 5;

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await openOrm(db.url);
  // Up to the schema before the chain, with events already written, so the migration has something to back-fill.
  await orm.getMigrator().up({ to: '0003-access-log-scan' });
  pg = new Client({ connectionString: db.url });
  await pg.connect();
  for (let i = 1; i <= LEGACY; i++) {
    await pg.query(
      `insert into file_event (result_file_id, event_key, type, state, message, detail, actor, at) values ($1, $2, 'RECEIVED', $3, $4, $5, 'system', $6)`,
      [i, `legacy:${i}`, i % 2 ? 'RECEIVED' : null, `Legacy event ${i} — “quoted”`, i % 2 ? { z: 1, a: { y: [1, 'two'], b: null } } : null, new Date(Date.UTC(2025, 0, i, 8, 0, 0, 123))],
    );
  }
  await migrate(orm);
});

afterAll(async () => {
  await pg?.end();
  await orm?.close(true);
  await db?.drop();
});

async function withTriggerOff<T>(work: () => Promise<T>): Promise<T> {
  await pg.query('alter table file_event disable trigger file_event_append_only');
  try {
    return await work();
  } finally {
    await pg.query('alter table file_event enable trigger file_event_append_only');
  }
}

async function eventIds(): Promise<number[]> {
  return (await pg.query('select id from file_event order by seq')).rows.map((r: { id: string }) => Number(r.id));
}

describe('canonical form', () => {
  it('sorts keys at every depth and drops undefined members', () => {
    expect(canonicalJson({ b: 1, a: { d: [{ y: 1, x: undefined, w: 'é' }], c: null } })).toBe('{"a":{"c":null,"d":[{"w":"é","y":1}]},"b":1}');
  });
});

describe('the event hash chain', () => {
  it('back-fills the rows written before the migration in id order, from the genesis hash', async () => {
    const { rows } = await pg.query('select id::int, seq::int, prev_hash, hash from file_event order by id');
    expect(rows.map((r: { seq: number }) => r.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(rows[0].prev_hash).toBe(GENESIS_HASH);
    for (let i = 1; i < rows.length; i++) expect(rows[i].prev_hash).toBe(rows[i - 1].hash);
    const report = await verifyChain(orm.em.fork());
    expect(report).toMatchObject({ ok: true, checked: LEGACY, firstBreak: null, head: { seq: LEGACY } });
  });

  it('stays intact under 200 ledger writes from 10 concurrent writers, and verifies in batches', async () => {
    const setup = new FileLedger(orm.em.fork());
    const files: number[] = [];
    for (let f = 0; f < 4; f++) {
      const { resultFileId } = await setup.register({
        workflowId: `wf-${f}`,
        runId: `run-${f}`,
        fileName: `066-1200000${f}-3.pdf`,
        uploadPath: `/upload/066-1200000${f}-3.pdf`,
        sizeBytes: 1000 + f,
        sha256: String(f).repeat(64),
        uploadedAt: new Date(),
      });
      files.push(resultFileId);
    }
    await Promise.all(
      Array.from({ length: 10 }, async (_, writer) => {
        const ledger = new FileLedger(orm.em.fork());
        for (let i = 0; i < 20; i++) {
          await ledger.transition(files[(writer + i) % files.length], i % 5 === 4 ? 'SENT' : null, {
            eventKey: `w${writer}:e${i}`,
            type: 'NOTE',
            message: `Writer ${writer}, step ${i}: ünïcode ✓`,
            detail: { writer, step: i, when: new Date(Date.UTC(2026, 1, 1, 0, 0, i)), nested: { z: true, a: [i, null] }, skipped: undefined },
          });
        }
      }),
    );
    const total = LEGACY + files.length + 200;
    const { rows } = await pg.query('select count(*)::int as n, max(seq)::int as top, count(distinct seq)::int as distinct_seq from file_event');
    expect(rows[0]).toEqual({ n: total, top: total, distinct_seq: total });
    expect(await verifyChain(orm.em.fork())).toMatchObject({ ok: true, checked: total, firstBreak: null });
    expect(await verifyChain(orm.em.fork(), { batchSize: 7 })).toMatchObject({ ok: true, checked: total });
  });

  it('refuses UPDATE, DELETE and TRUNCATE of file_event at the database', async () => {
    await expect(pg.query(`update file_event set message = 'edited' where seq = 3`)).rejects.toThrow(/append-only/);
    await expect(pg.query('delete from file_event where seq = 3')).rejects.toThrow(/append-only/);
    await expect(pg.query('truncate file_event')).rejects.toThrow(/append-only/);
  });

  it('reports exactly the row whose message was edited, then passes again once it is put back', async () => {
    const ids = await eventIds();
    const victim = ids[42];
    const { rows } = await pg.query('select message from file_event where id = $1', [victim]);
    await withTriggerOff(() => pg.query(`update file_event set message = 'Nothing happened here.' where id = $1`, [victim]));
    const report = await verifyChain(orm.em.fork(), { batchSize: 10 });
    expect(report.ok).toBe(false);
    expect(report.checked).toBe(43);
    expect(report.firstBreak).toMatchObject({ kind: 'content', id: victim, seq: 43 });
    expect(report.firstBreak?.expected).not.toBe(report.firstBreak?.stored);
    await withTriggerOff(() => pg.query('update file_event set message = $2 where id = $1', [victim, rows[0].message]));
    expect((await verifyChain(orm.em.fork())).ok).toBe(true);
  });

  it('reports the next row when an edited row was given a fresh hash', async () => {
    const ids = await eventIds();
    const { rows } = await pg.query(
      `select id::text, seq::text, result_file_id::text, event_key, type, state, message, detail::text, actor,
              to_char(at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as at, prev_hash, hash
       from file_event where id = $1`,
      [ids[10]],
    );
    const row = rows[0];
    const forged = eventHash(row.prev_hash, {
      seq: Number(row.seq),
      result_file_id: Number(row.result_file_id),
      event_key: row.event_key,
      type: row.type,
      state: row.state,
      message: 'Forged.',
      detail: row.detail === null ? null : JSON.parse(row.detail),
      actor: row.actor,
      at: row.at,
    });
    await withTriggerOff(() => pg.query(`update file_event set message = 'Forged.', hash = $2 where id = $1`, [ids[10], forged]));
    const report = await verifyChain(orm.em.fork());
    expect(report.firstBreak).toMatchObject({ kind: 'prev-hash', id: ids[11], seq: 12, expected: forged, stored: row.hash });
    await withTriggerOff(() => pg.query('update file_event set message = $2, hash = $3 where id = $1', [ids[10], row.message, row.hash]));
    expect((await verifyChain(orm.em.fork())).ok).toBe(true);
  });

  it('getresults audit verify exits 1 naming the edited row (and 0 when intact)', async () => {
    const run = (args: string[]) =>
      promisify(execFile)('node', [path.join(root, 'bin', 'getresults.js'), 'audit', 'verify', ...args], {
        cwd: root,
        env: { ...process.env, DATABASE_URL: db.url },
      }).then(
        (out) => ({ code: 0, stdout: out.stdout }),
        (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout + err.stderr }),
      );
    const intact = await run([]);
    expect(intact).toMatchObject({ code: 0 });
    expect(intact.stdout).toMatch(/Audit trail intact: 209 event\(s\) checked/);

    const victim = (await eventIds())[100];
    const { rows } = await pg.query('select message from file_event where id = $1', [victim]);
    await withTriggerOff(() => pg.query(`update file_event set message = message || ' (edited)' where id = $1`, [victim]));
    try {
      const text = await run([]);
      expect(text.code).toBe(1);
      expect(text.stdout).toContain(`BROKEN at event #${victim} (seq 101`);
      const json = await run(['--json']);
      expect(json.code).toBe(1);
      expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, checked: 101, firstBreak: { kind: 'content', id: victim, seq: 101 } });
    } finally {
      await withTriggerOff(() => pg.query('update file_event set message = $2 where id = $1', [victim, rows[0].message]));
    }
  });

  it('reports a deleted row at the event after it', async () => {
    const ids = await eventIds();
    await withTriggerOff(() => pg.query('delete from file_event where id = $1', [ids[150]]));
    const report = await verifyChain(orm.em.fork());
    expect(report).toMatchObject({ ok: false, checked: 151, head: { id: ids[149], seq: 150 } });
    expect(report.firstBreak).toMatchObject({ kind: 'missing-rows', id: ids[151], seq: 152 });
    expect(report.firstBreak?.explanation).toMatch(/seq 151 is missing/);
  });
});
