import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { FileEvent, FolderChange, RemoteFolder, ResultFile } from '../../src/db/entities';
import { FileLedger } from '../../src/db/file-ledger';
import { resultPdf } from '../harness/pdf';
import { DEFAULT_LAB_ID } from '../harness/database';
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

  it('on a file waiting for a folder, technicians are told to ask an admin, and an admin gets the link', async () => {
    expect(await (await tom.request(`/files/${needsFolder}`)).text()).not.toContain('Add the folder on Remote folders');
    expect(await (await tom.request(`/files/${needsFolder}`)).text()).toContain('Ask an admin to add the folder');
    expect(await (await ada.request(`/files/${needsFolder}`)).text()).toContain('<a href="/folders?q=77">Add the folder on Remote folders</a> (style BHS, hint 77)');
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
    em.create(RemoteFolder, { labId: DEFAULT_LAB_ID, label: 'BHS', folderTag: '77', folder: 'newclinic', basePath: 'viral_load' });
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

describe('remote folders: search and delete', () => {
  let inUse: number;
  let free: number;
  beforeAll(async () => {
    const em = env.orm.em.fork();
    const a = em.create(RemoteFolder, { labId: DEFAULT_LAB_ID, label: 'BHS', folderTag: '31', folder: 'mochudi', basePath: 'viral_load' });
    const b = em.create(RemoteFolder, { labId: DEFAULT_LAB_ID, label: 'CDC1', folderTag: '32', folder: 'molepolole', basePath: 'viral_load' });
    await em.flush();
    [inUse, free] = [a.id, b.id];
    const sending = await seedFile(env.orm, { fileName: '066-31000141-3.pdf', state: 'AWAITING_ACK', clinicFolder: 'viral_load/mochudi' });
    await setRow(sending, { label: 'BHS', hint: '31' });
  });

  it('finds rows by label, hint or folder', async () => {
    const page = await (await ada.request('/folders?q=MOLEPO')).text();
    expect(page).toContain('<td>molepolole</td>');
    expect(page).not.toContain('<td>mochudi</td>');
    expect(page).toMatch(/1 of \d+ rows match “MOLEPO”/);
    expect(await (await ada.request('/folders?q=31')).text()).toContain('<td>mochudi</td>');
  });

  it('refuses to delete a row while a file sent through it is still on its way or waiting for its fetch', async () => {
    const ask = await ada.request(`/folders/${inUse}/delete`);
    expect(ask.status).toBe(409);
    expect(await ask.text()).toContain('It cannot be deleted now');
    const forced = await ada.form(`/folders/${inUse}/delete`, { _csrf: ada.csrf });
    expect(forced.status).toBe(409);
    expect(await env.orm.em.fork().count(RemoteFolder, { id: inUse })).toBe(1);
  });

  it('deletes a row only after the question, records who did it, and refuses technicians', async () => {
    expect((await tom.request(`/folders/${free}/delete`)).status).toBe(403);
    expect((await tom.form(`/folders/${free}/delete`, { _csrf: tom.csrf })).status).toBe(403);
    const ask = await (await ada.request(`/folders/${free}/delete`)).text();
    expect(ask).toContain('Delete CDC1 32 → viral_load/molepolole?');
    const done = await ada.form(`/folders/${free}/delete`, { _csrf: ada.csrf });
    expect(done.status).toBe(200);
    const page = await done.text();
    expect(page).toContain('Deleted CDC1 32 → viral_load/molepolole.');
    expect(page).toMatch(/<td>ada<\/td><td>deleted CDC1 32<\/td><td class="small">CDC1 32 → viral_load\/molepolole<\/td>/);
    expect(await env.orm.em.fork().count(RemoteFolder, { id: free })).toBe(0);
    const changes = await env.orm.em.fork().find(FolderChange, { action: 'deleted' });
    expect(changes).toMatchObject([{ actor: 'ada', label: 'CDC1', folderTag: '32', before: 'CDC1 32 → viral_load/molepolole', after: null }]);
  });
});

describe('the turnaround report', () => {
  const at = (d: number, h: number) => new Date(2026, 10, d, h); // November 2026, the web process's time zone
  const hours = (n: number) => n * 3_600_000;
  beforeAll(async () => {
    const seed = async (name: string, clinicFolder: string, sentAt: Date, fetchedAfter?: number) => {
      const id = await seedFile(env.orm, { fileName: name, state: fetchedAfter === undefined ? 'AWAITING_ACK' : 'ACKNOWLEDGED', clinicFolder });
      await env.orm.em.fork().nativeUpdate(ResultFile, { id }, { sentAt, acknowledgedAt: fetchedAfter === undefined ? null : new Date(sentAt.getTime() + hours(fetchedAfter)) });
    };
    // alpha: five sent in the period, fetched after 1, 2, 3 and 10 hours, one not fetched.
    for (const [i, after] of [1, 2, 3, 10, undefined].entries()) await seed(`066-41000${i}01-3.pdf`, 'viral_load/alpha', at(10 + i, 8), after);
    // beta: two sent, none fetched; one more sent before the period, which does not count.
    await seed('066-42000101-3.pdf', 'viral_load/beta', at(20, 9));
    await seed('066-42000102-3.pdf', 'viral_load/beta', at(21, 9));
    await seed('066-42000103-3.pdf', 'viral_load/beta', new Date(2026, 9, 15, 9), 1);
    // A folder name a spreadsheet would run as a formula.
    await seed('066-43000101-3.pdf', '=HYPERLINK("http://x")', at(22, 9), 4);
  });

  it('gives per clinic the files sent, fetched, the median and 90th percentile to first fetch, and those still not fetched', async () => {
    const page = await (await tom.request('/report?from=2026-11-01&to=2026-11-30')).text();
    const row = (folder: string) => new RegExp(`<td><a href="/files\\?clinic=${encodeURIComponent(folder).replace(/%2F/g, '%2F')}[^"]*">${folder}</a></td>\\s*<td class="num">(\\d+)</td><td class="num">(\\d+)</td><td class="num">([^<]+)</td><td class="num">([^<]+)</td><td class="num">(\\d+)</td>`).exec(page)?.slice(1);
    // percentile_cont over 1, 2, 3, 10 hours: median 2.5 h, 90th percentile 3 + 0.7 × 7 = 7.9 h.
    expect(row('viral_load/alpha')).toEqual(['5', '4', '2.5 h', '7.9 h', '1']);
    expect(row('viral_load/beta')).toEqual(['2', '0', '—', '—', '2']);
    expect(page).toMatch(/<th>All clinics<\/th>\s*<th class="num">8<\/th><th class="num">5<\/th><th class="num">3.0 h<\/th>/);
    expect(page).toContain('<title>viral_load/alpha: median 2.5 h, 90% within 7.9 h (4 of 5 fetched)</title>');
    // One clinic only.
    const beta = await (await tom.request('/report?from=2026-11-01&to=2026-11-30&clinic=beta')).text();
    expect(beta).toContain('viral_load/beta');
    expect(beta).not.toContain('viral_load/alpha');
  });

  it('exports the same figures as CSV, durations in seconds, formulas defused', async () => {
    const res = await tom.request('/report.csv?from=2026-11-01&to=2026-11-30', { html: false });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="turnaround-2026-11-01-to-2026-11-30.csv"');
    expect((await res.text()).trim().split('\n')).toEqual([
      '"clinic_folder","sent","fetched","median_seconds_to_first_fetch","p90_seconds_to_first_fetch","not_fetched"',
      `"'=HYPERLINK(""http://x"")","1","1","14400","14400","0"`,
      '"viral_load/alpha","5","4","9000","28440","1"',
      '"viral_load/beta","2","0","","","2"',
    ]);
    expect((await new TestBrowser(env.app).request('/report.csv', { html: false })).status).toBe(401);
  });

  it('refuses a period that is no period with a 400 page, and shows the chart on the dashboard', async () => {
    expect((await tom.request('/report?from=2026-13-01')).status).toBe(400);
    const backwards = await tom.request('/report?from=2026-11-30&to=2026-11-01');
    expect(backwards.status).toBe(400);
    expect(await backwards.text()).toContain('The period starts after it ends.');
    const dashboard = await (await tom.request('/')).text();
    expect(dashboard).toContain('How fast clinics fetch, last 30 days');
    expect(dashboard).toContain('<a href="/report">The report, by clinic and period</a>');
  });
});

describe('upload answers with what will happen', () => {
  it('runs the pipeline\'s checks before answering: sent to a folder, waiting for one, or rejected with the reason', async () => {
    const em = env.orm.em.fork();
    em.create(RemoteFolder, { labId: DEFAULT_LAB_ID, label: 'BHS', folderTag: '51', folder: 'digawana', basePath: 'viral_load' });
    await em.flush();
    const form = new FormData();
    form.append('_csrf', tom.csrf);
    const add = (name: string, data: Buffer) => form.append('files', new File([data], name, { type: 'application/pdf' }));
    add('066-51000001-3.pdf', resultPdf('066-51000001-3'));
    add('066-88000002-3.pdf', resultPdf('066-88000002-3'));
    add('066-51000003-3.pdf', resultPdf('066-51000099-3')); // another patient's result under this name
    const text = await (await tom.request('/upload', { method: 'POST', body: form })).text();
    expect(text).toContain('3 of 3 file(s) saved');
    expect(text).toMatch(/066-51000001-3\.pdf<\/td><td><span class="tone-ok">Saved\.<\/span> <span class="tone-ok">It will be sent to viral_load\/digawana\.<\/span>/);
    expect(text).toMatch(/066-88000002-3\.pdf<\/td><td><span class="tone-ok">Saved\.<\/span> <span class="tone-wait">It will wait for a clinic folder: none is set up for BHS hint &quot;88&quot;\. Ask an admin/);
    expect(text).toMatch(/066-51000003-3\.pdf<\/td><td><span class="tone-ok">Saved\.<\/span> <span class="tone-bad">It will be rejected: The identifier 066-51000003-3 from the file name does not appear anywhere in the PDF\./);
  });

  it('says when a result for the same identifier was sent before, and how to send this one in its place', async () => {
    const earlier = await seedFile(env.orm, { fileName: '066-51000201-3.pdf', identifier: '066-51000201-3', state: 'AWAITING_ACK', clinicFolder: 'viral_load/digawana' });
    await env.orm.em.fork().nativeUpdate(ResultFile, { id: earlier }, { remotePath: 'viral_load/digawana/066-51000201-3.pdf' });
    const form = new FormData();
    form.append('_csrf', tom.csrf);
    form.append('files', new File([resultPdf('066-51000201-3', { paddingBytes: 64 })], '066-51000201-3.pdf', { type: 'application/pdf' }));
    const text = await (await tom.request('/upload', { method: 'POST', body: form })).text();
    expect(text).toContain(`A result for 066-51000201-3 was already sent as <a href="/files/${earlier}">file #${earlier}</a> (sent, not yet fetched).`);
    expect(text).toContain('upload it again with “These are corrected results” ticked');
    // Ticked, on a page with no Temporal connection: nothing is withdrawn and nothing saved, and the page says why.
    const again = new FormData();
    again.append('_csrf', tom.csrf);
    again.append('replaces', '1');
    again.append('files', new File([resultPdf('066-51000201-3', { paddingBytes: 96 })], '066-51000201-3-b.pdf', { type: 'application/pdf' }));
    const refused = await (await tom.request('/upload', { method: 'POST', body: again })).text();
    expect(refused).toContain('Replacing needs this web page connected to Temporal');
    expect(refused).toContain('0 of 1 file(s) saved');
  });
});

describe('a withdrawn file\'s page', () => {
  it('shows requests for its old path after the withdrawal, as not counting, and offers neither withdraw nor resend', async () => {
    const id = await seedFile(env.orm, { fileName: '066-12000161-3.pdf', state: 'AWAITING_ACK', clinicFolder: 'viral_load/wrongclinic', archivePath: '/nowhere/066-12000161-3.pdf' });
    await env.orm.em.fork().nativeUpdate(ResultFile, { id }, { remotePath: 'viral_load/wrongclinic/066-12000161-3.pdf' });
    const ledger = new FileLedger(env.orm.em.fork());
    await ledger.recordWithdrawn(id, { withdrawalId: 'w-161-1', actor: 'tom', reason: 'sent to the wrong clinic', outcome: 'moved', movedTo: '.withdrawn/viral_load/wrongclinic/066-12000161-3.pdf.w-161-1' });
    await ledger.recordUnknownFetch({ evidenceKey: 'late-1', accessedAt: new Date(Date.now() + 1000).toISOString(), client: '10.30.0.9', requestLine: 'GET /viral_load/wrongclinic/066-12000161-3.pdf HTTP/1.1', status: 404, remotePath: 'viral_load/wrongclinic/066-12000161-3.pdf' });
    const page = await (await tom.request(`/files/${id}`)).text();
    expect(page).toContain('Asked for after it was withdrawn');
    expect(page).toContain('10.30.0.9');
    expect(page).toContain('Withdrawn by tom: sent to the wrong clinic');
    expect(page).not.toContain(`/files/${id}/withdraw`);
    expect(page).not.toContain(`/files/${id}/resend`);
  });
});
