import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileEvent, FileHandover, WebUpload } from '../../src/db/entities';
import { FileLedger } from '../../src/db/file-ledger';
import { peekUpload, putHandover } from '../../src/labs/file-handover';
import { registerUploadHost } from '../../src/labs/upload-hosts';
import type { ResultWorkflows } from '../../src/temporal/result-workflows';
import { fileTaskQueueFor } from '../../src/workflows/definitions';
import { placeOnHost } from '../../src/web/uploads/upload-placement';
import { DEFAULT_LAB_ID } from '../harness/database';
import { fakeWorkflows } from '../harness/fake-workflows';
import { resultPdf } from '../harness/pdf';
import { TestBrowser, startWebTestEnv, type WebTestEnv } from './web-harness';

/**
 * What the page says and does about files on another upload host (issue 13), with each answer a host can give: the
 * host's side runs on real parts in test/labs/host-handover.test.ts and test/e2e/two-hosts.test.ts; here Temporal is
 * faked so that "offline" and "no answer" can be asked for.
 */
let env: WebTestEnv;
let fileOnB: number;
const answers: { served: boolean; pdf?: Parameters<ResultWorkflows['fetchArchivedPdf']>; upload?: 'placed' | 'no-answer' } = { served: true };
let pdfAnswer: () => Promise<Awaited<ReturnType<ResultWorkflows['fetchArchivedPdf']>>>;
const stagedPdf = resultPdf('066-12000031-3');

const workflows = fakeWorkflows({
  isQueueServed: async (queue) => {
    expect(queue).toBe(fileTaskQueueFor('host-b'));
    return answers.served;
  },
  fetchArchivedPdf: async (queue, input) => {
    answers.pdf = [queue, input, 0];
    return pdfAnswer();
  },
  // As host B's worker would: it finds the upload in the database and places it (or never answers).
  placeWebUpload: async (_queue, input) => {
    if (answers.upload === 'no-answer') return { outcome: 'no-answer' };
    const upload = await peekUpload(env.orm.em.fork(), input.handoverId);
    expect(upload?.content.equals(stagedPdf)).toBe(true);
    await env.orm.em.fork().nativeDelete(FileHandover, { id: input.handoverId });
    return { outcome: 'placed' };
  },
});

async function signIn(): Promise<TestBrowser> {
  const b = new TestBrowser(env.app, { 'x-forwarded-for': '192.0.2.31' });
  expect((await b.login('tom')).status).toBe(303);
  return b;
}

let stagingDir: string;

beforeAll(async () => {
  // The page runs beside host A; its uploads go to host B (as GETRESULTS_WEB_UPLOAD_HOST=host-b makes them).
  stagingDir = mkdtempSync(path.join(os.tmpdir(), 'gr-web-staging-'));
  env = await startWebTestEnv({
    uploadHost: { name: 'host-a', labId: DEFAULT_LAB_ID },
    workflows,
    uploadPlacement: placeOnHost({ workflows, host: { name: 'host-b', labId: DEFAULT_LAB_ID }, stagingDir, waitMs: 50 }),
  });
  const hostB = await registerUploadHost(env.orm.em.fork(), 'host-b', 'default');
  await registerUploadHost(env.orm.em.fork(), 'host-a', 'default');
  const ledger = new FileLedger(env.orm.em.fork());
  ({ resultFileId: fileOnB } = await ledger.register({
    workflowId: 'file-b',
    runId: 'run-b',
    fileName: '066-12000030-3.pdf',
    uploadPath: '/b/upload/066-12000030-3.pdf',
    sizeBytes: 10,
    sha256: 'c'.repeat(64),
    uploadedAt: new Date(),
    host: hostB,
  }));
  await ledger.transition(fileOnB, 'AWAITING_ACK', { eventKey: 'seed:b', type: 'ARCHIVED', message: 'Seeded.' }, { archivePath: '/b/archive/066-12000030-3.pdf' });
});
afterAll(async () => {
  await env?.close();
  if (stagingDir) rmSync(stagingDir, { recursive: true, force: true });
});

const views = () => env.orm.em.fork().count(FileEvent, { resultFileId: fileOnB, type: 'PDF_VIEWED' });

