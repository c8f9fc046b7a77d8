import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileTaskQueueFor } from '../../src/workflows/definitions';
import { createNetworkNamespace, type NetworkNamespace } from '../harness/netns';
import { resultPdf } from '../harness/pdf';
import { listTree } from '../harness/sshd';
import { startStack, type ChildHandle, type ResultFileRow, type Stack } from '../harness/stack';
import { waitFor } from '../harness/wait-for';
import { OVER_HTTP, PASSWORD, TestBrowser } from '../web/web-harness';

/**
 * Two upload hosts of two labs on one deployment, across a real network boundary (issue 13). Host A runs beside the
 * services; host B is another machine: a network namespace made by the test, reaching Temporal, PostgreSQL and server
 * B's sshd only over its veth link. Each has its own watcher, worker, upload folder and lab, and the same hint goes to
 * a different clinic in each lab's folder table.
 */
const SEED_CSV = path.join(__dirname, '..', '..', 'config', 'remote_folders.csv');

let stack: Stack;
let ns: NetworkNamespace;
let hostB: { env: NodeJS.ProcessEnv; dataDir: string; uploadDir: string; worker?: ChildHandle; watcher?: ChildHandle };
let scratch: string;
/** The web page running beside host B, in its namespace; started once host A has registered (its upload target). */
let webB: { origin: string; process: ChildHandle } | undefined;
const WEB_B_PORT = 3000;

async function startWebB(): Promise<string> {
  if (!webB) {
    const origin = `http://${ns.ownAddress}:${WEB_B_PORT}`;
    webB = {
      origin,
      // Beside host B, of lab north; its uploads go to host A (GETRESULTS_WEB_UPLOAD_HOST), which its worker places.
      process: stack.startProcessIn(ns.name, ['web'], {
        ...hostB.env,
        GETRESULTS_WEB_HOST: ns.ownAddress,
        GETRESULTS_WEB_PORT: String(WEB_B_PORT),
        GETRESULTS_WEB_UPLOAD_HOST: stack.env.GETRESULTS_HOST_ID,
      }),
    };
    await waitFor('the web page beside host B', async () => (await fetch(`${origin}/health`).catch(() => undefined))?.ok || undefined, { timeoutMs: 60_000 });
  }
  return webB.origin;
}

async function signInAtB(username: string): Promise<TestBrowser> {
  const browser = new TestBrowser(OVER_HTTP, {}, await startWebB());
  expect((await browser.login(username)).status).toBe(303);
  return browser;
}

function drop(uploadDir: string, name: string): void {
  const temp = path.join(uploadDir, `.${name}.part`);
  writeFileSync(temp, resultPdf(name.replace(/\.pdf$/, '')));
  renameSync(temp, path.join(uploadDir, name));
}

const rowFor = (name: string, state: string): Promise<ResultFileRow & { lab_id?: number; upload_host?: string | null }> =>
  waitFor(`${name} to reach ${state}`, async () => (await stack.fileRows()).find((r) => r.file_name === name && r.state === state), { timeoutMs: 90_000 });

async function labAndHost(name: string): Promise<{ lab: string; host: string | null }> {
  const { rows } = await stack.pg.query<{ lab: string; host: string | null }>(
    'select l.name as lab, f.upload_host as host from result_file f join lab l on l.id = f.lab_id where f.file_name = $1',
    [name],
  );
  return rows[0]!;
}

const startB = (command: 'worker' | 'watch') => stack.startProcessIn(ns.name, [command], hostB.env);

