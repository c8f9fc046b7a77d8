import { utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FileEvent, LogScanRun, Receipt, ResultFile, UnknownFetch } from '../../src/db/entities';
import { TestBrowser, seedFile, startWebTestEnv, type WebTestEnv } from './web-harness';

let env: WebTestEnv;

beforeAll(async () => {
  env = await startWebTestEnv({ trustProxy: true });
});
afterAll(async () => env?.close());

async function signedIn(ip: string, username = 'tom'): Promise<TestBrowser> {
  const b = new TestBrowser(env.app, { 'x-forwarded-for': ip });
  expect((await b.login(username)).status).toBe(303);
  await b.request('/');
  return b;
}

const XSS = `<script>alert("x")</script>`;
const DAY = 24 * 60 * 60 * 1000;

function expectEscaped(text: string): void {
  expect(text).not.toContain('<script>alert');
  expect(text).not.toContain('<img src=x');
}

describe('anonymous callers', () => {
  it.each(['/pending', '/receipts', '/receipts?days=7'])('GET %s is sent to the login form (browser) or refused (401)', async (url) => {
    const b = new TestBrowser(env.app);
    const page = await b.request(url, { redirect: 'manual' });
    expect(page.status).toBe(302);
    expect(page.headers.get('location')).toBe(`/login?next=${encodeURIComponent(url)}`);
    expect((await b.request(url, { html: false })).status).toBe(401);
  });

  it('POST /files/:id/resend is refused with 401', async () => {
    const b = new TestBrowser(env.app);
    expect((await b.request('/files/1/resend', { method: 'POST', body: new URLSearchParams({ seq: '1' }) })).status).toBe(401);
  });
});

describe('pending', () => {
  let b: TestBrowser;
  let needsFolder: number;
  let blocked: number;
  let slowCheck: number;
  let checking: number;
  let pickedUp: number;

  beforeAll(async () => {
    b = await signedIn('192.0.2.70');
    needsFolder = await seedFile(env.orm, { fileName: `${XSS}.pdf`, state: 'NEEDS_FOLDER' });
    blocked = await seedFile(env.orm, { fileName: 'blocked.pdf', state: 'TRANSFER_BLOCKED' });
    slowCheck = await seedFile(env.orm, { fileName: 'slow.pdf', uploadedAt: new Date(Date.now() - 20 * 60 * 1000) });
    checking = await seedFile(env.orm, { fileName: 'fresh.pdf' });
    pickedUp = await seedFile(env.orm, { fileName: 'in-folder.pdf' });
    const em = env.orm.em.fork();
    await em.nativeUpdate(ResultFile, { id: needsFolder }, { stateReason: `No clinic folder is mapped for BHS hint "<img src=x onerror=alert(1)>".` });
    await em.nativeUpdate(ResultFile, { id: blocked }, { stateReason: 'The clinic server refused our key.' });
    await em.nativeUpdate(ResultFile, { id: pickedUp }, { uploadPath: path.join(env.uploadDir, 'in-folder.pdf') });

    writeFileSync(path.join(env.uploadDir, 'in-folder.pdf'), '%PDF-1.4 picked up');
    const stuck = path.join(env.uploadDir, '<img src=x onerror=alert(1)>.pdf');
    writeFileSync(stuck, '%PDF-1.4 not picked up');
    const old = new Date(Date.now() - 3600 * 1000);
    utimesSync(stuck, old, old);
    writeFileSync(path.join(env.uploadDir, '.upload.abc.part'), 'partial');
  });

  it('lists waiting files with their reasons and a Retry button, check retries, files in flight and the upload folder', async () => {
    const res = await b.request('/pending');
    expect(res.status).toBe(200);
    const text = await res.text();
    expectEscaped(text);
    expect(text).toContain('href="/pending" aria-current="page"');

    const waiting = text.slice(text.indexOf('id="waiting"'), text.indexOf('id="in-flight"'));
    expect(waiting).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;.pdf');
    expect(waiting).toContain('No clinic folder is mapped for BHS hint &quot;&lt;img src=x onerror=alert(1)&gt;&quot;.');
    expect(waiting).toContain('The clinic server refused our key.');
    expect(waiting).toContain(`action="/files/${needsFolder}/retry"`);
    expect(waiting).toContain(`action="/files/${blocked}/retry"`);
    expect(waiting).toContain('Check retrying');
    expect(waiting).toContain(`/files/${slowCheck}"`);
    expect(waiting).not.toContain(`action="/files/${slowCheck}/retry"`);

    const flying = text.slice(text.indexOf('id="in-flight"'), text.indexOf('id="upload-folder"'));
    expect(flying).toContain(`/files/${checking}"`);
    expect(flying).toContain('Being checked');
    expect(flying).not.toContain(`/files/${slowCheck}"`);

    const folder = text.slice(text.indexOf('id="upload-folder"'));
    expect(folder).toContain('In the upload folder (3)');
    expect(folder).toContain(`taken (file #${pickedUp})`);
    expect(folder).toContain('&lt;img src=x onerror=alert(1)&gt;.pdf');
    expect(folder).toContain('not taken yet');
    expect(folder).toContain('temporary name');
  });

  it('retries through the existing files action (which explains that Temporal is needed here)', async () => {
    await b.request('/pending');
    const res = await b.form(`/files/${needsFolder}/retry`, { _csrf: b.csrf });
    expect(res.status).toBe(409);
    expect(await res.text()).toContain('not connected to Temporal');
  });
});

