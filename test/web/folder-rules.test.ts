import { FolderReceiptRule, LogScanRun, RemoteFolder } from '../../src/db/entities';
import { FileLedger } from '../../src/db/file-ledger';
import { TestBrowser, seedFile, startWebTestEnv, type WebTestEnv } from './web-harness';

let env: WebTestEnv;
let ada: TestBrowser;

beforeAll(async () => {
  env = await startWebTestEnv({ trustProxy: true });
  ada = new TestBrowser(env.app, { 'x-forwarded-for': '192.0.2.90' });
  expect((await ada.login('ada')).status).toBe(303);
  await ada.request('/folders');
});
afterAll(async () => env?.close());

const rules = async () =>
  Object.fromEntries((await env.orm.em.fork().find(FolderReceiptRule, {})).map((r) => [r.clinicFolder, { clients: r.allowedClients, users: r.allowedUsers }]));
const folderId = async (label: string, folderTag: string) => (await env.orm.em.fork().findOneOrFail(RemoteFolder, { label, folderTag })).id;
const unescape = (s: string) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

async function importCsv(csv: string): Promise<{ status: number; page: string; apply(): Promise<string> }> {
  const form = new FormData();
  form.append('_csrf', ada.csrf);
  form.append('csv', new File([csv], 'folders.csv', { type: 'text/csv' }));
  const res = await ada.request('/folders/import', { method: 'POST', body: form });
  const page = unescape(await res.text());
  return {
    status: res.status,
    page,
    apply: async () => {
      const text = /<textarea name="text" hidden>([\s\S]*?)<\/textarea>/.exec(page)![1]!;
      return unescape(await (await ada.form('/folders/import/apply', { _csrf: ada.csrf, text })).text());
    },
  };
}

