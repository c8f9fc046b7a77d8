import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import path from 'node:path';
import { serve } from '@hono/node-server';
import { chromium, type Browser, type Page } from 'playwright-core';
import { SEED_PATTERNS } from '../../src/config/patterns';
import { openOrm, type Orm } from '../../src/db/orm';
import { IdentifierPatterns } from '../../src/domain/identifier-patterns';
import { addUser } from '../../src/web/auth/users';
import { createWebApp } from '../../src/web/app';
import { freePort } from '../harness/free-port';
import { resultPdf } from '../harness/pdf';
import { sha256OfBuffer, sha256OfFile } from '../harness/sshd';
import { recordFetchAsTheScanDoes } from '../harness/record-fetch';
import { accessedSignal, fileTaskQueueFor } from '../../src/workflows/definitions';
import { startStack, type ChildHandle, type Stack } from '../harness/stack';
import { waitFor } from '../harness/wait-for';

const ROOT = path.join(__dirname, '..', '..');
const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'web');
const SCREENSHOTS = path.join(ROOT, 'docs', 'screenshots');
const SEED_CSV = path.join(ROOT, 'config', 'remote_folders.csv');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const PASSWORD = 'browser test password';

// Without a browser there is nothing to drive: say so rather than fail on a machine that lacks it.
const describeWithBrowser = existsSync(CHROMIUM) ? describe : describe.skip;

let stack: Stack;
let orm: Orm;
let server: Server;
let evilServer: Server;
let base: string;
let evilBase: string;
let browser: Browser;
let page: Page;
let worker: ChildHandle;
let watcher: ChildHandle;

/** The last lines of the worker's and watcher's logs, for a test that waited in vain. */
function processTails(): string {
  const tail = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').trimEnd().split('\n').slice(-15).join('\n') : '(no log)');
  return `--- watcher ---\n${tail(watcher.logFile)}\n--- worker ---\n${tail(worker.logFile)}`;
}

async function listen(fetch: (req: Request) => Response | Promise<Response>, port: number, hostname: string): Promise<Server> {
  return new Promise((resolve) => {
    const s = serve({ fetch, port, hostname }, () => resolve(s as Server)) as Server;
  });
}

async function shot(name: string, alsoForDocs = false): Promise<void> {
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  // The README's pictures change only when asked (UPDATE_DOC_SCREENSHOTS=1), so a test run leaves the tree clean.
  if (alsoForDocs && process.env.UPDATE_DOC_SCREENSHOTS) copyFileSync(file, path.join(SCREENSHOTS, `${name}.png`));
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  mkdirSync(SCREENSHOTS, { recursive: true });
  stack = await startStack();
  expect((await stack.cli(['folders', 'load', SEED_CSV])).code).toBe(0);
  // Worker and watcher run as child processes, as in production; stack.stop() ends them.
  worker = stack.startWorker();
  watcher = stack.startWatcher();
  orm = await openOrm(stack.db.url);
  await addUser(orm.em.fork(), 'ada', PASSWORD, 'admin');
  const app = createWebApp({
    healthChecks: {
      database: async () => void (await orm.em.fork().getConnection().execute('select 1')),
      temporal: () => stack.workflows.checkHealth(),
    },
    orm,
    uploadDir: stack.uploadDir,
    maxFileBytes: 10 * 1024 * 1024,
    workflows: stack.workflows,
    temporalNamespace: 'default',
    temporalUiUrl: stack.temporal.uiUrl ?? 'http://127.0.0.1:8233',
    pdfRoots: ['archive', 'rejected', 'duplicates'].map((d) => path.join(stack.dataDir, d)),
    patterns: new IdentifierPatterns(SEED_PATTERNS),
    fileTaskQueue: fileTaskQueueFor(stack.env.GETRESULTS_HOST_ID!),
  });
  const port = await freePort();
  server = await listen(app.fetch, port, '127.0.0.1');
  base = `http://127.0.0.1:${port}`;
  // Another site (localhost is not 127.0.0.1 to a browser) with a form that posts to ours.
  const evilPort = await freePort();
  evilServer = await listen(
    () =>
      new Response(
        `<!doctype html><form id="f" method="post" action="${base}/files/audit"><input name="ids" value="1"><input name="_csrf" value="guess"></form>
<script>document.getElementById('f').submit()</script>`,
        { headers: { 'content-type': 'text/html' } },
      ),
    evilPort,
    '127.0.0.1',
  );
  evilBase = `http://localhost:${evilPort}`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  await new Promise((r) => (evilServer ? evilServer.close(r) : r(undefined)));
  await orm?.close();
  await stack?.stop();
});