describe('the PDF of a file held by another upload host', () => {
  test('offline host: said in words, and nothing asked of it', async () => {
    answers.served = false;
    answers.pdf = undefined;
    const res = await (await signIn()).request(`/files/${fileOnB}/pdf`);
    expect(res.status).toBe(503);
    expect(await res.text()).toContain('The PDF is kept by the upload host host-b, which is offline');
    expect(answers.pdf).toBeUndefined();
    answers.served = true;
  });

  test.each([
    [{ outcome: 'no-answer' } as const, 504, 'did not hand the PDF over within 30 seconds'],
    [{ outcome: 'missing' } as const, 404, 'has no archived copy of this file where its record says'],
    [{ outcome: 'changed' } as const, 409, 'its SHA-256 differs'],
    [{ outcome: 'too-large', sizeBytes: 1 } as const, 413, 'larger than the largest file this deployment takes'],
    [{ outcome: 'failed' } as const, 503, 'could not read the PDF'],
  ])('host answers %j: status %i, and no view recorded', async (answer, status, words) => {
    pdfAnswer = async () => answer;
    const res = await (await signIn()).request(`/files/${fileOnB}/pdf`);
    expect(res.status).toBe(status);
    expect(await res.text()).toContain(words);
    expect(await views()).toBe(0);
  });

  test('handed over: the page serves the bytes the host put in the database, once, and records the view', async () => {
    const pdf = resultPdf('066-12000030-3');
    pdfAnswer = async () => {
      const [, input] = answers.pdf!;
      await putHandover(env.orm.em.fork(), { id: input.handoverId, direction: 'to-web', resultFileId: fileOnB, fileName: '066-12000030-3.pdf', sha256: 'c'.repeat(64), content: pdf });
      return { outcome: 'handed-over', sizeBytes: pdf.length };
    };
    const res = await (await signIn()).request(`/files/${fileOnB}/pdf`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/pdf');
    expect(Buffer.from(await res.arrayBuffer()).equals(pdf)).toBe(true);
    expect(answers.pdf![1]).toEqual({ handoverId: expect.stringMatching(/^[0-9a-f-]{36}$/), resultFileId: fileOnB });
    expect(await env.orm.em.fork().count(FileHandover, {})).toBe(0);
    expect(await views()).toBe(1);
  });
});

describe('web uploads that go to another upload host', () => {
  const upload = async () => {
    const b = await signIn();
    await b.request('/upload');
    const form = new FormData();
    form.append('_csrf', b.csrf);
    form.append('files', new File([stagedPdf], '066-12000031-3.pdf', { type: 'application/pdf' }));
    return b.request('/upload', { method: 'POST', body: form });
  };
  const webUploads = () => env.orm.em.fork().count(WebUpload, { fileName: '066-12000031-3.pdf' });

  test('offline host: turned away before anything is read, nothing saved', async () => {
    answers.served = false;
    const res = await upload();
    expect(res.status).toBe(503);
    expect(await res.text()).toContain('go to the upload host host-b, which is offline');
    expect(readdirSync(stagingDir)).toEqual([]);
    expect(readdirSync(env.uploadDir)).toEqual([]);
    expect(await webUploads()).toBe(0);
    answers.served = true;
  });

  test('no answer in time: the page withdraws it and says it was not saved', async () => {
    answers.upload = 'no-answer';
    const res = await upload();
    expect(await res.text()).toContain('The upload host host-b did not take it within 0 seconds; nothing was saved.');
    expect(await env.orm.em.fork().count(FileHandover, {})).toBe(0);
    expect(await webUploads()).toBe(0);
  });

  test('placed by the host: saved, recorded as the technician\'s upload, nothing left on this machine', async () => {
    answers.upload = 'placed';
    const res = await upload();
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('1 of 1 file(s) saved');
    expect(await webUploads()).toBe(1);
    expect(readdirSync(stagingDir)).toEqual([]);
    expect(readdirSync(env.uploadDir)).toEqual([]);
    expect(await env.orm.em.fork().count(FileHandover, {})).toBe(0);
  });
});