describe('receipts', () => {
  let b: TestBrowser;
  let fetched: number;
  let late: number;
  let recent: number;

  beforeAll(async () => {
    b = await signedIn('192.0.2.71');
    fetched = await seedFile(env.orm, { fileName: `fetched${XSS}.pdf`, state: 'ACKNOWLEDGED', clinicFolder: 'viral_load/<b>digawana</b>' });
    late = await seedFile(env.orm, { fileName: 'late.pdf', state: 'AWAITING_ACK', clinicFolder: 'viral_load/late' });
    recent = await seedFile(env.orm, { fileName: 'recent.pdf', state: 'AWAITING_ACK' });
    const em = env.orm.em.fork();
    await em.nativeUpdate(ResultFile, { id: late }, { sentAt: new Date(Date.now() - 5 * DAY) });
    em.create(Receipt, {
      resultFileId: fetched,
      remotePath: 'viral_load/digawana/fetched.pdf',
      accessedAt: new Date(),
      client: `10.0.0.7${XSS}`,
      requestLine: 'GET /viral_load/digawana/fetched.pdf HTTP/1.1',
      status: 200,
      bytes: 1234,
      first: true,
      evidenceKey: 'test:1',
    });
    em.create(UnknownFetch, {
      remotePath: `viral_load/unknown/<img src=x onerror=alert(1)>.pdf`,
      accessedAt: new Date(),
      client: '10.0.0.99',
      requestLine: 'GET /viral_load/unknown/x.pdf HTTP/1.1',
      status: 404,
      bytes: null,
      evidenceKey: 'test:2',
    });
    em.create(LogScanRun, {
      workflowId: 'scan-access-log',
      runId: 'scan-run-1',
      source: '/var/log/apache2/access.log',
      startedAt: new Date(),
      finishedAt: new Date(),
      bytesRead: 4567,
      linesRead: 89,
      hits: 7,
      acknowledged: 5,
      unknownHits: 2,
      parseErrors: 3,
      notes: [`log rotated ${XSS}`],
      durationMs: 1250,
    });
    await em.flush();
  });

  it('shows fetches, unknown hits and scan runs with their counters, escaped', async () => {
    const res = await b.request('/receipts');
    expect(res.status).toBe(200);
    const text = await res.text();
    expectEscaped(text);
    expect(text).not.toContain('<b>digawana</b>');

    const fetches = text.slice(text.indexOf('id="fetches"'), text.indexOf('id="unknown"'));
    expect(fetches).toContain(`/files/${fetched}"`);
    expect(fetches).toContain('fetched&lt;script&gt;');
    expect(fetches).toContain('viral_load/&lt;b&gt;digawana&lt;/b&gt;');
    expect(fetches).toContain('10.0.0.7&lt;script&gt;');
    expect(fetches).toContain('first fetch');

    const unknown = text.slice(text.indexOf('id="unknown"'), text.indexOf('id="scans"'));
    expect(unknown).toContain('viral_load/unknown/&lt;img src=x onerror=alert(1)&gt;.pdf');
    expect(unknown).toContain('10.0.0.99');
    expect(unknown).toContain('404');

    const scans = text.slice(text.indexOf('id="scans"'));
    expect(scans).toContain('/var/log/apache2/access.log');
    for (const cell of ['4.5 KiB', '>89<', '>7<', '>5<', '>2<', '>3<', '1.3 s']) expect(scans).toContain(cell);
    expect(scans).toContain('log rotated &lt;script&gt;');
  });

  it('lists files sent but not acknowledged after N days (default 3, from ?days=)', async () => {
    const section = (t: string) => t.slice(t.indexOf('id="unacknowledged"'), t.indexOf('id="fetches"'));
    const byDefault = section(await (await b.request('/receipts')).text());
    expect(byDefault).toContain('not fetched after 3 day(s): 1');
    expect(byDefault).toContain(`/files/${late}"`);
    expect(byDefault).not.toContain(`/files/${recent}"`);
    expect(byDefault).not.toContain(`/files/${fetched}"`);
    const ten = section(await (await b.request('/receipts?days=10')).text());
    expect(ten).toContain('not fetched after 10 day(s): 0');
    expect(ten).not.toContain(`/files/${late}"`);
    expect((await b.request('/receipts?days=<x>')).status).toBe(200);
  });

  it('counts them on the dashboard', async () => {
    const text = await (await b.request('/')).text();
    expect(text).toMatch(/<strong class="tone-bad">1<\/strong> file\(s\) sent more than 3 days ago and not fetched/);
    expect(text).toContain('href="/receipts?days=3#unacknowledged"');
  });
});

