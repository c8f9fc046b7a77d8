import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { FileEvent, ResultFile } from '../../src/db/entities';
import type { PendingActivity, SignalOutcome, WorkflowRun } from '../../src/temporal/result-workflows';
import type { ResendFileInput } from '../../src/workflows/definitions';
import { fakeWorkflows } from '../harness/fake-workflows';
import { TestBrowser, seedFile, startWebTestEnv, type WebTestEnv } from './web-harness';

/*
 * The pending page, Retry and Resend of a web process connected to Temporal, with ResultWorkflows faked: what the page
 * does with each answer. The answers themselves are test/temporal/result-workflows.test.ts; the whole path is
 * test/web/resend.test.ts.
 */

let env: WebTestEnv;
const activitiesOf = new Map<string, PendingActivity[]>();
const retried: WorkflowRun[] = [];
let retryAnswer: SignalOutcome = 'delivered';
const resends: Array<{ workflowId: string; input: ResendFileInput }> = [];

beforeAll(async () => {
  env = await startWebTestEnv({
    fileTaskQueue: 'getresults-files-here',
    workflows: fakeWorkflows({
      pendingActivities: async ({ workflowId }) => activitiesOf.get(workflowId) ?? [],
      retry: async (run) => {
        retried.push(run);
        return retryAnswer;
      },
      startResend: async (workflowId, input) => {
        const again = resends.some((r) => r.workflowId === workflowId);
        resends.push({ workflowId, input });
        return again ? 'already-started' : 'started';
      },
    }),
  });
});
afterAll(async () => env?.close());

async function signedIn(): Promise<TestBrowser> {
  const b = new TestBrowser(env.app);
  expect((await b.login('tom')).status).toBe(303);
  await b.request('/');
  return b;
}

const rowOf = (id: number) => env.orm.em.fork().findOneOrFail(ResultFile, { id });
const eventTypes = async (id: number) => (await env.orm.em.fork().find(FileEvent, { resultFileId: id }, { orderBy: { id: 'asc' } })).map((e) => e.type);

describe('pending, with Temporal connected', () => {
  it('shows which step each in-flight workflow is retrying, and why', async () => {
    const transferring = await seedFile(env.orm, { fileName: 'transferring.pdf' });
    const checking = await seedFile(env.orm, { fileName: 'checking.pdf' });
    const fresh = await seedFile(env.orm, { fileName: 'fresh.pdf' });
    activitiesOf.set((await rowOf(transferring)).workflowId, [{ activityType: 'transferFile', attempt: 3, lastFailureMessage: 'connection refused' }]);
    activitiesOf.set((await rowOf(checking)).workflowId, [{ activityType: 'validateUpload', attempt: 2 }]);
    activitiesOf.set((await rowOf(fresh)).workflowId, [{ activityType: 'validateUpload', attempt: 1 }]);

    const text = await (await (await signedIn()).request('/pending')).text();
    const waiting = text.slice(text.indexOf('id="waiting"'), text.indexOf('id="in-flight"'));
    const flying = text.slice(text.indexOf('id="in-flight"'), text.indexOf('id="upload-folder"'));
    expect(waiting).toContain(`/files/${checking}"`);
    expect(waiting).toContain('The check is being retried (attempt 2): no reason given');
    expect(waiting).not.toContain('Retry needs this web process to be connected to Temporal.');
    expect(flying).toContain('Retrying the transfer (attempt 3): connection refused');
    expect(flying).toContain(`/files/${fresh}"`);
    expect(flying).not.toContain(`/files/${checking}"`);
  });
});

describe('retry, with Temporal connected', () => {
  it('signals the waiting run and records who asked', async () => {
    const blocked = await seedFile(env.orm, { fileName: 'blocked.pdf', state: 'TRANSFER_BLOCKED' });
    const b = await signedIn();
    await b.request(`/files/${blocked}`);
    retryAnswer = 'delivered';
    const res = await b.form(`/files/${blocked}/retry`, { _csrf: b.csrf });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/files/${blocked}?done=retry`);
    const row = await rowOf(blocked);
    expect(retried.at(-1)).toMatchObject({ workflowId: row.workflowId, runId: row.runId });
    expect(await eventTypes(blocked)).toContain('RETRY_REQUESTED');
  });

  it('explains that a workflow no longer running cannot be retried, and records nothing', async () => {
    const waiting = await seedFile(env.orm, { fileName: 'closed.pdf', state: 'NEEDS_FOLDER' });
    const b = await signedIn();
    await b.request(`/files/${waiting}`);
    retryAnswer = 'closed';
    const res = await b.form(`/files/${waiting}/retry`, { _csrf: b.csrf });
    expect(res.status).toBe(409);
    expect(await res.text()).toContain('Its workflow is no longer running, so it cannot be retried.');
    expect(await eventTypes(waiting)).not.toContain('RETRY_REQUESTED');
  });
});

describe('resend, with Temporal connected', () => {
  it('starts the resend once for one press of the button, from the archive, on the archive host\'s queue', async () => {
    const archived = path.join(env.archiveDir, 'resend.pdf');
    writeFileSync(archived, '%PDF-1.4 archived');
    const delivered = await seedFile(env.orm, { fileName: 'resend.pdf', state: 'AWAITING_ACK', archivePath: archived, clinicFolder: 'viral_load/digawana' });
    const b = await signedIn();
    const page = await (await b.request(`/files/${delivered}`)).text();
    const seq = /name="seq" value="(\d+)"/.exec(page)![1]!;

    const res = await b.form(`/files/${delivered}/resend`, { _csrf: b.csrf, seq });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/files/${delivered}?done=resend`);
    const row = await rowOf(delivered);
    expect(resends.at(-1)).toEqual({
      workflowId: `resend-${row.sha256}-${seq}`,
      input: expect.objectContaining({ resultFileId: delivered, archivePath: archived, folder: 'viral_load/digawana', fileTaskQueue: 'getresults-files-here', actor: 'tom' }),
    });

    const again = await b.form(`/files/${delivered}/resend`, { _csrf: b.csrf, seq });
    expect(again.status).toBe(409);
    expect(await again.text()).toContain('already asked for');
    expect((await eventTypes(delivered)).filter((t) => t === 'RESEND_REQUESTED')).toHaveLength(1);
  });
});
