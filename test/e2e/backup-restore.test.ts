/**
 * The restore drill (issue 14): a running `getresults start` on its embedded defaults holds files in every state a
 * local destination can reach; `getresults backup` copies it while it runs; the machine is then lost (its data folder
 * and its PostgreSQL cluster, wherever that lives, are gone); `getresults restore` puts the backup on the fresh system
 * and a new `start` carries on. Every file's row and trail, every archived PDF and every workflow are there: the trail
 * still verifies, and a file that was waiting for its clinic is marked fetched when the clinic fetches it now, which
 * only its restored workflow can do. Real parts throughout: embedded PostgreSQL, the Temporal dev server, the stand-in
 * server B. (TRANSFER_BLOCKED needs an SSH server B; it is a row and a waiting workflow like NEEDS_FOLDER.)
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { writePdf } from '../harness/pdf';
import { sha256OfFile } from '../harness/sshd';
import { embeddedStartEnv } from '../harness/start-env';
import { waitFor } from '../harness/wait-for';

jest.setTimeout(240_000);

const CLI = path.join(__dirname, '..', '..', 'bin', 'getresults.js');

let cwd: string;
let env: NodeJS.ProcessEnv;
let running: { child: ChildProcess; output: () => string } | undefined;
const clusterDirs = new Set<string>();

async function start(): Promise<{ child: ChildProcess; output: () => string }> {
  let output = '';
  const child = spawn(process.execPath, [CLI, 'start'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  await waitFor('the start banner', () => output.includes('Press Ctrl+C to stop.') || child.exitCode !== null, { timeoutMs: 90_000 });
  if (child.exitCode !== null) throw new Error(`getresults start exited:\n${output}`);
  const cluster = /\(embedded, files in (\S+?);/.exec(output)?.[1];
  if (cluster) clusterDirs.add(cluster);
  return { child, output: () => output };
}

async function stop(): Promise<void> {
  if (!running) return;
  const { child } = running;
  running = undefined;
  child.kill('SIGTERM');
  await new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once('exit', resolve)));
}

function cli(...args: string[]): string {
  return cliWith({}, ...args);
}

function cliWith(extra: NodeJS.ProcessEnv, ...args: string[]): string {
  const run = spawnSync(process.execPath, [CLI, ...args], { cwd, env: { ...env, ...extra }, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`getresults ${args.join(' ')} failed (${run.status}):\n${run.stdout}\n${run.stderr}`);
  return run.stdout;
}

/** The embedded PostgreSQL of `start`, as its password file and port give it. */
function embeddedDatabaseUrl(): string {
  const password = readFileSync(path.join(cwd, 'data', 'postgres', 'password'), 'utf8').trim();
  return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${env.GETRESULTS_EMBEDDED_PG_PORT}/getresults`;
}

async function query<T>(sql: string): Promise<T[]> {
  const client = new Client({ connectionString: embeddedDatabaseUrl() });
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

interface FileRow {
  id: string;
  file_name: string;
  state: string;
  sha256: string;
  archive_path: string | null;
  events: number;
  last_hash: string;
}
const filesAndTrails = () =>
  query<FileRow>(
    `select f.id, f.file_name, f.state, f.sha256, f.archive_path, count(e.id)::int as events,
            (select e2.hash from file_event e2 where e2.result_file_id = f.id order by e2.seq desc limit 1) as last_hash
       from result_file f left join file_event e on e.result_file_id = f.id group by f.id order by f.id`,
  );
const stateOf = async (name: string) => (await query<{ state: string }>(`select state from result_file where file_name = '${name}' order by id desc limit 1`))[0]?.state;

beforeAll(async () => {
  cwd = mkdtempSync(path.join(os.tmpdir(), 'gr-restore-'));
  env = await embeddedStartEnv({ GETRESULTS_STANDIN_SCAN_INTERVAL: '2s' });
});

afterAll(async () => {
  await stop();
  rmSync(cwd, { recursive: true, force: true });
  for (const dir of clusterDirs) if (dir.startsWith('/var/lib/getresults/')) rmSync(dir, { recursive: true, force: true });
});

test('a running system backed up, lost and restored carries on: rows, trail, PDFs and workflows', async () => {
  running = await start();
  const standIn = /Server B:\s+stand-in at (\S+) /.exec(running.output())![1]!;
  const upload = path.join(cwd, 'data', 'upload');
  const drop = (name: string, content?: string) => {
    const source = path.join(cwd, `source-${name}`);
    if (content === undefined) writePdf(source, name.replace(/\.pdf$/, ''));
    else writeFileSync(source, content);
    copyFileSync(source, path.join(upload, name));
    return source;
  };

  // Fetched, waiting for the clinic, rejected, waiting for a folder, and a duplicate.
  drop('066-12000001-3.pdf');
  const waiting = drop('066-12000002-3.pdf');
  drop('066-12000003-3.pdf', 'not a PDF at all');
  drop('066-99000004-3.pdf');
  await waitFor('the files in their states', async () => (await stateOf('066-12000002-3.pdf')) === 'AWAITING_ACK' && (await stateOf('066-12000001-3.pdf')) === 'AWAITING_ACK');
  expect((await fetch(`${standIn}viral_load/digawana/066-12000001-3.pdf`)).status).toBe(200);
  copyFileSync(waiting, path.join(upload, '066-12000002-3.pdf'));
  await waitFor('every state reached', async () => {
    const states = new Set((await filesAndTrails()).map((f) => f.state));
    return ['ACKNOWLEDGED', 'AWAITING_ACK', 'REJECTED', 'NEEDS_FOLDER', 'DUPLICATE'].every((s) => states.has(s));
  }, { timeoutMs: 60_000 });
  const before = await filesAndTrails();
  // (The first four are taken at once, in any order.)
  expect(before.map((f) => `${f.file_name} ${f.state}`).sort()).toEqual([
    '066-12000001-3.pdf ACKNOWLEDGED',
    '066-12000002-3.pdf AWAITING_ACK',
    '066-12000002-3.pdf DUPLICATE',
    '066-12000003-3.pdf REJECTED',
    '066-99000004-3.pdf NEEDS_FOLDER',
  ]);
  const archived = before.filter((f) => f.archive_path).map((f) => f.archive_path!);
  const archivedHashes = await Promise.all(archived.map((p) => sha256OfFile(p)));

  // Backed up while it runs.
  const backupDir = path.join(cwd, 'backup');
  expect(cli('backup', '--to', backupDir)).toMatch(/Backed up to .*the payload keys, the embedded Temporal's database/);
  expect(cli('restore', '--from', backupDir, '--check')).toMatch(/is whole/);
  await stop();

  // The machine is lost: its data folder and its database cluster (which may live outside it) are gone.
  renameSync(path.join(cwd, 'data'), path.join(cwd, 'data-lost'));
  for (const dir of clusterDirs) rmSync(dir, { recursive: true, force: true });
  expect(cli('restore', '--from', backupDir)).toMatch(/Restored from .*: \d+ rows of \d+ tables and \d+ file\(s\)/);
  // A second restore onto the now restored system is refused and changes nothing.
  const again = spawnSync(process.execPath, [CLI, 'restore', '--from', backupDir], { cwd, env, encoding: 'utf8' });
  expect(again.status).not.toBe(0);
  expect(again.stderr + again.stdout).toMatch(/Not restored, nothing was changed: .*is not empty/);

  running = await start();
  const after = await filesAndTrails();
  expect(after).toEqual(before);
  expect(cliWith({ DATABASE_URL: embeddedDatabaseUrl() }, 'audit', 'verify')).toMatch(/^Audit trail intact: \d+ event\(s\) checked/);
  expect(await Promise.all(archived.map((p) => sha256OfFile(p)))).toEqual(archivedHashes);
  // The PDF waiting for its folder is back in the upload folder, and its workflow is still waiting for the mapping.
  expect(existsSync(path.join(upload, '066-99000004-3.pdf'))).toBe(true);
  const temporalAddress = /Temporal:\s+(\S+)/.exec(running.output())![1]!;
  const runningWorkflows = spawnSync(env.TEMPORAL_CLI_PATH ?? 'temporal', ['workflow', 'count', '--address', temporalAddress, '--query', "ExecutionStatus='Running'"], { encoding: 'utf8' });
  expect(runningWorkflows.stdout).toMatch(/Total: 2\b/);

  // The clinic fetches the file that was waiting: its restored workflow takes the receipt.
  expect((await fetch(`${standIn}viral_load/digawana/066-12000002-3.pdf`)).status).toBe(200);
  await waitFor(
    'the waiting file fetched after the restore',
    async () => (await query<{ state: string }>(`select state from result_file where file_name = '066-12000002-3.pdf' order by id limit 1`))[0]?.state === 'ACKNOWLEDGED',
    { timeoutMs: 60_000 },
  );
  await stop();
});
