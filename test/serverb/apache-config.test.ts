import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ClinicRule } from '../../src/remote-folders/clinic-rule';
import { LocalLogSource } from '../../src/receipts/log-source';
import { createLogScanActivities } from '../../src/activities/log-scan-activities';
import { ResultFile } from '../../src/db/entities';
import { FileLedger } from '../../src/db/file-ledger';
import { openOrm } from '../../src/db/orm';
import { registerUploadHost } from '../../src/labs/upload-hosts';
import { fakeWorkflows } from '../harness/fake-workflows';
import { renderApacheConfig } from '../../src/serverb/apache-config';
import { openPathForOthers, startApache, type ApacheHandle } from '../harness/apache';
import { createTestDatabase, type TestDatabase } from '../harness/database';
import { resultPdf } from '../harness/pdf';

/**
 * Server B's Apache configuration as `getresults serverb apache-config` writes it from the folder table (issue 14),
 * run by the real Apache from apt: each clinic fetches its own files (200, a receipt), never another clinic's
 * (401/403, which the scan does not count), and no folder is listed.
 */
const CLI = path.join(__dirname, '..', '..', 'bin', 'getresults.js');
const MODULES = ['alias', 'authz_host', 'authz_user', 'authn_core', 'authn_file', 'auth_basic'];

let db: TestDatabase;
let scratch: string;
let root: string;
let apache: ApacheHandle;
let generated: string;
let stderr: string;

function cli(args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: db.url, GETRESULTS_DATA_DIR: path.join(scratch, 'data'), GETRESULTS_ACK_URL_PREFIX: '/results/' },
    encoding: 'utf8',
  });
}

const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
const get = (urlPath: string, headers: Record<string, string> = {}) => fetch(`${apache.url}${urlPath}`, { headers });

beforeAll(async () => {
  db = await createTestDatabase();
  scratch = mkdtempSync(path.join(os.tmpdir(), 'gr-serverb-'));
  openPathForOthers(scratch);
  root = path.join(scratch, 'srv');
  for (const clinic of ['digawana', 'molepolole', 'ipclinic', 'newclinic']) mkdirSync(path.join(root, 'viral_load', clinic), { recursive: true });
  writeFileSync(path.join(root, 'viral_load', 'digawana', '066-12000001-3.pdf'), resultPdf('066-12000001-3'));
  writeFileSync(path.join(root, 'viral_load', 'molepolole', '066-13000001-3.pdf'), resultPdf('066-13000001-3'));
  writeFileSync(path.join(root, 'viral_load', 'ipclinic', '066-14000001-3.pdf'), resultPdf('066-14000001-3'));
  writeFileSync(path.join(root, 'viral_load', 'newclinic', '066-15000001-3.pdf'), resultPdf('066-15000001-3'));

  // The lab's folder table with each clinic's receipt rule, loaded as an operator loads it.
  const csv = path.join(scratch, 'folders.csv');
  writeFileSync(
    csv,
    [
      'base_path,folder,folder_tag,label,allowed_clients,allowed_users',
      'viral_load,digawana,12,BHS,,digawana',
      'viral_load,molepolole,13,BHS,,molepolole',
      'viral_load,ipclinic,14,BHS,127.0.0.1,',
      'viral_load,newclinic,15,BHS,,',
      '',
    ].join('\n'),
  );
  expect(cli(['migrate']).status).toBe(0);
  expect(cli(['folders', 'load', csv]).status).toBe(0);

  // The clinics' credentials, made with Apache's own tool.
  const htpasswd = path.join(scratch, 'clinics.htpasswd');
  execFileSync('htpasswd', ['-bBc', htpasswd, 'digawana', 'digawana-secret'], { stdio: 'ignore' });
  execFileSync('htpasswd', ['-bB', htpasswd, 'molepolole', 'molepolole-secret'], { stdio: 'ignore' });
  chmodSync(htpasswd, 0o644);

  generated = path.join(scratch, 'getresults-serverb.conf');
  apache = await startApache(root, {
    modules: MODULES,
    site: ({ accessLog }) => {
      const written = cli(['serverb', 'apache-config', '--out', generated, '--document-root', root, '--access-log', accessLog, '--htpasswd', htpasswd]);
      expect(written.status).toBe(0);
      stderr = written.stderr;
      return [`Include "${generated}"`];
    },
  });
}, 120_000);