describe('receipt rules on the remote folders page', () => {
  it('refuses a bad range with a message naming it, keeps what was typed, and saves nothing', async () => {
    const res = await ada.form('/folders', {
      _csrf: ada.csrf,
      label: 'BHS',
      folderTag: '12',
      folder: 'digawana',
      basePath: 'viral_load',
      allowedClients: '10.20.0.0/16, 10.0.0.0/33',
      allowedUsers: '',
    });
    expect(res.status).toBe(400);
    const page = unescape(await res.text());
    expect(page).toContain('Allowed clients: "10.0.0.0/33": the number after / must be 0 to 32 for an IPv4 range.');
    expect(page).toContain('value="10.20.0.0/16, 10.0.0.0/33"'); // what was typed stays in the form, to be corrected
    expect(await env.orm.em.fork().count(RemoteFolder, {})).toBe(0);
    expect(await rules()).toEqual({});
  });

  it('adds a folder with a rule; a second row of the same folder shares it; the list shows it', async () => {
    let res = await ada.form('/folders', {
      _csrf: ada.csrf,
      label: 'BHS',
      folderTag: '12',
      folder: 'digawana',
      basePath: 'viral_load',
      allowedClients: '10.20.0.0/16 2001:db8:5::/48',
      allowedUsers: 'digawana',
    });
    expect(res.status).toBe(200);
    expect(unescape(await res.text())).toContain('Receipt rule of viral_load/digawana (shared by BHS 12): clients 10.20.0.0/16 2001:db8:5::/48; users digawana.');
    expect(await rules()).toEqual({ 'viral_load/digawana': { clients: ['10.20.0.0/16', '2001:db8:5::/48'], users: ['digawana'] } });

    // Empty rule fields when adding keep the folder's rule.
    res = await ada.form('/folders', { _csrf: ada.csrf, label: 'CDC2', folderTag: '12', folder: 'digawana', basePath: 'viral_load', allowedClients: '', allowedUsers: '' });
    expect(unescape(await res.text())).toContain('Receipt rule of viral_load/digawana (shared by BHS 12, CDC2 12): clients 10.20.0.0/16 2001:db8:5::/48; users digawana.');
    res = await ada.form('/folders', { _csrf: ada.csrf, label: 'BHS', folderTag: '34', folder: 'gweta', basePath: 'viral_load' });
    const list = await res.text();
    expect(list.match(/<div class="mono">10\.20\.0\.0\/16 2001:db8:5::\/48<\/div>/g)).toHaveLength(2);
    expect(list).toContain('any fetch');
  });

  it('edits the folder\'s rule from any of its rows; clearing both fields removes it', async () => {
    const cdc2 = await folderId('CDC2', '12');
    const page = await (await ada.request(`/folders/${cdc2}`)).text();
    expect(page).toContain('belongs to viral_load/digawana, and is shared with BHS 12');
    expect(page).toContain('name="allowedClients" value="10.20.0.0/16 2001:db8:5::/48"');

    const edit = (fields: Record<string, string>) =>
      ada.form(`/folders/${cdc2}`, {
        _csrf: ada.csrf,
        label: 'CDC2',
        folderTag: '12',
        folder: 'digawana',
        basePath: 'viral_load',
        ruleOf: 'viral_load/digawana',
        shownClients: '10.20.0.0/16 2001:db8:5::/48',
        shownUsers: 'digawana',
        ...fields,
      });
    let res = await edit({ allowedClients: '10.20.0.0/16 127.0.0.1/32', allowedUsers: 'digawana' });
    expect(res.status).toBe(200);
    expect(await rules()).toMatchObject({ 'viral_load/digawana': { clients: ['10.20.0.0/16', '127.0.0.1/32'], users: ['digawana'] } });
    expect((await env.orm.em.fork().findOneOrFail(FolderReceiptRule, { clinicFolder: 'viral_load/digawana' })).updatedBy).toBe('ada');

    res = await edit({ allowedClients: '::ffff:10.0.0.0/200', allowedUsers: '-' });
    expect(res.status).toBe(400);
    const refused = unescape(await res.text());
    expect(refused).toContain('"::ffff:10.0.0.0/200": the number after / must be 0 to 128 for an IPv6 range.');
    expect(refused).toContain('Allowed users: "-" is not a user name');
    expect(await rules()).toMatchObject({ 'viral_load/digawana': { clients: ['10.20.0.0/16', '127.0.0.1/32'] } });

    res = await edit({ allowedClients: '', allowedUsers: '' });
    expect(unescape(await res.text())).toContain('Receipt rule of viral_load/digawana (shared by BHS 12, CDC2 12): none (any fetch counts).');
    expect(await rules()).toEqual({});
  });

  it('moving a row to another folder with the rule fields untouched keeps that folder\'s own rule', async () => {
    const bhs12 = await folderId('BHS', '12');
    await ada.request(`/folders/${bhs12}`);
    await ada.form(`/folders/${bhs12}`, {
      _csrf: ada.csrf, label: 'BHS', folderTag: '12', folder: 'digawana', basePath: 'viral_load', allowedClients: '10.20.0.0/16', allowedUsers: '',
      ruleOf: 'viral_load/digawana', shownClients: '', shownUsers: '',
    });
    const bhs34 = await folderId('BHS', '34');
    // BHS 34 (gweta, no rule) is moved to digawana, with its empty rule fields as shown: digawana's rule stays.
    const res = await ada.form(`/folders/${bhs34}`, {
      _csrf: ada.csrf, label: 'BHS', folderTag: '34', folder: 'digawana', basePath: 'viral_load', allowedClients: '', allowedUsers: '',
      ruleOf: 'viral_load/gweta', shownClients: '', shownUsers: '',
    });
    expect(unescape(await res.text())).toContain('Receipt rule of viral_load/digawana (shared by BHS 12, BHS 34, CDC2 12): clients 10.20.0.0/16.');
    expect(await rules()).toEqual({ 'viral_load/digawana': { clients: ['10.20.0.0/16'], users: [] } });
    await ada.form(`/folders/${bhs34}`, { _csrf: ada.csrf, label: 'BHS', folderTag: '34', folder: 'gweta', basePath: 'viral_load', ruleOf: 'viral_load/digawana', shownClients: '10.20.0.0/16', shownUsers: '', allowedClients: '10.20.0.0/16', allowedUsers: '' });
    expect(await rules()).toEqual({ 'viral_load/digawana': { clients: ['10.20.0.0/16'], users: [] } });
  });
});

