#!/usr/bin/env node
// The file list and the file page at scale (issue 10, "Search at scale"). Never part of CI's pass/fail.
//
//   npm run bench:search -- [--files 1000000] [--events-per-file 5] [--reps 30] [--keep] [--db NAME] [--json]
//
// Creates a throwaway database on DATABASE_URL's server (default postgres://postgres@127.0.0.1:5432), migrates it with
// the build's own migrations (dist/), generates the rows in SQL (insert ... select ... from generate_series), then times
// the product's own queries: it calls the real listFiles() and loadFilePage() (dist/web/result-files) with a MikroORM
// EntityManager, captures every statement they send (MikroORM's onQuery hook, formatted exactly as it is sent) and runs
// each again under EXPLAIN (ANALYZE, TIMING OFF). A figure is the server's planning + execution time summed over all the
// statements of one request (so network and Node are left out), p50 and p95 over --reps requests with varied parameters.
// --db NAME reuses a database kept by an earlier --keep run (it is migrated, not regenerated, and kept).
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import seededRandomModule from './seeded-random.cjs';

/** A seeded generator, so two runs vary their parameters alike. */
const seeded = seededRandomModule.seededRandom;

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const requireProject = createRequire(path.join(ROOT, 'package.json'));
const { Client } = requireProject('pg');
const { MikroORM } = requireProject('@mikro-orm/postgresql');
const { ormOptions, migrate } = requireProject('./dist/db/orm.js');
const { listFiles, fileFiltersSchema } = requireProject('./dist/web/result-files/file-query.js');
const { loadFilePage } = requireProject('./dist/web/result-files/file-page-query.js');

const TARGET_MS = 50;

function parseArgs(argv) {
  const o = { files: 1_000_000, eventsPerFile: 5, reps: 30, keep: false, db: undefined, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--files') o.files = Number(argv[++i]);
    else if (a === '--events-per-file') o.eventsPerFile = Number(argv[++i]);
    else if (a === '--reps') o.reps = Number(argv[++i]);
    else if (a === '--keep') o.keep = true;
    else if (a === '--db') o.db = argv[++i];
    else if (a === '--json') o.json = true;
    else throw new Error(`unknown option ${a}`);
  }
  return o;
}

function serverUrl(database) {
  const url = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  url.pathname = `/${database}`;
  return url.toString();
}

