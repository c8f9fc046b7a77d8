import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { accessedSignal, statusQuery } from '../../src/workflows/definitions';
import { freePort } from '../harness/free-port';
import { resultPdf } from '../harness/pdf';
import { recordFetchAsTheScanDoes } from '../harness/record-fetch';
import { startStack, type ChildHandle, type ResultFileRow, type Stack } from '../harness/stack';
import { waitFor } from '../harness/wait-for';

/**
 * Patient data protection, end to end: deliver, reject and hold files whose names and contents carry distinctive
 * identifiers, then read the raw bytes Temporal keeps (its SQLite database and write-ahead log, its log) and every
 * process log of ours. None may hold an identifier, a file name or a clinic folder: the payload codec and the failure
 * converter encrypt everything Temporal stores, and our own log lines (JSON, through one logger) name files by workflow
 * id and web requests by id and route pattern only.
 */

const SEED_CSV = path.join(__dirname, '..', '..', 'config', 'remote_folders.csv');
/** Folders that hold the files themselves, by design: not Temporal's, not logs. */
const FILE_FOLDERS = ['upload', 'archive', 'rejected', 'duplicates', 'destination'];

let stack: Stack;
let children: ChildHandle[] = [];
let webUrl: string;

const DELIVERED = ['066-17583921-4', '066-35271846-8', '213-7391', '47-31-928-55'];
const REJECTED = { name: '066-24681357-2.pdf', textIdentifier: '066-99887766-5' };
const NO_PATTERN = 'kgosi-motsumi-result.pdf';
const NO_FOLDER = '066-98123456-7';

function drop(name: string, content: Buffer | string): void {
  const temp = path.join(stack.uploadDir, `.${name}.part`);
  writeFileSync(temp, content);
  renameSync(temp, path.join(stack.uploadDir, name));
}

async function rowFor(name: string, state: string): Promise<ResultFileRow> {
  return waitFor(`${name} to reach ${state}`, async () => (await stack.fileRows()).find((r) => r.file_name === name && r.state === state), {
    timeoutMs: 90_000,
  });
}

function filesUnder(dir: string, skip: string[] = []): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return skip.includes(entry.name) ? [] : filesUnder(full);
    return entry.isFile() ? [full] : [];
  });
}

