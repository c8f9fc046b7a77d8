import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { FileLedger } from '../../src/db/file-ledger';
import { safeNext } from '../../src/web/routes/auth';
import { resultPdf } from '../harness/pdf';
import { waitFor } from '../harness/wait-for';
import { TestBrowser, seedFile, startWebTestEnv, type WebTestEnv } from './web-harness';

/**
 * Issue 11's web findings, tried as a signed-in technician and as an outsider: what a shared lab PC's cache may keep,
 * where `next` may send a browser, and what malformed filters do to the page and the log.
 */
let env: WebTestEnv;

beforeAll(async () => {
  env = await startWebTestEnv();
  await seedFile(env.orm, { fileName: '066-12000001-3.pdf', identifier: '066-12000001-3', state: 'AWAITING_ACK', clinicFolder: 'viral_load/digawana' });
});
afterAll(async () => env?.close());

async function signedIn(username = 'tom'): Promise<TestBrowser> {
  const b = new TestBrowser(env.app);
  expect((await b.login(username)).status).toBe(303);
  await b.request('/');
  return b;
}

/** What the web app writes to stderr while `work` runs. */
async function stderrOf(work: () => Promise<unknown>): Promise<string> {
  const written: string[] = [];
  const original = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    await work();
  } finally {
    process.stderr.write = original;
  }
  return written.join('');
}