afterAll(async () => {
  await apache?.stop();
  await db?.drop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('server B\'s Apache, configured from the folder table', () => {
  test('a clinic fetches its own file with its credentials', async () => {
    const res = await get('/results/viral_load/digawana/066-12000001-3.pdf', basic('digawana', 'digawana-secret'));
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(resultPdf('066-12000001-3'))).toBe(true);
  });

  test('a clinic allowed by its address fetches without credentials', async () => {
    expect((await get('/results/viral_load/ipclinic/066-14000001-3.pdf')).status).toBe(200);
  });

  test('a clinic asking for another clinic\'s file, or anyone without credentials, is refused', async () => {
    expect((await get('/results/viral_load/molepolole/066-13000001-3.pdf', basic('digawana', 'digawana-secret'))).status).toBe(401);
    expect((await get('/results/viral_load/digawana/066-12000001-3.pdf')).status).toBe(401);
    expect((await get('/results/viral_load/digawana/066-12000001-3.pdf', basic('digawana', 'wrong'))).status).toBe(401);
    // The address rule is the ipclinic's, not a key to every folder.
    expect((await get('/results/viral_load/digawana/066-12000001-3.pdf', basic('molepolole', 'molepolole-secret'))).status).toBe(401);
  });

  test('no folder is listed, nothing outside the clinic folders is served, and a folder without a rule is closed', async () => {
    // The clinic's own folder, asked as a folder: no listing (403 with mod_autoindex loaded, 404 without).
    const listing = await get('/results/viral_load/digawana/', basic('digawana', 'digawana-secret'));
    expect([403, 404]).toContain(listing.status);
    expect(await listing.text()).not.toContain('066-12000001-3.pdf');
    expect((await get('/results/viral_load/')).status).toBe(403);
    expect((await get('/results/')).status).toBe(403);
    expect((await get('/results/viral_load/newclinic/066-15000001-3.pdf')).status).toBe(403);
    expect(stderr).toContain('1 clinic folder(s) have no receipt rule, so nobody may fetch from them: viral_load/newclinic.');
  });

  test('only the clinics\' own fetches are receipts in the log it writes, and each counts for its clinic', async () => {
    // The log in the format the scan reads, read by the same parser (getresults parse-log).
    const parsed = cli(['parse-log', apache.accessLog, '--json']);
    expect(parsed.status).toBe(0);
    const hits = parsed.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { path?: string; user?: string | null; client?: string })
      .filter((h) => h.path !== undefined);
    expect(hits.map((h) => [h.path, h.user ?? null]).sort()).toEqual([
      ['/results/viral_load/digawana/066-12000001-3.pdf', 'digawana'],
      ['/results/viral_load/ipclinic/066-14000001-3.pdf', null],
    ]);
    // The refused requests are in the log, as evidence, but none of them is a receipt.
    expect(readFileSync(apache.accessLog, 'utf8')).toMatch(/"GET \/results\/viral_load\/molepolole\/066-13000001-3\.pdf HTTP\/1\.1" 401 /);
    const digawanaRule = new ClinicRule('viral_load/digawana', { allowedClients: [], allowedUsers: ['digawana'] });
    const digawanaHit = hits.find((h) => h.path!.includes('digawana'))!;
    expect(digawanaRule.check(digawanaHit.client!, digawanaHit.user ?? null)).toEqual({ counts: true });
  });
});