beforeAll(async () => {
  stack = await startStack();
  expect((await stack.cli(['folders', 'load', SEED_CSV])).code).toBe(0);
  const webPort = await freePort();
  webUrl = `http://127.0.0.1:${webPort}`;
  children = [stack.startWorker(), stack.startWatcher(), stack.startProcess(['web', '--port', String(webPort)])];
  await waitFor('the web page', () => fetch(`${webUrl}/healthz`).then((r) => r.ok, () => false), { timeoutMs: 60_000 });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe('patient data never reaches Temporal or our logs in clear', () => {
  const needles = new Set<string>();

  it('delivers, rejects and holds files, and the encrypted history still answers queries and signals', async () => {
    // One at a time: this test is about what Temporal and the logs hold, not about concurrency.
    const delivered: ResultFileRow[] = [];
    for (const id of DELIVERED) {
      drop(`${id}.pdf`, resultPdf(id));
      delivered.push(await rowFor(`${id}.pdf`, 'AWAITING_ACK'));
    }
    drop(REJECTED.name, resultPdf(REJECTED.textIdentifier));
    const rejected = await rowFor(REJECTED.name, 'REJECTED');
    expect(rejected.rejection_code).toBe('IDENTIFIER_NOT_IN_TEXT');
    drop(NO_PATTERN, resultPdf('kgosi-motsumi'));
    expect((await rowFor(NO_PATTERN, 'REJECTED')).rejection_code).toBe('NAME_NO_PATTERN');
    drop(`${NO_FOLDER}.pdf`, resultPdf(NO_FOLDER));
    await rowFor(`${NO_FOLDER}.pdf`, 'NEEDS_FOLDER');

    // The test's client shares the key: Temporal's data is whole, just unreadable without it.
    const first = delivered[0]!;
    const handle = stack.temporalClient.workflow.getHandle(first.workflow_id);
    expect(await handle.query(statusQuery)).toMatchObject({ state: 'AWAITING_ACK', clinicFolder: first.clinic_folder });
    const fetch = {
      evidenceKey: 'test:patient-data:1',
      accessedAt: '2026-11-27T10:00:00.000Z',
      client: '198.51.100.7',
      requestLine: `GET /${first.remote_path} HTTP/1.1`,
      status: 200,
    };
    // As the log scan does: the fetch recorded first, then the workflow woken (it checks the record).
    await recordFetchAsTheScanDoes(stack.db.url, first.id, fetch);
    await handle.signal(accessedSignal, fetch);
    expect((await handle.result()).state).toBe('ACKNOWLEDGED');
    // The reason names the identifier from the file name (the one the text lacks); it comes back decrypted.
    expect((await stack.temporalClient.workflow.getHandle(rejected.workflow_id).result()).reason).toContain('066-24681357-2');

    // Requests that carry a patient in their path and query: the request log must keep only their route.
    expect((await globalThis.fetch(`${webUrl}/files?q=${DELIVERED[1]!}`, { redirect: 'manual', headers: { Accept: 'text/html' } })).status).toBe(302);
    expect((await globalThis.fetch(`${webUrl}/files/${DELIVERED[2]!}.pdf`, { redirect: 'manual' })).headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);

    for (const id of [...DELIVERED, REJECTED.textIdentifier, NO_FOLDER, 'kgosi-motsumi']) needles.add(id);
    for (const row of await stack.fileRows()) {
      needles.add(row.file_name);
      if (row.clinic_folder) {
        needles.add(row.clinic_folder);
        needles.add(path.basename(row.clinic_folder)); // the clinic's own name, e.g. bokaa
      }
      if (row.remote_path) needles.add(row.remote_path);
    }
    expect(needles.size).toBeGreaterThan(15);
  }, 600_000);

  it('keeps them out of workflow ids, types, task queues, memos and search attributes', async () => {
    const seen: string[] = [];
    for await (const info of stack.temporalClient.workflow.list()) {
      seen.push(
        JSON.stringify(
          { id: info.workflowId, type: info.type, taskQueue: info.taskQueue, memo: info.memo, search: info.searchAttributes, typed: info.typedSearchAttributes },
          (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v),
        ),
      );
    }
    expect(seen.length).toBeGreaterThanOrEqual(DELIVERED.length + 3);
    const text = seen.join('\n');
    expect([...needles].filter((n) => text.includes(n))).toEqual([]);
  });

  it('leaves no identifier, file name or clinic folder in Temporal\'s database files or in any process log', async () => {
    // Stop everything that writes, Temporal last, so the database and the logs are complete on disk.
    // A worker whose local activity is still retrying may take long to drain: give it a while, then stop it hard.
    const timeout = () => new Promise((resolve) => setTimeout(resolve, 30_000).unref());
    await Promise.all(children.map((c) => Promise.race([c.kill('SIGTERM'), timeout()]).then(() => c.kill('SIGKILL'))));
    await stack.temporal.stop();

    const temporalFiles = filesUnder(stack.temporal.dir);
    expect(temporalFiles).toContain(stack.temporal.dbFile);
    const logs = filesUnder(stack.dataDir, FILE_FOLDERS);
    expect(logs.some((f) => path.basename(f).startsWith('worker-'))).toBe(true);
    expect(logs.some((f) => path.basename(f).startsWith('watch-'))).toBe(true);

    const leaks: string[] = [];
    for (const file of [...temporalFiles, ...logs]) {
      const bytes = readFileSync(file);
      for (const needle of needles) {
        if (bytes.includes(Buffer.from(needle, 'utf8'))) leaks.push(`${path.relative(path.dirname(stack.dataDir), file)} holds "${needle}"`);
      }
    }
    expect(leaks).toEqual([]);

    // Our processes log JSON lines, each tied to its work: a watcher's hand-off by workflow id, a request by its id.
    const lines = (prefix: string) =>
      logs
        .filter((f) => path.basename(f).startsWith(prefix))
        .flatMap((f) => readFileSync(f, 'utf8').split('\n'))
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    const watchLines = lines('watch-');
    expect(watchLines.filter((l) => l.msg === 'Upload handed to Temporal.' && /^file-[0-9a-f]{64}$/.test(String(l.workflowId))).length).toBeGreaterThanOrEqual(DELIVERED.length);
    expect(watchLines.every((l) => l.process === 'watch' && typeof l.level === 'number' && typeof l.time === 'number')).toBe(true);
    const requests = lines('web-').filter((l) => l.msg === 'request');
    // The route that answered: the probe's own, or the login gate's pattern for the two turned away.
    expect(requests.map((r) => r.route)).toEqual(expect.arrayContaining(['/healthz', '/*']));
    expect(requests.every((r) => typeof r.requestId === 'string' && typeof r.status === 'number')).toBe(true);
    expect(lines('worker-').some((l) => l.process === 'worker')).toBe(true);
    // The database really holds the history, encrypted, not nothing.
    const stored = Buffer.concat([stack.temporal.dbFile, `${stack.temporal.dbFile}-wal`].filter(existsSync).map((f) => readFileSync(f)));
    expect(stored.length).toBeGreaterThan(100_000);
    expect(stored.includes(Buffer.from('binary/encrypted'))).toBe(true);
  }, 120_000);
});
