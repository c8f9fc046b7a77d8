import { existsSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { accessedSignal, statusQuery } from '../../src/workflows/definitions';
import { resultPdf } from '../harness/pdf';
import { recordFetchAsTheScanDoes } from '../harness/record-fetch';
import { listTree, sha256OfBuffer, sha256OfFile } from '../harness/sshd';
import { startStack, type ChildHandle, type ResultFileRow, type Stack } from '../harness/stack';
import { waitFor } from '../harness/wait-for';

const SEED_CSV = path.join(__dirname, '..', '..', 'config', 'remote_folders.csv');

let stack: Stack;
let worker: ChildHandle;
let watcher: ChildHandle;

/** Writes a file the way a careful uploader does: a temporary name, then a rename into the upload folder. */
function drop(name: string, content: Buffer | string): void {
  const temp = path.join(stack.uploadDir, `.${name}.part`);
  writeFileSync(temp, content);
  renameSync(temp, path.join(stack.uploadDir, name));
}

async function rowFor(name: string, state?: string, timeoutMs = 60_000): Promise<ResultFileRow> {
  return waitFor(
    `${name} to reach ${state ?? 'any state'}`,
    async () => (await stack.fileRows()).find((r) => r.file_name === name && (!state || r.state === state)),
    { timeoutMs },
  );
}

const remote = (...parts: string[]) => path.join(stack.sshd.remoteRoot, ...parts);

beforeAll(async () => {
  stack = await startStack();
  const loaded = await stack.cli(['folders', 'load', SEED_CSV]);
  expect(loaded.code).toBe(0);
  worker = stack.startWorker();
  watcher = stack.startWatcher();
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe('the per-file workflow on real Temporal, PostgreSQL and OpenSSH', () => {
  it('delivers a valid PDF to its clinic folder, archives it, records every step, and is acknowledged by an accessed signal', async () => {
    const content = resultPdf('066-12000001-3');
    drop('066-12000001-3.pdf', content);

    const row = await rowFor('066-12000001-3.pdf', 'AWAITING_ACK');
    const delivered = remote('viral_load', 'digawana', '066-12000001-3.pdf');
    expect(await sha256OfFile(delivered)).toBe(sha256OfBuffer(content));
    expect(row.remote_path).toBe('viral_load/digawana/066-12000001-3.pdf');
    expect(row.workflow_id).toBe(`file-${sha256OfBuffer(content)}`); // content hash, no identifier
    expect(existsSync(row.archive_path!)).toBe(true);
    expect(await sha256OfFile(row.archive_path!)).toBe(sha256OfBuffer(content));
    expect(readdirSync(stack.uploadDir)).toEqual([]);
    expect((await listTree(stack.sshd.remoteRoot)).filter((f) => f.endsWith('.part'))).toEqual([]);
    expect((await stack.events(row.id)).map((e) => e.type)).toEqual(['RECEIVED', 'VALIDATED', 'ROUTED', 'SENT', 'ARCHIVED']);

    const handle = stack.temporalClient.workflow.getHandle(row.workflow_id);
    expect(await handle.query(statusQuery)).toMatchObject({ state: 'AWAITING_ACK', clinicFolder: 'viral_load/digawana' });
    const fetch = {
      evidenceKey: 'test:access.log:1',
      accessedAt: '2026-11-27T10:00:00.000Z',
      client: '198.51.100.7',
      requestLine: 'GET /viral_load/digawana/066-12000001-3.pdf HTTP/1.1',
      status: 200,
      bytes: content.length,
    };
    // What the log scan does on finding the fetch: record it, then wake the workflow (which checks the record).
    await recordFetchAsTheScanDoes(stack.db.url, row.id, fetch);
    await handle.signal(accessedSignal, fetch);
    const acknowledged = await rowFor('066-12000001-3.pdf', 'ACKNOWLEDGED');
    expect((await handle.result()).state).toBe('ACKNOWLEDGED');
    const events = await stack.events(acknowledged.id);
    expect(events.map((e) => e.type)).toEqual(['RECEIVED', 'VALIDATED', 'ROUTED', 'SENT', 'ARCHIVED', 'ACKNOWLEDGED']);
    expect(events.at(-1)!.message).toContain('198.51.100.7');
    const ack = await stack.pg.query('select client, status, first from receipt where result_file_id = $1', [acknowledged.id]);
    expect(ack.rows).toEqual([{ client: '198.51.100.7', status: 200, first: true }]);
  });

  it.each([
    ['a PDF whose text lacks its identifier', '066-12000002-3.pdf', () => resultPdf('066-99999999-9'), 'IDENTIFIER_NOT_IN_TEXT'],
    ['a text file named .pdf', '066-12000003-3.pdf', () => 'Viral load result for 066-12000003-3\n', 'NOT_A_PDF'],
    ['a name matching no pattern', 'lab-report-march.pdf', () => resultPdf('lab-report-march'), 'NAME_NO_PATTERN'],
  ])('rejects %s with its reason, keeps it, and never sends it', async (_what, name, make, code) => {
    drop(name, make());
    const row = await rowFor(name, 'REJECTED');
    expect(row.rejection_code).toBe(code);
    expect(row.state_reason).toBeTruthy();
    expect(existsSync(row.archive_path!)).toBe(true); // kept in the rejected folder
    expect(row.archive_path!.startsWith(path.join(stack.dataDir, 'rejected'))).toBe(true);
    expect(JSON.parse(readFileSync(`${row.archive_path}.reason.json`, 'utf8'))).toMatchObject({ code });
    expect((await listTree(stack.sshd.remoteRoot)).filter((f) => f.includes(path.parse(name).name))).toEqual([]);
    expect((await stack.events(row.id)).map((e) => e.type)).toEqual(['RECEIVED', 'REJECTED']);
  });

  it('waits in NEEDS_FOLDER for an unknown hint, then completes once the mapping is loaded', async () => {
    drop('066-98000001-3.pdf', resultPdf('066-98000001-3'));
    const waiting = await rowFor('066-98000001-3.pdf', 'NEEDS_FOLDER');
    expect(waiting.state_reason).toContain('"98"');
    expect(existsSync(path.join(stack.uploadDir, '066-98000001-3.pdf'))).toBe(true); // nothing lost while it waits

    const csv = path.join(stack.dataDir, 'new-clinic.csv');
    writeFileSync(csv, 'base_path,folder,folder_tag,label\nviral_load,newclinic,98,BHS\n');
    const loaded = await stack.cli(['folders', 'load', csv]);
    expect(loaded.stdout).toContain('Asked 1 file(s) waiting for a folder to try again');

    const done = await rowFor('066-98000001-3.pdf', 'AWAITING_ACK');
    expect(done.remote_path).toBe('viral_load/newclinic/066-98000001-3.pdf');
    expect(existsSync(remote('viral_load', 'newclinic', '066-98000001-3.pdf'))).toBe(true);
    const types = (await stack.events(done.id)).map((e) => e.type);
    expect(types).toEqual(['RECEIVED', 'VALIDATED', 'NEEDS_FOLDER', 'ROUTED', 'SENT', 'ARCHIVED']);
  });

  it('delivers the same file dropped twice only once', async () => {
    const content = resultPdf('113-4567');
    drop('113-4567.pdf', content);
    const first = await rowFor('113-4567.pdf', 'AWAITING_ACK');
    drop('113-4567.pdf', content);
    const second = await waitFor('the second upload to be recorded', async () =>
      (await stack.fileRows()).find((r) => r.file_name === '113-4567.pdf' && r.id !== first.id && r.state === 'DUPLICATE'),
    );
    expect(second.duplicate_of).toBe(first.id);
    await waitFor('the copy to leave the upload folder', () => readdirSync(stack.uploadDir).length === 0);
    const delivered = (await listTree(stack.sshd.remoteRoot)).filter((f) => f.includes('113-4567'));
    expect(delivered).toEqual(['viral_load/maunatlala/113-4567.pdf']);
    expect(readdirSync(path.join(stack.dataDir, 'duplicates'), { recursive: true }).some((f) => String(f).endsWith('113-4567.pdf'))).toBe(true);
  });

  it('delivers two copies under different names that land together only once, keeping the second aside', async () => {
    const content = resultPdf('12-34-567-89');
    drop('12-34-567-89.pdf', content);
    drop('12-34-567-89 (copy).pdf', content);
    const rows = await waitFor('both uploads to be handled', async () => {
      const all = (await stack.fileRows()).filter((r) => r.sha256 === sha256OfBuffer(content));
      return all.length === 2 && all.every((r) => ['AWAITING_ACK', 'DUPLICATE'].includes(r.state)) && readdirSync(stack.uploadDir).length === 0
        ? all
        : undefined;
    });
    expect(rows.map((r) => r.state).sort()).toEqual(['AWAITING_ACK', 'DUPLICATE']);
    expect((await listTree(stack.sshd.remoteRoot)).filter((f) => f.startsWith('viral_load/gweta/12-34-567-89'))).toHaveLength(1);
  });

  it('keeps running while the watcher restarts, and picks up files that landed while it was down', async () => {
    await watcher.kill('SIGKILL');
    drop('066-17000001-3.pdf', resultPdf('066-17000001-3'));
    watcher = stack.startWatcher();
    const row = await rowFor('066-17000001-3.pdf', 'AWAITING_ACK');
    expect(row.remote_path).toBe('viral_load/bokaa/066-17000001-3.pdf');
  });

  it('survives the worker being stopped and started again', async () => {
    await worker.kill('SIGTERM');
    drop('066-35000001-3.pdf', resultPdf('066-35000001-3'));
    await rowFor('066-35000001-3.pdf', undefined, 5_000).then(
      () => {
        throw new Error('nothing should be recorded while no worker runs');
      },
      () => undefined,
    );
    worker = stack.startWorker();
    const row = await rowFor('066-35000001-3.pdf', 'AWAITING_ACK');
    expect(row.remote_path).toBe('viral_load/gumare/066-35000001-3.pdf');
  });
});