describe('the configuration text', () => {
  const base = { documentRoot: '/srv/results', urlPrefix: '/', accessLog: '/var/log/apache2/getresults.log', logFormat: 'combined', authUserFile: '/etc/apache2/g.htpasswd', generatedAt: new Date(0) };

  test('writes one <Directory> per clinic folder, the rule as the scan reads it (address OR user)', () => {
    const { text } = renderApacheConfig({
      ...base,
      unruled: 'deny',
      folders: [
        { clinicFolder: 'viral_load/b', rule: { allowedClients: ['10.20.0.0/16'], allowedUsers: ['b-user'] } },
        { clinicFolder: 'viral_load/a', rule: { allowedClients: [], allowedUsers: ['a-user'] } },
        { clinicFolder: 'viral_load/a' },
      ],
    });
    expect(text.match(/<Directory "\/srv\/results\/viral_load\/[ab]">/g)).toEqual(['<Directory "/srv/results/viral_load/a">', '<Directory "/srv/results/viral_load/b">']);
    expect(text).toContain('  <RequireAny>\n    Require ip 10.20.0.0/16\n    Require user b-user\n  </RequireAny>');
    expect(text).toContain('LogFormat "%h %l %u %t \\"%r\\" %>s %b \\"%{Referer}i\\" \\"%{User-agent}i\\"" getresults');
    expect(text).toContain('DocumentRoot "/srv/results"');
  });

  test('opens a folder without a rule only when asked to', () => {
    const { text, foldersWithoutRule } = renderApacheConfig({ ...base, unruled: 'open', folders: [{ clinicFolder: 'viral_load/c' }] });
    expect(foldersWithoutRule).toEqual(['viral_load/c']);
    expect(text).toContain('<Directory "/srv/results/viral_load/c">\n  Options -Indexes -FollowSymLinks\n  # No receipt rule: anyone may fetch');
    expect(text).toContain('(--unruled open).\n  Require all granted\n</Directory>');
  });

  test.each([
    ['a folder that would add a directive', { clinicFolder: 'viral_load/x">\nRequire all granted\n<Directory "/' }],
    ['a folder leading out of the root', { clinicFolder: '../etc' }],
    ['a user name Apache reads as two', { clinicFolder: 'viral_load/d', rule: { allowedClients: [], allowedUsers: ['a b'] } }],
    ['a client that is no address', { clinicFolder: 'viral_load/d', rule: { allowedClients: ['all'], allowedUsers: [] } }],
  ])('refuses %s', (_what, folder) => {
    expect(() => renderApacheConfig({ ...base, unruled: 'deny', folders: [folder] })).toThrow(/./);
  });
});

describe('the receipt scan over the log that configuration writes', () => {
  test('acknowledges the file the clinic fetched, and not the one another clinic was refused', async () => {
    const orm = await openOrm(db.url);
    try {
      // Two delivered files waiting for their fetch, as the pipeline records them.
      const host = await registerUploadHost(orm.em.fork(), 'host-a', 'default');
      const ledger = new FileLedger(orm.em.fork());
      const delivered = async (clinic: string, name: string) => {
        const { resultFileId } = await ledger.register({
          workflowId: `file-${clinic}`,
          runId: `run-${clinic}`,
          fileName: name,
          uploadPath: `/upload/${name}`,
          sizeBytes: 1,
          sha256: createHash('sha256').update(clinic).digest('hex'),
          uploadedAt: new Date(),
          host,
        });
        await ledger.transition(resultFileId, 'AWAITING_ACK', { eventKey: `seed:${clinic}`, type: 'ARCHIVED', message: 'Seeded.' }, {
          clinicFolder: `viral_load/${clinic}`,
          remotePath: `viral_load/${clinic}/${name}`,
          sentAt: new Date(Date.now() - 60_000),
        });
        return resultFileId;
      };
      const digawana = await delivered('digawana', '066-12000001-3.pdf');
      const molepolole = await delivered('molepolole', '066-13000001-3.pdf');

      const scan = createLogScanActivities({
        orm,
        // The files' workflows are not running here; the database record is the acknowledgement.
        workflows: fakeWorkflows({ deliverReceipt: async () => 'closed' }),
        config: { location: apache.accessLog, format: 'combined', urlPrefix: '/results/', pattern: '*.pdf', scanInterval: '5m', chunkBytes: 1 << 20 },
        source: new LocalLogSource(apache.accessLog),
      });
      const summary = await new MockActivityEnvironment().run(() => scan.scanAccessLogOnce({ workflowId: 'log-scan', runId: 'scan-1' }));
      expect(summary).toMatchObject({ hits: 2, acknowledged: 1, unknownHits: 1 });
      const state = async (id: number) => (await orm.em.fork().findOneOrFail(ResultFile, { id })).state;
      expect(await state(digawana)).toBe('ACKNOWLEDGED');
      expect(await state(molepolole)).toBe('AWAITING_ACK');
    } finally {
      await orm.close();
    }
  });
});
