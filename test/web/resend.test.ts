import { existsSync, readdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SEED_PATTERNS } from '../../src/config/patterns';
import { openOrm, type Orm } from '../../src/db/orm';
import { IdentifierPatterns } from '../../src/domain/identifier-patterns';
import { addUser } from '../../src/web/auth/users';
import { createWebApp } from '../../src/web/app';
import { fileTaskQueueFor } from '../../src/workflows/definitions';
import { resultPdf } from '../harness/pdf';
import { sha256OfBuffer, sha256OfFile } from '../harness/sshd';
import { startStack, type ResultFileRow, type Stack } from '../harness/stack';
import { waitFor } from '../harness/wait-for';
import { PASSWORD, TestBrowser } from './web-harness';

const SEED_CSV = path.join(__dirname, '..', '..', 'config', 'remote_folders.csv');

let stack: Stack;
let orm: Orm;
let app: ReturnType<typeof createWebApp>;

beforeAll(async () => {
  stack = await startStack();
  expect((await stack.cli(['folders', 'load', SEED_CSV])).code).toBe(0);
  stack.startWorker();
  stack.startWatcher();
  orm = await openOrm(stack.db.url);
  await addUser(orm.em.fork(), 'tom', PASSWORD, 'technician');
  app = createWebApp({
    healthChecks: {},
    orm,
    uploadDir: stack.uploadDir,
    maxFileBytes: 10 * 1024 * 1024,
    workflows: stack.workflows,
    temporalNamespace: 'default',
    // As `getresults start` would pass it: the archive is on this host.
    fileTaskQueue: fileTaskQueueFor(stack.env.GETRESULTS_HOST_ID!),
    pdfRoots: ['archive', 'rejected', 'duplicates'].map((d) => path.join(stack.dataDir, d)),
    patterns: new IdentifierPatterns(SEED_PATTERNS),
  });
}, 180_000);

afterAll(async () => {
  await orm?.close();
  await stack?.stop();
});

/** Drops a PDF into the upload folder as a lab PC would (renamed in whole) and waits until it is at its clinic. */
async function sentThroughTheWatcher(name: string, content: Buffer): Promise<ResultFileRow> {
  const temp = path.join(stack.uploadDir, `.${name}.part`);
  writeFileSync(temp, content);
  renameSync(temp, path.join(stack.uploadDir, name));
  return waitFor(`${name} to be sent and archived`, async () => (await stack.fileRows()).find((r) => r.file_name === name && r.state === 'AWAITING_ACK'), { timeoutMs: 90_000 });
}

describe('resend from the file page, on the whole stack', () => {
  it('copies the archived file to the clinic folder again after the clinic deleted it, and records who asked', async () => {
    const name = '066-12000009-3.pdf';
    const content = resultPdf('066-12000009-3');
    const row = await sentThroughTheWatcher(name, content);
    const delivered = path.join(stack.sshd.remoteRoot, row.remote_path!);
    expect(await sha256OfFile(delivered)).toBe(sha256OfBuffer(content));
    unlinkSync(delivered); // the clinic deleted it

    const b = new TestBrowser(app);
    expect((await b.login('tom')).status).toBe(303);
    const page = await (await b.request(`/files/${row.id}`)).text();
    const seq = /name="seq" value="(\d+)"/.exec(page)![1]!;
    const res = await b.form(`/files/${row.id}/resend`, { _csrf: b.csrf, seq });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/files/${row.id}?done=resend`);
    // The same form again (a double click) asks once.
    const again = await b.form(`/files/${row.id}/resend`, { _csrf: b.csrf, seq });
    expect(again.status).toBe(409);
    expect(await again.text()).toContain('already asked for');

    await waitFor('the RESENT event', async () => (await stack.events(row.id)).some((e) => e.type === 'RESENT'), { timeoutMs: 60_000 });
    expect(existsSync(delivered)).toBe(true);
    expect(await sha256OfFile(delivered)).toBe(sha256OfBuffer(content));
    const { rows } = await stack.pg.query(
      `select type, actor, state from file_event where result_file_id = $1 and type in ('RESEND_REQUESTED', 'RESENT', 'RESEND_FAILED') order by id`,
      [row.id],
    );
    expect(rows).toEqual([
      { type: 'RESEND_REQUESTED', actor: 'tom', state: null },
      { type: 'RESENT', actor: 'tom', state: null },
    ]);
    expect((await stack.fileRows()).find((r) => r.id === row.id)!.state).toBe('AWAITING_ACK'); // no state change
    const workflowId = `resend-${sha256OfBuffer(content)}-${seq}`;
    expect(JSON.stringify(workflowId)).not.toContain('12000009'); // no identifier in the ID
    await stack.temporalClient.workflow.getHandle(workflowId).result();

    const timeline = await (await b.request(`/files/${row.id}`)).text();
    expect(timeline).toContain('Sent again at tom');
  });
});

describe('withdraw from the file page, on the whole stack', () => {
  it('takes the file out of the clinic folder on server B (kept aside, not deleted), records who and why, and ends its wait', async () => {
    const name = '066-12000019-3.pdf';
    const content = resultPdf('066-12000019-3');
    const row = await sentThroughTheWatcher(name, content);
    const delivered = path.join(stack.sshd.remoteRoot, row.remote_path!);
    expect(existsSync(delivered)).toBe(true);

    const b = new TestBrowser(app);
    expect((await b.login('tom')).status).toBe(303);
    const page = await (await b.request(`/files/${row.id}`)).text();
    expect(page).toContain(`action="/files/${row.id}/withdraw"`);
    const seq = /action="\/files\/\d+\/withdraw">[\s\S]*?name="seq" value="(\d+)"/.exec(page)![1]!;
    expect((await b.form(`/files/${row.id}/withdraw`, { _csrf: b.csrf, seq, reason: '' })).status).toBe(409); // a reason is required
    const res = await b.form(`/files/${row.id}/withdraw`, { _csrf: b.csrf, seq, reason: 'sent to the wrong clinic' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/files/${row.id}?done=withdraw`);

    await waitFor('the file to be withdrawn', async () => (await stack.fileRows()).find((r) => r.id === row.id)!.state === 'WITHDRAWN', { timeoutMs: 60_000 });
    expect(existsSync(delivered)).toBe(false);
    const aside = path.join(stack.sshd.remoteRoot, '.withdrawn', `${row.remote_path!}.w-${row.id}-${seq}`);
    expect(await sha256OfFile(aside)).toBe(sha256OfBuffer(content));
    const { rows } = await stack.pg.query(`select type, actor, state from file_event where result_file_id = $1 and type like 'WITHDRAW%' order by id`, [row.id]);
    expect(rows).toEqual([
      { type: 'WITHDRAW_REQUESTED', actor: 'tom', state: null },
      { type: 'WITHDRAWN', actor: 'tom', state: 'WITHDRAWN' },
    ]);
    // The file's own run, which was waiting for the clinic's fetch, has ended as withdrawn.
    const handle = stack.temporalClient.workflow.getHandle(row.workflow_id);
    await waitFor('the file\'s run to end', async () => (await handle.describe()).status.name === 'COMPLETED', { timeoutMs: 30_000 });
    expect(await handle.result()).toMatchObject({ state: 'WITHDRAWN' });
    const after = await (await b.request(`/files/${row.id}`)).text();
    expect(after).toContain('Withdrawn by tom: sent to the wrong clinic');
    expect(after).not.toContain(`action="/files/${row.id}/withdraw"`);
  });
});