describe('receipt rules in the CSV', () => {
  it('exports the rule columns, and an exported table imports back unchanged', async () => {
    const csv = await (await ada.request('/folders/export.csv')).text();
    const lines = csv.trim().split('\n');
    expect(lines[0]).toBe('base_path,folder,folder_tag,label,allowed_clients,allowed_users');
    expect(lines).toContain('"viral_load","digawana","12","BHS","10.20.0.0/16",""');
    expect(lines).toContain('"viral_load","gweta","34","BHS","",""');
    const again = await importCsv(csv);
    expect(again.status).toBe(200);
    expect(again.page).toContain('No receipt rule changes.');
  });

  it('an old 4-column CSV imports and keeps every stored rule', async () => {
    const csv = 'base_path,folder,folder_tag,label\nviral_load,digawana,12,BHS\nviral_load,gumare,35,BHS\n';
    const preview = await importCsv(csv);
    expect(preview.status).toBe(200);
    expect(preview.page).toContain('every clinic folder keeps its receipt rule');
    expect(await preview.apply()).toMatch(/Imported: 1 added, 0 changed, 1 unchanged/);
    expect(await rules()).toEqual({ 'viral_load/digawana': { clients: ['10.20.0.0/16'], users: [] } });
  });

  it('refuses a CSV with a bad range, naming the line', async () => {
    const preview = await importCsv('base_path,folder,folder_tag,label,allowed_clients\nviral_load,gumare,35,BHS,10.1.0.0/40\n');
    expect(preview.status).toBe(400);
    expect(preview.page).toContain('Line 2: allowed_clients "10.1.0.0/40": the number after / must be 0 to 32 for an IPv4 range.');
    expect(preview.page).not.toContain('Import these');
  });

  it('sets and clears rules from the columns, showing the changes before applying them', async () => {
    const preview = await importCsv(
      'base_path,folder,folder_tag,label,allowed_clients,allowed_users\nviral_load,digawana,12,BHS,,\nviral_load,gumare,35,BHS,192.0.2.0/24,gumare\n',
    );
    expect(preview.page).toContain('Receipt rules to change');
    expect(preview.page).toContain('viral_load/digawana</td><td>clients 10.20.0.0/16 → none (any fetch counts)');
    expect(preview.page).toContain('viral_load/gumare</td><td>none (any fetch counts) → clients 192.0.2.0/24; users gumare');
    expect(await preview.apply()).toContain('2 receipt rule(s) changed.');
    expect(await rules()).toEqual({ 'viral_load/gumare': { clients: ['192.0.2.0/24'], users: ['gumare'] } });
  });
});

describe('fetches that did not count', () => {
  it('are shown, with the reason, on the file\'s page and the receipts page, and counted per scan', async () => {
    const id = await seedFile(env.orm, { fileName: '066-12000001-3.pdf', state: 'AWAITING_ACK', clinicFolder: 'viral_load/gumare' });
    await new FileLedger(env.orm.em.fork()).recordForeignFetch(id, {
      evidenceKey: 'web-foreign-1',
      accessedAt: new Date().toISOString(),
      client: '10.9.9.9',
      requestLine: 'GET /viral_load/gumare/066-12000001-3.pdf',
      status: 200,
      remotePath: 'viral_load/gumare/066-12000001-3.pdf',
      clinicFolder: 'viral_load/gumare',
      reason: "client 10.9.9.9 is not one of viral_load/gumare's addresses",
    });
    const em = env.orm.em.fork();
    em.create(LogScanRun, { workflowId: 'scan', runId: 'scan-run-1', source: 'access.log', startedAt: new Date(), finishedAt: new Date(), foreignHits: 1 });
    await em.flush();

    const filePage = unescape(await (await ada.request(`/files/${id}`)).text());
    expect(filePage).toContain('Fetches that did not count');
    expect(filePage).toContain("client 10.9.9.9 is not one of viral_load/gumare's addresses");
    expect(filePage).toContain('not counted as receipt'); // the timeline event
    const receipts = unescape(await (await ada.request('/receipts')).text());
    expect(receipts).toContain('Fetches that did not count: not from the clinic');
    expect(receipts).toMatch(/066-12000001-3\.pdf<\/a><\/td>\s*<td class="mono">10\.9\.9\.9<\/td>/);
    expect(receipts).toContain('<th class="num">Not the clinic</th>');
    expect(receipts).toContain('<td class="num tone-wait">1</td>');
  });
});