describe('resend', () => {
  let b: TestBrowser;
  let delivered: number;
  let unarchived: number;

  beforeAll(async () => {
    b = await signedIn('192.0.2.72');
    const archived = path.join(env.archiveDir, 'resend.pdf');
    writeFileSync(archived, '%PDF-1.4 archived');
    delivered = await seedFile(env.orm, { fileName: 'resend.pdf', state: 'AWAITING_ACK', archivePath: archived, clinicFolder: 'viral_load/digawana' });
    unarchived = await seedFile(env.orm, { fileName: 'not-archived.pdf', state: 'SENT', clinicFolder: 'viral_load/digawana' });
  });

  it('is offered for a delivered, archived file only', async () => {
    const page = await (await b.request(`/files/${delivered}`)).text();
    expect(page).toMatch(new RegExp(`action="/files/${delivered}/resend">.*name="seq" value="\\d+"`, 's'));
    expect(await (await b.request(`/files/${unarchived}`)).text()).not.toContain('/resend"');
  });

  it('refuses a POST without the CSRF token', async () => {
    expect((await b.form(`/files/${delivered}/resend`, { seq: '2' })).status).toBe(403);
    expect(await env.orm.em.fork().count(FileEvent, { resultFileId: delivered, type: { $in: ['RESEND_REQUESTED', 'RESENT', 'RESEND_FAILED'] } })).toBe(0);
  });

  it('explains that resend needs Temporal when this process has no client, and records nothing', async () => {
    await b.request(`/files/${delivered}`);
    const res = await b.form(`/files/${delivered}/resend`, { _csrf: b.csrf, seq: '2' });
    expect(res.status).toBe(409);
    const text = await res.text();
    expect(text).toContain('Resend is unavailable: this web process is not connected to Temporal');
    expect(await env.orm.em.fork().count(FileEvent, { resultFileId: delivered, type: { $in: ['RESEND_REQUESTED', 'RESENT', 'RESEND_FAILED'] } })).toBe(0);
  });

  it('refuses a file that was not delivered from the archive', async () => {
    const res = await b.form(`/files/${unarchived}/resend`, { _csrf: b.csrf, seq: '2' });
    expect(res.status).toBe(409);
    expect(await res.text()).toContain('Only a delivered file with an archived copy');
  });
});
