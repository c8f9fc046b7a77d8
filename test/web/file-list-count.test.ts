import { COUNT_CAP, PAGE_SIZE } from '../../src/web/result-files/file-query';
import { TestBrowser, startWebTestEnv, type WebTestEnv } from './web-harness';

/**
 * The file list counts its total exactly only up to COUNT_CAP (a count of a million rows on every page was the slow
 * part, bench/search.mjs): beyond it the page says "More than 10,000 files" and pages on while older files follow.
 */
let env: WebTestEnv;
let b: TestBrowser;
const BIG = COUNT_CAP + 60; // 202 pages of 50, the last one with 10

/** `n` files in clinic folder `folder`, one a minute, newest with the highest id; straight in SQL, for speed. */
async function bulkFiles(folder: string, n: number, tag: string): Promise<void> {
  await env.orm.em.fork().getConnection().execute(
    `insert into result_file (lab_id, workflow_id, run_id, file_name, upload_path, size_bytes, sha256, identifier, clinic_folder, state, uploaded_at, updated_at)
     select 1, 'file-' || ?::text || i, 'run-' || ?::text || i, ?::text || '-' || i || '.pdf', '/nowhere', 1234,
            md5(?::text || i) || md5(?::text || 'x' || i), '066-' || (13000000 + i) || '-1', ?, 'AWAITING_ACK',
            now() - interval '1 minute' * (? - i), now()
       from generate_series(1, ?) i`,
    [tag, tag, tag, tag, tag, folder, n, n],
  );
}

beforeAll(async () => {
  env = await startWebTestEnv();
  await bulkFiles('viral_load/bulk', BIG, 'bulk');
  await bulkFiles('viral_load/exact', COUNT_CAP, 'exact');
  b = new TestBrowser(env.app, { 'x-forwarded-for': '192.0.2.77' });
  expect((await b.login('tom')).status).toBe(303);
});
afterAll(async () => env?.close());

const pager = (text: string) => /<div class="pager"><span class="muted">([^<]*)<\/span>/.exec(text)?.[1];

describe('the file list total', () => {
  it('says "More than 10,000 files" beyond the cap, with no page count, and still offers older pages', async () => {
    const first = await (await b.request('/files?clinic=bulk')).text();
    expect(pager(first)).toBe('More than 10,000 files; page 1');
    expect(first).toContain('rel="next"');
    expect(first).not.toContain('rel="prev"');
    expect(first).toContain(`bulk-${BIG}.pdf`); // newest first

    const deep = await (await b.request('/files?clinic=bulk&page=100')).text();
    expect(pager(deep)).toBe('More than 10,000 files; page 100');
    expect(deep).toContain(`bulk-${BIG - 99 * PAGE_SIZE}.pdf`);
    expect(deep).toContain('rel="next"');
    expect(deep).toContain('rel="prev"');
  });

  it('is exact on the last page, which knows it is the last', async () => {
    const last = await (await b.request('/files?clinic=bulk&page=202')).text();
    expect(pager(last)).toBe('10,060 file(s); page 202 of 202');
    expect(last).toContain('bulk-1.pdf');
    expect(last).not.toContain('rel="next"');
  });

  it('shows the last page for a page past the end', async () => {
    const past = await (await b.request('/files?clinic=bulk&page=5000')).text();
    expect(pager(past)).toBe('10,060 file(s); page 202 of 202');
    expect(past).toContain('bulk-1.pdf');
    const small = await (await b.request('/files?q=exact-17.&page=3')).text();
    expect(pager(small)).toBe('1 file(s); page 1 of 1');
  });

  it('is exact up to the cap itself', async () => {
    const exact = await (await b.request('/files?clinic=viral_load/exact')).text();
    expect(pager(exact)).toBe('10,000 file(s); page 1 of 200');
    const all = await (await b.request('/files')).text();
    expect(pager(all)).toBe('More than 10,000 files; page 1');
    const none = await (await b.request('/files?q=nothing-like-this')).text();
    expect(pager(none)).toBe('0 file(s); page 1 of 1');
    expect(none).toContain('No files match.');
  });

  it('matches the clinic filter as "contains", case-insensitive, as before', async () => {
    const part = await (await b.request('/files?clinic=EXAC')).text();
    expect(pager(part)).toBe('10,000 file(s); page 1 of 200');
  });

  it('a clinic text every folder holds lists the files that have a folder, and not those still waiting for one', async () => {
    // The newest files of all, with no folder yet (NEEDS_FOLDER).
    await env.orm.em.fork().getConnection().execute(
      `insert into result_file (lab_id, workflow_id, run_id, file_name, upload_path, size_bytes, sha256, state, uploaded_at, updated_at)
       select 1, 'file-nf' || i, 'run-nf' || i, 'nofolder-' || i || '.pdf', '/nowhere', 1234, md5('nf' || i) || md5('nfx' || i),
              'NEEDS_FOLDER', now() + interval '1 hour', now()
         from generate_series(1, 2) i`,
    );
    const everyFolder = await (await b.request('/files?clinic=VIRAL_LOAD')).text();
    expect(everyFolder).not.toContain('nofolder-');
    expect(everyFolder).toContain('bulk-');
    expect(await (await b.request('/files')).text()).toContain('nofolder-1.pdf');
  });
});
