import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FileEvent, RemoteFolder, UnknownFetch } from '../../src/db/entities';
import { FileLedger } from '../../src/db/file-ledger';
import { findRemoteFolder } from '../../src/remote-folders/remote-folder-table';
import { createLab, labIdByName, registerUploadHost } from '../../src/labs/upload-hosts';
import { addUser } from '../../src/web/auth/users';
import { DEFAULT_LAB_ID } from '../harness/database';
import { resultPdf } from '../harness/pdf';
import { PASSWORD, TestBrowser, seedFile, startWebTestEnv, type WebTestEnv } from './web-harness';

/**
 * Labs are first-class (issue 13): a technician sees and acts on the files of their own lab only, at every route; a
 * file of another lab answers 404, exactly as an id that does not exist. An admin without a lab sees every lab's.
 * The web page here runs beside the default lab's upload host `lab-a-host`.
 */
let env: WebTestEnv;
let northId: number;
let ownFile: number;
let northFile: number;
const tom = () => login('tom'); // technician of `default`
const nina = () => login('nina'); // technician of `north`

async function login(username: string): Promise<TestBrowser> {
  const b = new TestBrowser(env.app, { 'x-forwarded-for': '192.0.2.91' });
  expect((await b.login(username)).status).toBe(303);
  return b;
}

beforeAll(async () => {
  // The web page runs beside the default lab's host (a fresh database's lab `default` has id 1), registered as
  // `getresults web` registers it at start.
  env = await startWebTestEnv({ uploadHost: { name: 'lab-a-host', labId: DEFAULT_LAB_ID } });
  const fork = env.orm.em.fork();
  await registerUploadHost(fork, 'lab-a-host', 'default');
  await createLab(fork, { name: 'north', title: 'North lab' });
  northId = (await labIdByName(fork, 'north'))!;
  const northHost = await registerUploadHost(fork, 'north-1', 'north');
  await addUser(env.orm.em.fork(), 'nina', PASSWORD, 'technician', 'north');

  const pdf = path.join(env.archiveDir, '066-12000001-3.pdf');
  writeFileSync(pdf, resultPdf('066-12000001-3'));
  ownFile = await seedFile(env.orm, { fileName: '066-12000001-3.pdf', state: 'AWAITING_ACK', identifier: '066-12000001-3', archivePath: pdf, clinicFolder: 'viral_load/digawana' });
  // North's file, registered by north's host as its worker does (the ledger records host and lab).
  const ledger = new FileLedger(env.orm.em.fork());
  ({ resultFileId: northFile } = await ledger.register({
    workflowId: 'file-north',
    runId: 'run-north-1',
    fileName: '066-44000001-3.pdf',
    uploadPath: '/north/upload/066-44000001-3.pdf',
    sizeBytes: 999,
    sha256: 'b'.repeat(64),
    uploadedAt: new Date(),
    host: northHost,
  }));
  await ledger.transition(
    northFile,
    'NEEDS_FOLDER',
    { eventKey: 'seed:north', type: 'NEEDS_FOLDER', message: 'Seeded.' },
    { identifier: '066-44000001-3', label: 'BHS', hint: '44', archivePath: pdf, clinicFolder: 'viral_load/northclinic', sentAt: new Date(Date.now() - 10 * 86_400_000) },
  );
});
afterAll(async () => env?.close());

describe('a file records its lab and host', () => {
  it('takes them from the host that registered it; files from before (no host) are the default lab\'s', async () => {
    const em = env.orm.em.fork();
    const rows = await em.getConnection().execute<Array<{ id: string; lab_id: number; upload_host: string | null }>>(
      'select id, lab_id, upload_host from result_file where id in (?, ?) order by id',
      [ownFile, northFile],
    );
    expect(rows.map((r) => [Number(r.id), r.lab_id, r.upload_host])).toEqual([
      [ownFile, DEFAULT_LAB_ID, null],
      [northFile, northId, 'north-1'],
    ]);
  });

  it('refuses to register a host in a lab other than the one it belongs to, or in a lab that does not exist', async () => {
    const em = env.orm.em.fork();
    await expect(registerUploadHost(em, 'north-1', 'default')).rejects.toThrow('belongs to the lab "north"');
    await expect(registerUploadHost(em, 'new-host', 'south')).rejects.toThrow('getresults labs add south');
  });
});