describe('replace a sent result by a corrected one, on the whole stack', () => {
  it('withdraws the earlier version first, so the clinic folder holds only the corrected one under the plain name; both pages link', async () => {
    const name = '066-12000039-3.pdf';
    const first = resultPdf('066-12000039-3');
    const old = await sentThroughTheWatcher(name, first);
    const clinicFolder = path.join(stack.sshd.remoteRoot, path.dirname(old.remote_path!));

    const corrected = resultPdf('066-12000039-3', { paddingBytes: 512 });
    const b = new TestBrowser(app);
    expect((await b.login('tom')).status).toBe(303);
    await b.request('/upload');
    const form = new FormData();
    form.append('_csrf', b.csrf);
    form.append('replaces', '1');
    form.append('files', new File([corrected], name, { type: 'application/pdf' }));
    const answer = await (await b.request('/upload', { method: 'POST', body: form })).text();
    expect(answer).toContain('1 of 1 file(s) saved');
    expect(answer).toContain(`It replaces <a href="/files/${old.id}">file #${old.id}</a>, now withdrawn from viral_load/digawana.`);

    const current = await waitFor('the corrected file to be sent', async () => (await stack.fileRows()).find((r) => r.file_name === name && r.id !== old.id && r.state === 'AWAITING_ACK'), { timeoutMs: 90_000 });
    expect(current.remote_path).toBe(old.remote_path); // the plain name, not name__<hash>.pdf
    expect(readdirSync(clinicFolder).filter((n) => n.startsWith('066-12000039-3'))).toEqual([name]);
    expect(await sha256OfFile(path.join(clinicFolder, name))).toBe(sha256OfBuffer(corrected));
    expect(await sha256OfFile(path.join(stack.sshd.remoteRoot, '.withdrawn', `${old.remote_path!}.w-${old.id}-${/w-\d+-(\d+)/.exec((await stack.pg.query(`select detail->>'withdrawalId' as w from file_event where result_file_id = $1 and type = 'WITHDRAWN'`, [old.id])).rows[0].w)![1]}`))).toBe(sha256OfBuffer(first));
    expect((await stack.fileRows()).find((r) => r.id === old.id)!.state).toBe('WITHDRAWN');
    expect(await (await b.request(`/files/${current.id}`)).text()).toContain(`<a href="/files/${old.id}">#${old.id}</a> (Withdrawn`);
    expect(await (await b.request(`/files/${old.id}`)).text()).toContain(`<a href="/files/${current.id}">#${current.id}</a> (Sent, not yet fetched`);
  });
});