describe('no page is kept by the browser or a proxy', () => {
  it.each(['/', '/files', '/files?state=SENT', '/pending', '/upload', '/login'])('GET %s answers Cache-Control: no-store', async (url) => {
    const b = url === '/login' ? new TestBrowser(env.app) : await signedIn();
    const res = await b.request(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('a redirect to the login form is not kept either', async () => {
    const res = await new TestBrowser(env.app).request('/files', { redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });
});

describe('after signing in, `next` only leads to a path on this site', () => {
  it.each([
    ['/\t/other.example/x', '/'],
    ['/\n/other.example', '/'],
    ['/\r\nLocation: https://other.example', '/'],
    ['/\\other.example', '/'],
    ['\\\\other.example', '/'],
    ['//other.example/x', '/'],
    ['https://other.example/', '/'],
    ['/%2F/other.example', '/'],
    ['/%5Cother.example', '/'],
    ['/%09/other.example', '/'],
    ['javascript:alert(1)', '/'],
    ['', '/'],
    ['/files?state=SENT', '/files?state=SENT'],
    ['/files/12#events', '/files/12#events'],
    ['/files?q=066-12%2F3', '/files?q=066-12%2F3'],
  ])('%j -> %j', (next, expected) => {
    expect(safeNext(next)).toBe(expected);
  });

  it('through the login form: GET /login?next=/%09/other-host/ of a signed-in user stays on this site', async () => {
    const b = await signedIn();
    const res = await b.request('/login?next=/%09/other-host/files', { redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('/');
  });
});

describe('malformed filters get a 400 with a plain message, and nothing of them in the log', () => {
  it.each([
    ['/files?to=9999-99-99', 'The to date must be a real day'],
    ['/files?from=2026-02-30', 'The from date must be a real day'],
    ['/files?clinic=%00', 'The clinic filter holds a character'],
    ['/files?q=066-12000001-3%00', 'The search filter holds a character'],
    ['/files?q=066-12000001-3%0AFORGED%20log%20line', 'The search filter holds a character'],
    ['/files?state=NOPE', 'There is no such state.'],
    ['/files?page=-1', 'The page must be a number'],
  ])('%s', async (url, message) => {
    const b = await signedIn();
    let res!: Response;
    const log = await stderrOf(async () => {
      res = await b.request(url);
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain(message);
    expect(log).not.toContain('066-12000001-3');
    expect(log).not.toContain('FORGED');
  });

  it('good filters still work, an empty one is no filter', async () => {
    const b = await signedIn();
    const res = await b.request('/files?q=12000001&state=AWAITING_ACK&from=2020-01-01&to=&clinic=&page=1');
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('066-12000001-3.pdf');
  });
});

describe('password spraying from one address is slowed down', () => {
  let sprayEnv: WebTestEnv;
  beforeAll(async () => {
    sprayEnv = await startWebTestEnv({ trustProxy: true });
  });
  afterAll(async () => sprayEnv?.close());

  it('ten wrong passwords over ten user names from one address: the eleventh try waits, with how long; another address does not', async () => {
    const from = (ip: string) => new TestBrowser(sprayEnv.app, { 'x-forwarded-for': ip });
    for (let i = 0; i < 10; i++) {
      const res = await from('198.51.100.7').login(`user${i}`, 'wrong password');
      expect(res.status).toBe(401);
    }
    // Even the right password for a real user, from that address.
    const held = await from('198.51.100.7').login('tom');
    expect(held.status).toBe(429);
    expect(Number(held.headers.get('retry-after'))).toBeGreaterThan(800);
    expect(await held.text()).toContain('Too many wrong passwords from this computer, for any user name. Try again in 15 minutes.');
    expect((await from('198.51.100.8').login('tom')).status).toBe(303);
  });
});


describe('a session left unused ends', () => {
  async function lastSeenMinutesAgo(minutes: number): Promise<void> {
    await env.orm.em.fork().execute(`update web_session set last_seen_at = now() - interval '${minutes} minutes'`);
  }

  it('used within 30 minutes it goes on, and the use counts; after 30 idle minutes the login form answers', async () => {
    const b = await signedIn();
    await lastSeenMinutesAgo(29);
    expect((await b.request('/files', { redirect: 'manual' })).status).toBe(200);
    const [row] = await env.orm.em.fork().execute<Array<{ idle_s: number }>>(`select min(extract(epoch from now() - last_seen_at))::float as idle_s from web_session`);
    expect(row!.idle_s).toBeLessThan(60);
    await lastSeenMinutesAgo(31);
    const res = await b.request('/files', { redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('/login?next=%2Ffiles');
  });

  it('a live page refreshing itself does not count as use: left open on a shared PC, it still signs out', async () => {
    const b = await signedIn();
    await lastSeenMinutesAgo(29);
    const live = { headers: { 'x-getresults-live': '1' }, html: false };
    const seq = (await (await b.request('/live', live)).json()) as { seq: number };
    expect(typeof seq.seq).toBe('number');
    expect((await b.request('/files', { ...live, redirect: 'manual' })).status).toBe(200);
    const [row] = await env.orm.em.fork().execute<Array<{ idle_s: number }>>(`select min(extract(epoch from now() - last_seen_at))::float as idle_s from web_session`);
    expect(row!.idle_s).toBeGreaterThan(28 * 60);
    await lastSeenMinutesAgo(31);
    expect((await b.request('/live', live)).status).toBe(401);
  });
});

describe('security events, for admins', () => {
  it('a refused receipt signal is listed on /security for an admin; a technician is refused the page', async () => {
    const id = await seedFile(env.orm, { fileName: '066-12000077-3.pdf', identifier: '066-12000077-3', state: 'AWAITING_ACK' });
    const checked = await new FileLedger(env.orm.em.fork()).checkSignalledFetches(id, [
      { evidenceKey: 'forged-77', client: '6.6.6.6', requestLine: 'GET /forged HTTP/1.1' },
    ]);
    expect(checked).toEqual({ verifiedKeys: [] });
    const page = await (await (await signedIn('ada')).request('/security')).text();
    expect(page).toContain('066-12000077-3.pdf');
    expect(page).toContain('RECEIPT_REFUSED');
    expect(page).toContain('6.6.6.6');
    expect((await (await signedIn('tom')).request('/security')).status).toBe(403);
  });

  it('a refused message lists under its file, or, when it belongs to no file (a forged start), under its workflow', async () => {
    const id = await seedFile(env.orm, { fileName: '066-12000078-3.pdf', identifier: '066-12000078-3', state: 'AWAITING_ACK' });
    const [{ run_id: runId }] = await env.orm.em.fork().execute<Array<{ run_id: string }>>('select run_id from result_file where id = ?', [id]);
    const ledger = new FileLedger(env.orm.em.fork());
    const refusal = (workflowId: string, run: string) => ({ workflowId, runId: run, eventKey: `${run}:refused-message:1`, message: `A copyUploaded signal was refused (${workflowId}).` });
    await ledger.recordRefusedMessage(refusal('file-of-78', runId));
    await ledger.recordRefusedMessage(refusal('file-of-78', runId)); // a retried activity lands once
    await ledger.recordRefusedMessage(refusal('file-forged-start', 'run-forged'));
    await ledger.recordRefusedMessage(refusal('file-forged-start', 'run-forged'));
    const page = await (await (await signedIn('ada')).request('/security')).text();
    expect(page.match(/A copyUploaded signal was refused \(file-of-78\)/g)).toHaveLength(1);
    expect(page).toMatch(/<a href="\/files\/\d+">066-12000078-3.pdf<\/a><\/td><td>REFUSED_MESSAGE/);
    expect(page.match(/A copyUploaded signal was refused \(file-forged-start\)/g)).toHaveLength(1);
    expect(page).toContain('workflow <code>file-forged-start</code>');
  });
});


describe('concurrent uploads are bounded', () => {
  let uploadEnv: WebTestEnv;
  beforeAll(async () => {
    uploadEnv = await startWebTestEnv({ maxConcurrentUploads: 1 });
  });
  afterAll(async () => uploadEnv?.close());

  it('while one upload is being received, the next is asked to send again and nothing of it is saved; then uploads go on', async () => {
    const b = new TestBrowser(uploadEnv.app);
    expect((await b.login('tom')).status).toBe(303);
    await b.request('/upload');
    const boundary = 'bound4ry';
    const head = `--${boundary}\r\nContent-Disposition: form-data; name="_csrf"\r\n\r\n${b.csrf}\r\n--${boundary}\r\nContent-Disposition: form-data; name="files"; filename="066-12000088-3.pdf"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4\n`;
    let finish!: () => void;
    const slowBody = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(new TextEncoder().encode(head));
        await new Promise<void>((resolve) => (finish = resolve));
        controller.enqueue(new TextEncoder().encode(`%%EOF\n\r\n--${boundary}--\r\n`));
        controller.close();
      },
    });
    const first = b.request('/upload', { method: 'POST', body: slowBody, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, duplex: 'half' } as RequestInit);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const form = new FormData();
    form.append('_csrf', b.csrf);
    form.append('files', new File(['%PDF-1.4\n%%EOF\n'], '066-12000089-3.pdf', { type: 'application/pdf' }));
    const second = await b.request('/upload', { method: 'POST', body: form });
    expect(second.status).toBe(503);
    expect(second.headers.get('retry-after')).toBe('5');
    expect(await second.text()).toContain('nothing was saved');
    finish();
    expect((await first).status).toBe(200);
    const again = new FormData();
    again.append('_csrf', b.csrf);
    again.append('files', new File(['%PDF-1.4\n%%EOF\n'], '066-12000089-3.pdf', { type: 'application/pdf' }));
    expect((await b.request('/upload', { method: 'POST', body: again })).status).toBe(200);
  });
});

describe('uploads stream to disk within the size limit', () => {
  let streamEnv: WebTestEnv;
  let b: TestBrowser;
  const MAX_FILE = 4 * 1024 * 1024;
  const MAX_UPLOAD = 6 * 1024 * 1024;
  const boundary = 'str3am';
  const enc = new TextEncoder();
  const fieldPart = (csrf: string) => `--${boundary}\r\nContent-Disposition: form-data; name="_csrf"\r\n\r\n${csrf}\r\n`;
  const fileHead = (name: string) => `--${boundary}\r\nContent-Disposition: form-data; name="files"; filename="${name}"\r\nContent-Type: application/pdf\r\n\r\n`;
  const end = `\r\n--${boundary}--\r\n`;
  /** A body sent in chunks without a length, as a browser on a slow line; `gate` holds it after the first chunks. */
  const streamed = (chunks: Array<Uint8Array | string>, gate?: Promise<void>, fail?: boolean) =>
    new ReadableStream<Uint8Array>({
      async start(controller) {
        for (const [i, chunk] of chunks.entries()) {
          if (gate && i === chunks.length - 1) await gate;
          if (fail && i === chunks.length - 1) return controller.error(new Error('connection lost'));
          controller.enqueue(typeof chunk === 'string' ? enc.encode(chunk) : chunk);
        }
        controller.close();
      },
    });
  const post = (body: ReadableStream<Uint8Array>) =>
    b.request('/upload', { method: 'POST', body, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, duplex: 'half' } as RequestInit);
  const leftovers = () => readdirSync(streamEnv.uploadDir).filter((n) => n.endsWith('.part'));

  beforeAll(async () => {
    streamEnv = await startWebTestEnv({ maxFileBytes: MAX_FILE, maxUploadBytes: MAX_UPLOAD });
    b = new TestBrowser(streamEnv.app);
    expect((await b.login('tom')).status).toBe(303);
    await b.request('/upload');
  });
  afterAll(async () => streamEnv?.close());

  it('writes a file to a hidden staged file while it is still arriving, and names it only when the form is complete', async () => {
    const pdf = resultPdf('066-12000090-3', { paddingBytes: 3 * 1024 * 1024 });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const answer = post(streamed([fieldPart(b.csrf), fileHead('066-12000090-3.pdf'), pdf.subarray(0, 2 * 1024 * 1024), Buffer.concat([pdf.subarray(2 * 1024 * 1024), Buffer.from(end)])], gate));
    // Two MiB of it are on disk before the rest is sent: the request is not held in memory.
    const staged = await waitFor('the first part on disk', () => {
      const part = leftovers()[0];
      return part && statSync(path.join(streamEnv.uploadDir, part)).size >= 2 * 1024 * 1024 && part;
    });
    expect(staged).toMatch(/^\.066-12000090-3\.pdf\.[0-9a-f]{12}\.part$/);
    expect(readdirSync(streamEnv.uploadDir)).not.toContain('066-12000090-3.pdf');
    release();
    const res = await answer;
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('1 of 1 file(s) saved');
    expect(readFileSync(path.join(streamEnv.uploadDir, '066-12000090-3.pdf')).equals(pdf)).toBe(true);
    expect(leftovers()).toEqual([]);
  });

  it('stops an upload sent without a length at the limit: 413, and nothing of it is left', async () => {
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    const chunks: Array<Uint8Array | string> = [fieldPart(b.csrf), fileHead('066-12000091-3.pdf'), '%PDF-1.4\n', chunk, chunk, chunk, end, fileHead('066-12000092-3.pdf'), '%PDF-1.4\n', chunk, chunk, chunk, chunk, end];
    const res = await post(streamed(chunks));
    expect(res.status).toBe(413);
    expect(await res.text()).toContain('Nothing was saved: the upload is over 6 MiB');
    expect(readdirSync(streamEnv.uploadDir).filter((n) => n.includes('1200009'))).toEqual(['066-12000090-3.pdf']);
    expect(leftovers()).toEqual([]);
  });

  it('refuses a declared length over the limit before reading the body', async () => {
    const res = await b.request('/upload', {
      method: 'POST',
      body: 'x',
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(MAX_UPLOAD + 1) },
    });
    expect(res.status).toBe(413);
  });

  it('keeps nothing of an upload that breaks off, and nothing of a file sent before the form\'s token', async () => {
    const broken = await post(streamed([fieldPart(b.csrf), fileHead('066-12000093-3.pdf'), '%PDF-1.4\n', Buffer.alloc(512 * 1024, 0x20), 'never sent'], undefined, true));
    expect(broken.status).toBe(400);
    expect(await broken.text()).toContain('broke off');
    const tokenLast = await post(streamed([fileHead('066-12000094-3.pdf'), '%PDF-1.4\n%%EOF\n', `\r\n${fieldPart(b.csrf)}`, `--${boundary}--\r\n`]));
    expect(tokenLast.status).toBe(403);
    const wrongToken = await post(streamed([fieldPart('not-the-token'), fileHead('066-12000095-3.pdf'), '%PDF-1.4\n%%EOF\n', end]));
    expect(wrongToken.status).toBe(403);
    expect(readdirSync(streamEnv.uploadDir).filter((n) => /1200009[345]/.test(n))).toEqual([]);
    expect(leftovers()).toEqual([]);
  });
});