describe('another lab\'s file answers 404 at every route', () => {
  it('the list and the search show only the own lab\'s files', async () => {
    const t = await (await (await tom()).request('/files')).text();
    expect(t).toContain('066-12000001-3.pdf');
    expect(t).not.toContain('066-44000001-3');
    const searched = await (await (await tom()).request('/files?q=066-44')).text();
    expect(searched).not.toContain('066-44000001-3');
    const n = await (await (await nina()).request('/files')).text();
    expect(n).toContain('066-44000001-3.pdf');
    expect(n).not.toContain('066-12000001-3');
  });

  it('the file page, the PDF and every action of another lab\'s file are 404 and change nothing', async () => {
    const b = await tom();
    await b.request('/files');
    const before = await env.orm.em.fork().count(FileEvent, { resultFileId: northFile });
    expect((await b.request(`/files/${northFile}`)).status).toBe(404);
    expect((await b.request(`/files/${northFile}/pdf`)).status).toBe(404);
    for (const action of ['retry', 'resend', 'withdraw', 'undo-ack']) {
      const res = await b.form(`/files/${northFile}/${action}`, { _csrf: b.csrf, seq: '1', reason: 'wrong lab' });
      expect([action, res.status]).toEqual([action, 404]);
    }
    // The list's bulk action names ids itself: another lab's are skipped.
    await b.form('/files/audit', { _csrf: b.csrf, ids: [String(northFile)], batch: '00000000-0000-4000-8000-000000000001' });
    expect(await env.orm.em.fork().count(FileEvent, { resultFileId: northFile })).toBe(before);
    // A file that does not exist answers the same.
    expect((await b.request('/files/999999')).status).toBe(404);
    // The own lab's file is there, PDF included.
    expect((await b.request(`/files/${ownFile}`)).status).toBe(200);
    expect((await b.request(`/files/${ownFile}/pdf`)).status).toBe(200);
    const nb = await nina();
    expect((await nb.request(`/files/${ownFile}`)).status).toBe(404);
    expect((await nb.request(`/files/${ownFile}/pdf`)).status).toBe(404);
  });

  it('the report, its CSV, the receipts, the pending page and the dashboard count the own lab only', async () => {
    // A fetch of a path we sent nothing to may name any lab's patient: with several labs, only a deployment admin sees it.
    const em = env.orm.em.fork();
    em.create(UnknownFetch, {
      remotePath: 'viral_load/elsewhere/066-55000001-3.pdf',
      accessedAt: new Date(),
      client: '192.0.2.5',
      requestLine: 'GET /results/viral_load/elsewhere/066-55000001-3.pdf HTTP/1.1',
      evidenceKey: 'lab-scope-unknown-1',
    });
    await em.flush();
    const b = await tom();
    expect(await (await b.request('/receipts')).text()).not.toContain('066-55000001-3');
    expect(await (await (await login('ada')).request('/receipts')).text()).toContain('066-55000001-3');
    const csv = await (await b.request('/report.csv?from=2000-01-01&to=2999-12-31')).text();
    expect(csv).not.toContain('northclinic');
    expect(await (await b.request('/receipts?days=1')).text()).not.toContain('066-44000001-3');
    expect(await (await b.request('/pending')).text()).not.toContain('066-44000001-3');
    const dashboard = await (await b.request('/')).text();
    expect(dashboard).not.toContain('need a clinic folder'); // north's file waits for a folder; tom's lab has none waiting
    const nb = await nina();
    expect(await (await nb.request('/')).text()).toContain('need a clinic folder');
    expect(await (await nb.request('/pending')).text()).toContain('066-44000001-3');
  });

  it('an admin of the whole deployment sees every lab\'s files', async () => {
    const a = await login('ada');
    const list = await (await a.request('/files')).text();
    expect(list).toContain('066-12000001-3.pdf');
    expect(list).toContain('066-44000001-3.pdf');
    expect((await a.request(`/files/${northFile}`)).status).toBe(200);
  });
});

describe('folders and uploads are the lab\'s own', () => {
  it('each lab routes through its own folder table: the same hint may go to different folders', async () => {
    const em = env.orm.em.fork();
    em.create(RemoteFolder, { labId: DEFAULT_LAB_ID, label: 'BHS', folderTag: '44', folder: 'southclinic', basePath: 'viral_load' });
    em.create(RemoteFolder, { labId: northId, label: 'BHS', folderTag: '44', folder: 'northclinic', basePath: 'viral_load' });
    await em.flush();
    const lookupEm = env.orm.em.fork();
    expect(await findRemoteFolder(lookupEm, 'BHS', '44', northId)).toEqual({ folder: 'northclinic', basePath: 'viral_load' });
    expect(await findRemoteFolder(lookupEm, 'BHS', '44', DEFAULT_LAB_ID)).toEqual({ folder: 'southclinic', basePath: 'viral_load' });
    // A lab that shares another's table routes through that one.
    await createLab(em, { name: 'north-annex', title: 'North annex', foldersOf: 'north' });
    expect(await findRemoteFolder(lookupEm, 'BHS', '44', (await labIdByName(em, 'north-annex'))!)).toEqual({ folder: 'northclinic', basePath: 'viral_load' });
  });

  it('an upload on a page beside another lab\'s host is refused and saves nothing', async () => {
    const b = await nina();
    await b.request('/upload');
    const form = new FormData();
    form.append('_csrf', b.csrf);
    form.append('files', new File([resultPdf('066-44000002-3')], '066-44000002-3.pdf', { type: 'application/pdf' }));
    const res = await b.request('/upload', { method: 'POST', body: form });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('belongs to another lab; nothing was saved');
    expect(readdirSync(env.uploadDir).filter((n) => n.endsWith('.pdf'))).toEqual([]);
    expect(existsSync(path.join(env.uploadDir, '066-44000002-3.pdf'))).toBe(false);
  });
});