beforeAll(async () => {
  stack = await startStack();
  ns = await createNetworkNamespace(1);
  const temporalPort = Number(new URL(`grpc://${stack.temporal.address}`).port);
  const db = new URL(stack.db.url);
  await Promise.all([ns.forward(temporalPort), ns.forward(Number(db.port || 5432)), ns.forward(stack.sshd.port)]);
  db.hostname = ns.serverAddress;

  scratch = mkdtempSync(path.join(os.tmpdir(), 'gr-hostb-'));
  const dataDir = path.join(scratch, 'data');
  mkdirSync(path.join(dataDir, 'upload'), { recursive: true });
  // Server B's host key, as host B knows it: under the address it dials.
  const knownHosts = path.join(scratch, 'known_hosts');
  writeFileSync(knownHosts, readFileSync(stack.sshd.knownHostsFile, 'utf8').replace(/^\[[^\]]+\]/, `[${ns.serverAddress}]`));
  hostB = {
    dataDir,
    uploadDir: path.join(dataDir, 'upload'),
    env: {
      DATABASE_URL: db.toString(),
      TEMPORAL_ADDRESS: `${ns.serverAddress}:${temporalPort}`,
      GETRESULTS_DATA_DIR: dataDir,
      GETRESULTS_HOST_ID: 'north-b',
      GETRESULTS_LAB: 'north',
      GETRESULTS_DESTINATION: `sftp://${stack.sshd.username}@${ns.serverAddress}:${stack.sshd.port}${stack.sshd.remoteRoot}`,
      GETRESULTS_SSH_KNOWN_HOSTS: knownHosts,
    },
  };

  // The operator's steps (docs/deployment.md): the lab, and each lab's folder table.
  expect((await stack.cli(['labs', 'add', 'north', '--title', 'North district lab'])).code).toBe(0);
  expect((await stack.cli(['folders', 'load', SEED_CSV])).code).toBe(0);
  // The web page's users: a technician of each lab.
  const passwordFile = path.join(scratch, 'password');
  writeFileSync(passwordFile, `${PASSWORD}\n`);
  expect((await stack.cli(['users', 'add', 'tom', '--lab', 'default', '--password-file', passwordFile])).code).toBe(0);
  expect((await stack.cli(['users', 'add', 'nina', '--lab', 'north', '--password-file', passwordFile])).code).toBe(0);
  const northCsv = path.join(scratch, 'north.csv');
  writeFileSync(northCsv, 'base_path,folder,folder_tag,label\nviral_load,northclinic,12,BHS\n');
  expect((await stack.cli(['folders', 'load', '--lab', 'north', northCsv])).code).toBe(0);

  stack.startWorker();
  stack.startWatcher();
  hostB.worker = startB('worker');
  hostB.watcher = startB('watch');
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  await ns?.cleanup();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('two upload hosts of two labs, across a network boundary', () => {
  it('delivers each host\'s files to its own lab\'s clinic, recording lab and host', async () => {
    drop(stack.uploadDir, '066-12000001-3.pdf');
    drop(hostB.uploadDir, '066-12000002-3.pdf');
    const a = await rowFor('066-12000001-3.pdf', 'AWAITING_ACK');
    const b = await rowFor('066-12000002-3.pdf', 'AWAITING_ACK');
    expect(a.remote_path).toBe('viral_load/digawana/066-12000001-3.pdf');
    expect(b.remote_path).toBe('viral_load/northclinic/066-12000002-3.pdf');
    expect(await labAndHost('066-12000001-3.pdf')).toEqual({ lab: 'default', host: stack.env.GETRESULTS_HOST_ID });
    expect(await labAndHost('066-12000002-3.pdf')).toEqual({ lab: 'north', host: 'north-b' });
    // Each archive on its own host's disk.
    expect(a.archive_path!.startsWith(stack.dataDir)).toBe(true);
    expect(b.archive_path!.startsWith(hostB.dataDir)).toBe(true);
    const { rows } = await stack.pg.query<{ name: string; lab: string }>('select h.name, l.name as lab from upload_host h join lab l on l.id = h.lab_id order by h.name');
    expect(rows).toEqual(
      [
        { name: 'north-b', lab: 'north' },
        { name: stack.env.GETRESULTS_HOST_ID!, lab: 'default' },
      ].sort((x, y) => x.name.localeCompare(y.name)),
    );
  });

  it('sets a copy of content that host A is delivering aside on host B, where it was uploaded, without touching A\'s', async () => {
    // The same content as A's file, which A's workflow (on A's queue) is still running for, waiting for its fetch.
    const temp = path.join(hostB.uploadDir, '.copy.part');
    writeFileSync(temp, resultPdf('066-12000001-3'));
    renameSync(temp, path.join(hostB.uploadDir, 'copy-of-066-12000001-3.pdf'));
    const copy = await rowFor('copy-of-066-12000001-3.pdf', 'DUPLICATE');
    expect(await labAndHost('copy-of-066-12000001-3.pdf')).toEqual({ lab: 'north', host: 'north-b' });
    // Another lab's file name is its patient's identifier: B's trail names A's delivery by number only.
    expect(copy.state_reason).toContain('a file of another lab');
    expect(copy.state_reason).not.toContain('066-12000001-3.pdf');
    await waitFor('the copy to leave B\'s upload folder', async () => readdirSync(hostB.uploadDir).length === 0 || undefined);
    expect((await listTree(path.join(hostB.dataDir, 'duplicates'))).map((f) => path.basename(f))).toEqual(['copy-of-066-12000001-3.pdf']);
    expect((await rowFor('066-12000001-3.pdf', 'AWAITING_ACK')).archive_path!.startsWith(stack.dataDir)).toBe(true);
  });

  it('with host B\'s worker down, only B\'s files wait; they go on when it returns', async () => {
    await hostB.worker!.kill('SIGTERM');
    drop(hostB.uploadDir, '066-12000003-3.pdf');
    drop(stack.uploadDir, '066-12000004-3.pdf');
    await rowFor('066-12000004-3.pdf', 'AWAITING_ACK');
    // B's watcher handed its file to Temporal, where it waits on B's queue: nothing else may pick it up.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect((await stack.fileRows()).some((r) => r.file_name === '066-12000003-3.pdf')).toBe(false);
    expect(readdirSync(hostB.uploadDir)).toContain('066-12000003-3.pdf');
    hostB.worker = startB('worker');
    const resumed = await rowFor('066-12000003-3.pdf', 'AWAITING_ACK');
    expect(resumed.remote_path).toBe('viral_load/northclinic/066-12000003-3.pdf');
    expect(await labAndHost('066-12000003-3.pdf')).toEqual({ lab: 'north', host: 'north-b' });
  });

  it('lets an operator find each lab\'s files in the Temporal UI by lab, host and state, by database id', async () => {
    // The queries docs/deployment.md gives, asked as the Temporal CLI (and the UI's search box) asks them.
    const list = async (query: string): Promise<number[]> => {
      const out = execFileSync(process.env.TEMPORAL_CLI_PATH ?? 'temporal', ['workflow', 'list', '--address', stack.temporal.address, '--query', query, '--output', 'jsonl'], {
        encoding: 'utf8',
      });
      return out
        .split('\n')
        .filter((line) => line.trim().startsWith('{'))
        .map((line) => JSON.parse(line) as { searchAttributes?: { indexedFields?: Record<string, { data?: string }> } })
        .map((run) => Number(Buffer.from(run.searchAttributes?.indexedFields?.GetresultsFileId?.data ?? '', 'base64').toString()))
        .sort((x, y) => x - y);
    };
    const idOf = async (name: string) => (await stack.fileRows()).find((r) => r.file_name === name)!.id;
    const northWaiting = [await idOf('066-12000002-3.pdf'), await idOf('066-12000003-3.pdf')].sort((x, y) => x - y);
    await waitFor('visibility to catch up', async () => {
      const found = await list('GetresultsLab = "north" AND GetresultsState = "AWAITING_ACK"');
      return found.join() === northWaiting.join() || undefined;
    });
    expect(await list('GetresultsHost = "north-b" AND GetresultsState = "DUPLICATE"')).toEqual([await idOf('copy-of-066-12000001-3.pdf')]);
    expect(await list(`GetresultsLab = "default" AND GetresultsState = "AWAITING_ACK"`)).toEqual(
      [await idOf('066-12000001-3.pdf'), await idOf('066-12000004-3.pdf')].sort((x, y) => x - y),
    );
    expect(await list('GetresultsLab = "north" AND GetresultsState IN ("NEEDS_FOLDER", "TRANSFER_BLOCKED", "REJECTED")')).toEqual([]);
  });

  it('tells a host whose worker polls its queue from a host that has none (what Resend and Withdraw ask first)', async () => {
    expect(await stack.workflows.isQueueServed(fileTaskQueueFor('north-b'))).toBe(true);
    expect(await stack.workflows.isQueueServed(fileTaskQueueFor(stack.env.GETRESULTS_HOST_ID!))).toBe(true);
    expect(await stack.workflows.isQueueServed(fileTaskQueueFor('a-host-that-never-ran'))).toBe(false);
  });

  it('leaves each host\'s folders holding its own files only', async () => {
    const archived = async (dataDir: string) => (await listTree(path.join(dataDir, 'archive'))).map((f) => path.basename(f)).sort();
    expect(await archived(stack.dataDir)).toEqual(['066-12000001-3.pdf', '066-12000004-3.pdf']);
    expect(await archived(hostB.dataDir)).toEqual(['066-12000002-3.pdf', '066-12000003-3.pdf']);
    expect(readdirSync(stack.uploadDir)).toEqual([]);
    expect(readdirSync(hostB.uploadDir)).toEqual([]);
  });

  it('shows a PDF held by host A on the web page beside host B, through A\'s worker, and records who viewed it', async () => {
    const a = (await stack.fileRows()).find((r) => r.file_name === '066-12000001-3.pdf')!;
    const tom = await signInAtB('tom');
    const pdf = await tom.request(`/files/${a.id}/pdf`);
    expect(pdf.status).toBe(200);
    expect(pdf.headers.get('content-type')).toBe('application/pdf');
    expect(Buffer.from(await pdf.arrayBuffer()).equals(readFileSync(a.archive_path!))).toBe(true);
    expect(await stack.events(a.id)).toEqual(
      expect.arrayContaining([expect.objectContaining({ type: 'PDF_VIEWED', message: `tom viewed the PDF on the web page (from upload host ${stack.env.GETRESULTS_HOST_ID}).` })]),
    );
    // Handed over once, and gone: nothing of it stays in the database.
    expect((await stack.pg.query('select count(*)::int as n from file_handover')).rows).toEqual([{ n: 0 }]);
  });

  it('shows each lab only its own files on the page beside host B, another lab\'s file answering 404', async () => {
    const rows = await stack.fileRows();
    const a = rows.find((r) => r.file_name === '066-12000001-3.pdf')!;
    const b = rows.find((r) => r.file_name === '066-12000002-3.pdf')!;
    const nina = await signInAtB('nina');
    const ninasList = await (await nina.request('/files')).text();
    // (North's own copy of A's content, copy-of-066-12000001-3.pdf, is north's file: its link text is its own name.)
    expect(ninasList).toContain('>066-12000002-3.pdf</a>');
    expect(ninasList).not.toContain('>066-12000001-3.pdf</a>');
    expect((await nina.request(`/files/${a.id}`)).status).toBe(404);
    expect((await nina.request(`/files/${a.id}/pdf`)).status).toBe(404);
    expect((await nina.request(`/files/${b.id}`)).status).toBe(200);
    const tomsList = await (await (await signInAtB('tom')).request('/files')).text();
    expect(tomsList).toContain('>066-12000001-3.pdf</a>');
    expect(tomsList).not.toContain('>066-12000002-3.pdf</a>');
    expect(tomsList).not.toContain('copy-of-066-12000001-3.pdf');
  });

  it('puts an upload on the page beside host B into the upload folder of the host it names, whose worker delivers it', async () => {
    const upload = async (browser: TestBrowser, name: string) => {
      await browser.request('/upload');
      const form = new FormData();
      form.append('_csrf', browser.csrf);
      form.append('files', new File([resultPdf(name.replace(/\.pdf$/, ''))], name, { type: 'application/pdf' }));
      return browser.request('/upload', { method: 'POST', body: form });
    };
    const saved = await upload(await signInAtB('tom'), '066-12000005-3.pdf');
    expect(saved.status).toBe(200);
    expect(await saved.text()).toContain('1 of 1 file(s) saved');
    const row = await rowFor('066-12000005-3.pdf', 'AWAITING_ACK');
    expect(row.remote_path).toBe('viral_load/digawana/066-12000005-3.pdf');
    expect(row.uploaded_by).toBe('tom');
    expect(await labAndHost('066-12000005-3.pdf')).toEqual({ lab: 'default', host: stack.env.GETRESULTS_HOST_ID });
    expect(readdirSync(hostB.uploadDir)).toEqual([]);
    // The page's uploads are host A's lab's files: north's technician is turned away there, and nothing is saved.
    const refused = await upload(await signInAtB('nina'), '066-12000006-3.pdf');
    expect(refused.status).toBe(403);
    expect((await stack.fileRows()).some((r) => r.file_name === '066-12000006-3.pdf')).toBe(false);
  });

  it('retires a host and takes it back, as the operator\'s guide says', async () => {
    // Host B's files are all delivered (or set aside): it can be retired, and says what its waiting files still need.
    const retired = await stack.cli(['hosts', 'retire', 'north-b']);
    expect(retired.code).toBe(0);
    expect(retired.stderr + retired.stdout).toMatch(/Retired north-b .*2 of its file\(s\) wait for their clinic's fetch/s);
    expect((await stack.cli(['labs', 'list'])).stdout).toMatch(/host north-b\t.*\tretired /);
    expect((await stack.cli(['hosts', 'retire', 'north-b', '--undo'])).code).toBe(0);
    expect((await stack.cli(['labs', 'list'])).stdout).not.toMatch(/retired/);
    expect((await stack.cli(['hosts', 'retire', 'no-such-host'])).code).not.toBe(0);
  });
});
