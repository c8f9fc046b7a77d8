import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { FileEvent, RemoteFolder, ResultFile } from '../../src/db/entities';
import { TestBrowser, seedFile, startWebTestEnv, type WebTestEnv } from './web-harness';

/**
 * Issue 12's findings from a technician's and a lab manager's walk through the page: one banner for what needs a
 * person, the reason beside each file, what a rejected name claims, Retry that says when nothing changed, actions
 * that return where they were taken, and who viewed a PDF.
 */
let env: WebTestEnv;
let tom: TestBrowser;
let ada: TestBrowser;

async function signedInAs(username: string): Promise<TestBrowser> {
  const b = new TestBrowser(env.app);
  expect((await b.login(username)).status).toBe(303);
  await b.request('/');
  return b;
}

beforeAll(async () => {
  env = await startWebTestEnv();
  tom = await signedInAs('tom');
  ada = await signedInAs('ada');
});
afterAll(async () => env?.close());

const setRow = (id: number, patch: Partial<{ stateReason: string; rejectionCode: string; label: string; hint: string; uploadedAt: Date }>) =>
  env.orm.em.fork().nativeUpdate(ResultFile, { id }, patch);
const events = (id: number, type: string) => env.orm.em.fork().find(FileEvent, { resultFileId: id, type });

describe('needs a person', () => {
  let rejected: number;
  let old: number;
  let needsFolder: number;
  let blocked: number;
  beforeAll(async () => {
    rejected = await seedFile(env.orm, { fileName: '066-12000101-3.pdf', state: 'REJECTED' });
    await setRow(rejected, { stateReason: 'The identifier 066-12000101-3 from the file name does not appear anywhere in the PDF.', rejectionCode: 'ID_NOT_IN_TEXT' });
    old = await seedFile(env.orm, { fileName: '066-12000102-3.pdf', state: 'REJECTED', uploadedAt: new Date(Date.now() - 30 * 86_400_000) });
    needsFolder = await seedFile(env.orm, { fileName: '066-77000103-3.pdf', state: 'NEEDS_FOLDER', identifier: '066-77000103-3' });
    await setRow(needsFolder, { stateReason: 'No clinic folder is set up for BHS hint "77".', label: 'BHS', hint: '77' });
    blocked = await seedFile(env.orm, { fileName: '066-12000104-3.pdf', state: 'TRANSFER_BLOCKED' });
  });

  it('counts rejected (recent), needs-folder and blocked files in one banner with links; admins get the folders link', async () => {
    const page = await (await tom.request('/')).text();
    const banner = page.slice(page.indexOf('id="needs-a-person"'), page.indexOf('</div>', page.indexOf('id="needs-a-person"')));
    expect(banner).toMatch(/<a href="\/files\?state=REJECTED&amp;from=\d{4}-\d{2}-\d{2}"><strong>1<\/strong> rejected in the last 7 days<\/a>/);
    expect(banner).toMatch(/<strong>1<\/strong> need a clinic folder<\/a>: ask an admin to add the folders/);
    expect(banner).toMatch(/<strong>1<\/strong> transfer blocked<\/a>/);
    expect(banner).not.toContain('href="/folders"'); // a technician would get a 403 there
    expect(await (await ada.request('/')).text()).toMatch(/add the folders on <a href="\/folders">Remote folders<\/a>/);
    void old;
  });

  it('shows each waiting or rejected file\'s reason in the file list', async () => {
    const list = await (await tom.request('/files')).text();
    expect(list).toContain('<th>Why</th>');
    expect(list).toContain('does not appear anywhere in the PDF.');
    expect(list).toContain('No clinic folder is set up for BHS hint &quot;77&quot;.');
    void blocked;
  });

  it('Retry with no folder added says so, and adds nothing to the timeline; once the folder exists it is asked for', async () => {
    const before = (await env.orm.em.fork().count(FileEvent, { resultFileId: needsFolder })) as number;
    const res = await tom.form(`/files/${needsFolder}/retry`, { _csrf: tom.csrf });
    expect(res.status).toBe(409);
    const text = await res.text();
    expect(text).toContain('Nothing has changed: there is still no clinic folder for BHS hint &quot;77&quot;, so it was not tried again.');
    expect(text).toContain('Ask an admin to add the folder: the file is then sent by itself.');
    expect(await env.orm.em.fork().count(FileEvent, { resultFileId: needsFolder })).toBe(before);
    const em = env.orm.em.fork();
    em.create(RemoteFolder, { label: 'BHS', folderTag: '77', folder: 'newclinic', basePath: 'viral_load' });
    await em.flush();
    // Now something has changed: the retry goes on to the workflow (here there is no Temporal, and the page says so).
    expect(await (await tom.form(`/files/${needsFolder}/retry`, { _csrf: tom.csrf })).text()).toContain('not connected to Temporal');
  });
});