async function admin(sql) {
  const c = new Client({ connectionString: serverUrl('postgres') });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** Clinic folders as the product names them (base_path/folder), from config/remote_folders.csv. */
function clinicFolders() {
  const lines = fs.readFileSync(path.join(ROOT, 'config/remote_folders.csv'), 'utf8').trim().split(/\r?\n/).slice(1);
  return lines.map((l) => l.split(',')).map(([base, folder]) => `${base}/${folder}`);
}

const STATE_SPREAD = [
  // [state, per mille]: mostly delivered and waiting or acknowledged, a tail of everything else.
  ['ACKNOWLEDGED', 500],
  ['AWAITING_ACK', 380],
  ['UNACKNOWLEDGED', 40],
  ['REJECTED', 25],
  ['DUPLICATE', 15],
  ['NEEDS_FOLDER', 10],
  ['TRANSFER_BLOCKED', 5],
  ['SENT', 10],
  ['RECEIVED', 10],
  ['SUPERSEDED', 5],
];

function stateCase(expr) {
  let upTo = 0;
  const arms = STATE_SPREAD.map(([state, n]) => {
    upTo += Number(n);
    return `when ${expr} < ${upTo} then '${state}'`;
  });
  return `case ${arms.join(' ')} end`;
}

async function generate(pg, o, folders) {
  const lit = (a) => `array[${a.map((s) => `'${s}'`).join(',')}]`;
  const t0 = Date.now();
  await pg.query(`set synchronous_commit = off; set maintenance_work_mem = '256MB'; select setseed(0.42)`);
  // r1..r3: independent uniform draws per file. Clinics skewed (a few big ones), ids in upload order over two years.
  await pg.query(`
    insert into result_file (lab_id, workflow_id, run_id, file_name, upload_path, size_bytes, sha256, identifier, label, hint,
      clinic_folder, state, state_reason, rejection_code, remote_path, archive_path, duplicate_of, uploaded_by,
      uploaded_at, sent_at, acknowledged_at, updated_at)
    select (select id from lab where name = 'default'), 'result-' || s.sha, md5('run' || s.i), s.file_name, '/srv/getresults/upload/' || s.file_name,
           60000 + (s.r1 * 90000)::int, s.sha, s.identifier, 'BHS', s.hint::text,
           case when s.state in ('REJECTED', 'NEEDS_FOLDER') then null else s.folder end,
           s.state,
           case s.state when 'REJECTED' then 'Not a PDF: the file does not start with %PDF-' when 'NEEDS_FOLDER' then 'No clinic folder is mapped for hint ' || s.hint
                        when 'TRANSFER_BLOCKED' then 'Host key of server B changed' else null end,
           case when s.state = 'REJECTED' then 'NOT_PDF' end,
           case when s.state in ('SENT', 'AWAITING_ACK', 'ACKNOWLEDGED', 'UNACKNOWLEDGED') then '/data/' || s.folder || '/' || s.file_name end,
           case when s.state in ('SENT', 'AWAITING_ACK', 'ACKNOWLEDGED', 'UNACKNOWLEDGED') then '/srv/getresults/archive/' || s.file_name end,
           case when s.state = 'DUPLICATE' then greatest(1, s.i - 1000) end,
           case when s.r3 < 0.15 then null else 'tech' || lpad((1 + (s.r3 * 1000)::int % 40)::text, 2, '0') end,
           s.at,
           case when s.state in ('SENT', 'AWAITING_ACK', 'ACKNOWLEDGED', 'UNACKNOWLEDGED') then s.at + interval '3 seconds' end,
           case when s.state = 'ACKNOWLEDGED' then s.at + interval '2 hours' * (1 + s.r1 * 24) end,
           s.at + interval '3 seconds'
      from (
        select g.i, g.r1, g.r3, g.sha, g.at, g.identifier, g.folder, g.hint, ${stateCase('floor(g.r2 * 1000)')} as state,
               case when g.r1 < 0.7 then g.identifier || '.pdf'
                    else initcap(split_part(g.folder, '/', 2)) || '_' || g.identifier || '_' || to_char(g.at, 'YYYYMMDD') || '.pdf' end as file_name
          from (
            select i, r1, r2, r3, md5('a' || i) || md5('b' || i) as sha,
                   now() - interval '730 days' * (${o.files} - i)::float / ${o.files} - interval '1 minute' * r1 as at,
                   '066-' || (12000000 + i)::text || '-' || (i % 10)::text as identifier,
                   (${lit(folders)})[1 + floor(${folders.length} * power(r1 * 0.999 + r3 * 0.001, 1.6))::int] as folder,
                   11 + (i % 30) as hint
              from (select i, random() as r1, random() as r2, random() as r3 from generate_series(1, ${o.files}) i) x
          ) g
      ) s`);
  const t1 = Date.now();
  // Five events per file in its life's order. seq is the series number; the hashes are any 64 hex digits (the bench
  // does not verify the chain).
  const types = ['RECEIVED', 'VALIDATED', 'ROUTED', 'SENT', 'ACKNOWLEDGED', 'RESENT', 'AUDITED'];
  await pg.query(`
    insert into file_event (result_file_id, event_key, type, state, message, detail, actor, at, seq, prev_hash, hash)
    select f.id, f.id || ':' || k, (${lit(types)})[1 + (k - 1) % ${types.length}],
           case k when 1 then 'RECEIVED' when 4 then 'AWAITING_ACK' when 5 then 'ACKNOWLEDGED' end,
           'Step ' || k || ' of ' || f.file_name, case when k = 4 then jsonb_build_object('remotePath', f.remote_path) end,
           case when k = 5 then 'acklog' else 'system' end, f.uploaded_at + interval '1 second' * k,
           (f.id - 1) * ${o.eventsPerFile} + k, md5('p' || f.id || k) || md5('q' || f.id || k), md5('h' || f.id || k) || md5('i' || f.id || k)
      from result_file f cross join generate_series(1, ${o.eventsPerFile}) k`);
  const t2 = Date.now();
  // The clinic's fetches of acknowledged files, some fetches that did not count, and a few uploads through the page.
  await pg.query(`
    insert into receipt (result_file_id, remote_path, accessed_at, client, request_line, status, bytes, first, evidence_key, recorded_at, remote_user)
    select id, remote_path, acknowledged_at, '10.20.' || (id % 200) || '.' || (id % 250), 'GET ' || remote_path || ' HTTP/1.1', 200, size_bytes, true,
           'ack:' || id, acknowledged_at + interval '5 minutes', null
      from result_file where state = 'ACKNOWLEDGED'`);
  await pg.query(`
    insert into foreign_fetch (result_file_id, clinic_folder, remote_path, accessed_at, client, remote_user, request_line, status, bytes, reason, evidence_key, recorded_at)
    select id, clinic_folder, remote_path, sent_at + interval '1 hour', '192.168.1.' || (id % 250), null, 'GET ' || remote_path || ' HTTP/1.1', 200, size_bytes,
           'client not allowed by the receipt rule', 'foreign:' || id, sent_at + interval '2 hours'
      from result_file where remote_path is not null and id % 100 = 7`);
  await pg.query(`
    insert into web_upload (lab_id, username, file_name, sha256, size_bytes, uploaded_at)
    select lab_id, 'tech' || lpad((1 + id % 40)::text, 2, '0'), file_name, sha256, size_bytes, uploaded_at - interval '2 seconds'
      from result_file where uploaded_by is null and id % 3 = 0`);
  const t3 = Date.now();
  // As autovacuum leaves an insert-only table: statistics and the visibility map.
  await pg.query(`vacuum (analyze) result_file, file_event, receipt, foreign_fetch, web_upload`);
  const t4 = Date.now();
  return { files: (t1 - t0) / 1000, events: (t2 - t1) / 1000, rest: (t3 - t2) / 1000, vacuum: (t4 - t3) / 1000 };
}

function quantile(sorted, q) {
  if (!sorted.length) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function pick(rand, list) {
  return list[Math.floor(rand() * list.length)];
}


function day(d) {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const folders = clinicFolders();
  const database = o.db ?? `getresults_bench_${randomBytes(5).toString('hex')}`;
  if (!o.db) await admin(`create database ${database}`);
  const url = serverUrl(database);
  let capture;
  let orm;
  let pg;
  const log = (...a) => process.stderr.write(`${a.join(' ')}\n`);
  try {
    orm = await MikroORM.init({
      ...ormOptions(url),
      onQuery: (sql, params) => {
        if (capture) capture.push(orm.em.getPlatform().formatQuery(sql, params));
        return sql;
      },
    });
    const applied = await migrate(orm);
    if (applied.length) log(`migrated: ${applied.join(', ')}`);
    pg = new Client({ connectionString: url });
    pg.on('error', () => {});
    await pg.connect();
    const [{ n: existing }] = (await pg.query('select count(*)::int as n from result_file')).rows;
    let generated;
    if (!existing) {
      log(`generating ${o.files} files and ${o.files * o.eventsPerFile} events in ${database} ...`);
      generated = await generate(pg, o, folders);
      log(`generated in ${JSON.stringify(generated)} s`);
    } else {
      log(`reusing ${database}: ${existing} files`);
      await pg.query('analyze result_file');
    }
    const [{ lo, hi }] = (await pg.query('select min(id)::int as lo, max(id)::int as hi from result_file')).rows;
    const [{ first, last }] = (await pg.query('select min(uploaded_at) as first, max(uploaded_at) as last from result_file')).rows;

    /** The server's time for every statement one call sends: EXPLAIN (ANALYZE, TIMING OFF) of each, summed. */
    async function serverTime(call) {
      const sent = (capture = []);
      try {
        await call(orm.em.fork());
      } finally {
        capture = undefined;
      }
      let ms = 0;
      for (const sql of sent) {
        const { rows } = await pg.query(`explain (analyze, timing off, format json) ${sql}`);
        const plan = rows[0]['QUERY PLAN'][0];
        ms += plan['Planning Time'] + plan['Execution Time'];
      }
      return { ms, statements: sent.length, sql: sent };
    }

    const rand = seeded(7);
    const names = folders.map((f) => f.split('/')[1]);
    const span = new Date(last).getTime() - new Date(first).getTime();
    const anyIdentifier = () => `066-${12000000 + lo + Math.floor(rand() * (hi - lo))}-0`;
    const scenarios = [
      ['no filter', () => ({})],
      ['state', () => ({ state: pick(rand, ['AWAITING_ACK', 'ACKNOWLEDGED', 'UNACKNOWLEDGED', 'REJECTED', 'NEEDS_FOLDER', 'TRANSFER_BLOCKED', 'DUPLICATE']) })],
      ['clinic', () => ({ clinic: rand() < 0.5 ? pick(rand, names) : pick(rand, folders) })],
      [
        'date range',
        () => {
          const from = new Date(new Date(first).getTime() + rand() * span * 0.9);
          return { from: day(from), to: day(new Date(from.getTime() + (7 + rand() * 60) * 86_400_000)) };
        },
      ],
      [
        'search: part of an identifier',
        () => {
          const id = anyIdentifier().slice(4, 12); // the 8 digits
          const len = 5 + Math.floor(rand() * 4);
          const at = Math.floor(rand() * (8 - len + 1));
          return { q: id.slice(at, at + len) };
        },
      ],
      ['search: part of a file name', () => ({ q: pick(rand, names).slice(0, 4 + Math.floor(rand() * 3)) })],
      // Last, so the scenarios above keep their parameters: a clinic text that every folder holds.
      ['clinic: text every folder holds', () => ({ clinic: 'viral_load' })],
    ];
    const results = [];
    for (const [name, make] of /** @type {Array<[string, () => Record<string, string>]>} */ (scenarios)) {
      for (const page of [1, 100]) {
        const times = [];
        let statements = 0;
        let example;
        for (let r = 0; r < o.reps; r++) {
          const filters = fileFiltersSchema.parse({ ...Object.fromEntries(Object.entries(make()).map(([k, v]) => [k, String(v)])), page: String(page) });
          const t = await serverTime((em) => listFiles(em, filters));
          times.push(t.ms);
          statements = t.statements;
          example ??= { filters, sql: t.sql };
        }
        results.push({ query: `list, ${name}, page ${page}`, statements, times, example });
        log(`${results.at(-1).query}: p95 ${quantile([...times].sort((a, b) => a - b), 0.95).toFixed(1)} ms`);
      }
    }
    {
      const times = [];
      let statements = 0;
      let example;
      for (let r = 0; r < o.reps; r++) {
        const id = lo + Math.floor(rand() * (hi - lo));
        const t = await serverTime((em) => loadFilePage(em, id));
        times.push(t.ms);
        statements = t.statements;
        example ??= { id, sql: t.sql };
      }
      results.push({ query: "a file's page (row, timeline, fetches, uploads, copies)", statements, times, example });
    }

    const rows = results.map((r) => {
      const sorted = [...r.times].sort((a, b) => a - b);
      return { query: r.query, statements: r.statements, p50: quantile(sorted, 0.5), p95: quantile(sorted, 0.95), example: r.example };
    });
    if (o.json) {
      process.stdout.write(`${JSON.stringify({ database, files: o.files, events: o.files * o.eventsPerFile, reps: o.reps, generated, rows }, null, 2)}\n`);
    } else {
      const out = [
        `Search at scale: ${existing || o.files} files, ${(existing || o.files) * o.eventsPerFile} events; server time (EXPLAIN ANALYZE, TIMING OFF: planning + execution, summed over a request's statements), ${o.reps} requests each`,
        '',
        '| query | statements | p50 ms | p95 ms | target p95 | |',
        '|---|---:|---:|---:|---:|---|',
        ...rows.map((r) => `| ${r.query} | ${r.statements} | ${r.p50.toFixed(1)} | ${r.p95.toFixed(1)} | < ${TARGET_MS} | ${r.p95 < TARGET_MS ? 'ok' : 'SLOW'} |`),
      ];
      process.stdout.write(`${out.join('\n')}\n`);
    }
  } finally {
    await pg?.end().catch(() => {});
    await orm?.close(true);
    if (o.keep || o.db) log(`kept database ${database} (reuse: npm run bench:search -- --db ${database}; drop: dropdb ${database})`);
    else await admin(`drop database if exists ${database} with (force)`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