async function auditEvents(): Promise<number> {
  const { rows } = await stack.pg.query(`select count(*)::int as n from file_event where type = 'AUDITED'`);
  return rows[0].n as number;
}

describeWithBrowser('the web page in Chromium, on the whole stack', () => {
  it('sends a logged-out visitor to the login form', async () => {
    await page.goto(`${base}/files`);
    expect(new URL(page.url()).pathname).toBe('/login');
    await shot('login');
  });

  it('logs in, uploads two PDFs, and shows them reach the clinic folder', async () => {
    await page.fill('input[name=username]', 'ada');
    await page.fill('input[name=password]', PASSWORD);
    await Promise.all([page.waitForURL(`${base}/files`), page.click('button[type=submit]')]);

    await page.goto(`${base}/upload`);
    await page.setInputFiles('input[type=file]', [
      { name: '066-12000001-3.pdf', mimeType: 'application/pdf', buffer: resultPdf('066-12000001-3') },
      { name: '066-12000002-3.pdf', mimeType: 'application/pdf', buffer: resultPdf('066-12000002-3') },
    ]);
    await Promise.all([page.waitForURL(`${base}/upload`), page.click('#upload-form button[type=submit]')]);
    await expect(page.textContent('main')).resolves.toContain('2 of 2 file(s) saved');
    // The answer says what the pipeline will do (its own checks), then each file's real outcome follows on the same
    // page, without a reload (src/web/live.ts).
    await expect(page.textContent('main')).resolves.toContain('It will be sent to viral_load/digawana.');
    // A mark on this page's window: a reload would lose it. (A string: the tests compile without the DOM types.)
    await page.evaluate('window.liveMarker = "upload-answer"');
    await waitFor('both files to show as sent on the upload page', async () => ((await page.textContent('#recent-uploads')) ?? '').split('Sent, not yet fetched').length === 3, {
      timeoutMs: 90_000,
    }).catch(async (err: Error) => {
      const rows = (await stack.fileRows()).map((r) => `#${r.id} ${r.state} ${r.state_reason ?? ''}`);
      throw new Error(`${err.message}\nrows: ${rows.join('; ')}\n${processTails()}`);
    });
    expect(await page.evaluate('window.liveMarker')).toBe('upload-answer');
    expect(await page.textContent('main')).toContain('It will be sent to viral_load/digawana.'); // the answer stayed
    await shot('upload', true);

    const rows = await waitFor(
      'both uploads to be sent and archived',
      async () => {
        const r = await stack.fileRows();
        return r.filter((x) => x.state === 'AWAITING_ACK').length === 2 ? r : undefined;
      },
      { timeoutMs: 90_000 },
    );
    const first = rows.find((r) => r.file_name === '066-12000001-3.pdf')!;
    const uploaders = await stack.pg.query('select distinct uploaded_by from result_file');
    expect(uploaders.rows).toEqual([{ uploaded_by: 'ada' }]); // the web upload's user reaches the file's record
    await page.goto(`${base}/files/${first.id}`);
    await expect(page.textContent('main')).resolves.toContain('Sent, not yet fetched');
    const timeline = await page.textContent('ol.timeline');
    for (const step of ['received', 'validated', 'routed', 'sent', 'archived']) expect(timeline).toContain(step);
    await shot('timeline', true);

    // A file's page follows its state: the clinic's fetch, found by the scan, shows without a reload.
    await page.evaluate('window.liveMarker = "file-page"');
    const fetch = { evidenceKey: 'browser:access.log:1', accessedAt: new Date().toISOString(), client: '198.51.100.7', requestLine: `GET /${first.remote_path} HTTP/1.1`, status: 200 };
    await recordFetchAsTheScanDoes(stack.db.url, first.id, fetch);
    await stack.temporalClient.workflow.getHandle(first.workflow_id).signal(accessedSignal, fetch);
    await waitFor('the file page to show the fetch', async () => ((await page.textContent('#live-file h2')) ?? '').includes('Fetched'), { timeoutMs: 20_000 });
    expect(await page.evaluate('window.liveMarker')).toBe('file-page'); // the same page, not reloaded
    expect(await page.textContent('ol.timeline')).toContain('acknowledged');

    const pdf = await page.request.get(`${base}/files/${first.id}/pdf`);
    expect(pdf.status()).toBe(200);
    expect(pdf.headers()['content-type']).toBe('application/pdf');
    expect((await pdf.body()).equals(resultPdf('066-12000001-3'))).toBe(true);
  });

  it('finds a file by identifier', async () => {
    await page.goto(`${base}/files`);
    await page.fill('input[name=q]', '12000002');
    await Promise.all([page.waitForURL(/q=12000002/), page.click('form.filters button[type=submit]')]);
    const names = await page.locator('table tbody td a').allTextContents();
    expect(names).toEqual(['066-12000002-3.pdf']);
    await page.goto(`${base}/files`);
    await shot('files', true);
    await page.goto(`${base}/`);
    await shot('dashboard', true);
    await page.goto(`${base}/report`);
    await expect(page.textContent('main')).resolves.toContain('viral_load/digawana');
    await shot('report', true);
  });

  it('shows a file waiting for a folder in the "Needs a person" banner; an admin adds the folder, the file goes, the banner clears by itself', async () => {
    writeFileSync(path.join(stack.uploadDir, '.066-77000001-3.pdf.part'), resultPdf('066-77000001-3'));
    renameSync(path.join(stack.uploadDir, '.066-77000001-3.pdf.part'), path.join(stack.uploadDir, '066-77000001-3.pdf'));
    await waitFor('the file to wait for a folder', async () => (await stack.fileRows()).some((r) => r.file_name === '066-77000001-3.pdf' && r.state === 'NEEDS_FOLDER'), { timeoutMs: 60_000 });
    await page.goto(`${base}/`);
    const banner = page.locator('#needs-a-person');
    await expect(banner.textContent()).resolves.toContain('1 need a clinic folder');
    await shot('needs-a-person');
    await page.evaluate('window.liveMarker = "dashboard"');

    // The admin follows the banner's link, finds no row for hint 77 by searching, and adds it.
    const folders = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await folders.context().addCookies(await page.context().cookies());
    await folders.goto(`${base}/folders?q=77`);
    await expect(folders.textContent('main')).resolves.toContain('0 of 84 rows match');
    await folders.fill('input[name=label]', 'BHS');
    await folders.fill('input[name=folderTag]', '77');
    await folders.fill('input[name=folder]', 'newkang');
    await folders.fill('input[name=basePath]', 'viral_load');
    await Promise.all([folders.waitForLoadState(), folders.click('form[action="/folders"] button[type=submit]')]);
    await expect(folders.textContent('main')).resolves.toContain('Added BHS 77 → viral_load/newkang.');

    // The dashboard, never reloaded, clears the banner once the file has gone.
    await waitFor('the banner to clear', async () => (await page.locator('#needs-a-person').count()) === 0, { timeoutMs: 60_000 });
    expect(await page.evaluate('window.liveMarker')).toBe('dashboard');
    // The banner clears once the file has its folder; it goes on to the clinic by itself.
    await waitFor('the file to be sent', async () => (await stack.fileRows()).find((r) => r.file_name === '066-77000001-3.pdf')!.state === 'AWAITING_ACK', { timeoutMs: 60_000 });

    // A row no file uses can be deleted, after the question; the change is listed with who made it.
    await folders.goto(`${base}/folders?q=newkang`);
    await Promise.all([folders.waitForURL(/\/folders\/\d+\/delete$/), folders.click('text=Delete')]);
    await expect(folders.textContent('main')).resolves.toContain('It cannot be deleted now'); // the file just sent through it waits for its fetch
    await folders.goto(`${base}/folders?q=bokaa`);
    await Promise.all([folders.waitForURL(/\/folders\/\d+\/delete$/), folders.click('text=Delete')]);
    await Promise.all([folders.waitForLoadState(), folders.click('button:has-text("Delete BHS 17")')]);
    await expect(folders.textContent('main')).resolves.toContain('Deleted BHS 17 → viral_load/bokaa.');
    await expect(folders.textContent('main')).resolves.toMatch(/adadeleted BHS 17/);
    await folders.close();
  });

  it('replaces a sent result by a corrected PDF: the clinic folder on the real sshd then holds only the current version', async () => {
    const rows = await stack.fileRows();
    const old = rows.find((r) => r.file_name === '066-12000002-3.pdf' && r.state === 'AWAITING_ACK')!;
    const clinicFolder = path.join(stack.sshd.remoteRoot, path.dirname(old.remote_path!));
    const corrected = resultPdf('066-12000002-3', { paddingBytes: 700 });
    await page.goto(`${base}/upload`);
    await page.setInputFiles('input[type=file]', [{ name: '066-12000002-3.pdf', mimeType: 'application/pdf', buffer: corrected }]);
    await page.check('input[name=replaces]');
    await Promise.all([page.waitForURL(`${base}/upload`), page.click('#upload-form button[type=submit]')]);
    await expect(page.textContent('main')).resolves.toContain(`It replaces file #${old.id}, now withdrawn from viral_load/digawana.`);
    const current = await waitFor('the corrected version to be sent', async () => (await stack.fileRows()).find((r) => r.file_name === '066-12000002-3.pdf' && r.id !== old.id && r.state === 'AWAITING_ACK'), {
      timeoutMs: 90_000,
    });
    expect(current.remote_path).toBe(old.remote_path);
    expect(readdirSync(clinicFolder).filter((n) => n.startsWith('066-12000002-3'))).toEqual(['066-12000002-3.pdf']);
    expect(await sha256OfFile(path.join(clinicFolder, '066-12000002-3.pdf'))).toBe(sha256OfBuffer(corrected));
    await page.goto(`${base}/files/${old.id}`);
    await expect(page.textContent('#live-file')).resolves.toContain('Withdrawn by ada: replaced by a corrected upload, 066-12000002-3.pdf');
    await Promise.all([page.waitForURL(`${base}/files/${current.id}`), page.click(`a[href="/files/${current.id}"]`)]);
    await shot('replaced', true);

    // The report counts what the clinics have now: the withdrawn version is not among the sent.
    await page.goto(`${base}/report`);
    const digawana = await page.locator('tr', { has: page.locator('a', { hasText: 'viral_load/digawana' }) }).locator('td.num').allTextContents();
    expect(digawana).toEqual(['2', '1', expect.any(String), expect.any(String), '1']);
  });

  it('refuses a form posted from another site, and one with a forged token from this one', async () => {
    const before = await auditEvents();
    const response = page.waitForResponse((r) => r.url() === `${base}/files/audit`);
    await page.goto(evilBase);
    expect([401, 403]).toContain((await response).status());
    await page.goto(`${base}/`);
    const forged = await page.evaluate(async () => {
      const body = new URLSearchParams({ ids: '1', _csrf: 'forged' });
      return (await fetch('/files/audit', { method: 'POST', body, redirect: 'manual' })).status;
    });
    expect(forged).toBe(403);
    expect(await auditEvents()).toBe(before);
  });

  it('signs out, after which Back and every page send the visitor back to the login form', async () => {
    await page.goto(`${base}/files`);
    expect(await page.locator('h1').first().textContent()).not.toBe('Sign in');
    await Promise.all([page.waitForURL(`${base}/login`), page.click('header form button[type=submit]')]);
    // Back on a shared lab PC: the file list is not shown from the browser's cache (Cache-Control: no-store); it is
    // asked for again, and without a session the answer is the login form.
    await page.goBack();
    await page.waitForLoadState();
    expect(new URL(page.url()).pathname).toBe('/login');
    expect(await page.locator('h1').first().textContent()).toBe('Sign in');
    await page.goto(`${base}/files`);
    expect(new URL(page.url()).pathname).toBe('/login');
  });
});