describe('a rejected file\'s page', () => {
  it('shows the identifier its name claims, and a name rejected for its style in the styles\' words, not regexes', async () => {
    const claimed = await seedFile(env.orm, { fileName: '066-12000111-3.pdf', state: 'REJECTED' });
    const page = await (await tom.request(`/files/${claimed}`)).text();
    expect(page).toMatch(/<span class="mono">066-12000111-3<\/span> <span class="muted small">\(what its name claims: style BHS, clinic hint 12\)/);

    const unnamed = await seedFile(env.orm, { fileName: 'results march.pdf', state: 'REJECTED' });
    // As recorded before issue 12: the reason held the regexes.
    await setRow(unnamed, { rejectionCode: 'NAME_NO_PATTERN', stateReason: 'The file name does not follow any known result naming style. Expected one of: BHS (^066-[0-9]{8}-[0-9]).' });
    const text = await (await tom.request(`/files/${unnamed}`)).text();
    expect(text).toContain("its name follows none of the lab's naming styles");
    expect(text).toContain("does not follow any of the lab&#39;s naming styles: BHS, like 066-12000001-3.pdf; CDC1, like 112-0001.pdf or CDC2, like 01-12-345-67.pdf.");
    // The page's own words, and the reason (escaped, as every value is); no regex left.
    expect(text).not.toContain('[0-9]');
  });
});

describe('actions return where they were taken', () => {
  it('"Mark as checked and sent" on a file\'s page returns to that page', async () => {
    const id = await seedFile(env.orm, { fileName: '066-12000121-3.pdf', state: 'AWAITING_ACK' });
    const res = await tom.form('/files/audit', { _csrf: tom.csrf, ids: String(id), batch: '00000000-0000-4000-8000-000000000121', back: `/files/${id}` });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/files/${id}?done=audited`);
    expect(await (await tom.request(`/files/${id}?done=audited`)).text()).toContain('Marked as checked and sent.');
  });
});

describe('who viewed a PDF', () => {
  it('records each view of an archived PDF on the file\'s timeline, with the viewer', async () => {
    const archived = path.join(env.archiveDir, '066-12000131-3.pdf');
    writeFileSync(archived, '%PDF-1.4\n%%EOF\n');
    const id = await seedFile(env.orm, { fileName: '066-12000131-3.pdf', state: 'AWAITING_ACK', archivePath: archived });
    // Opening the file's page does not count as a view: the PDF shows only when asked for.
    await tom.request(`/files/${id}`);
    expect(await events(id, 'PDF_VIEWED')).toHaveLength(0);
    expect((await tom.request(`/files/${id}/pdf`, { html: false })).status).toBe(200);
    expect((await ada.request(`/files/${id}/pdf`, { html: false })).status).toBe(200);
    const viewed = await events(id, 'PDF_VIEWED');
    expect(viewed.map((e) => e.actor).sort()).toEqual(['ada', 'tom']);
    expect(await (await tom.request(`/files/${id}`)).text()).toContain('tom viewed the PDF on the web page.');
  });
});
