import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LOG_SCAN_SCHEDULE_ID } from '../../src/workflows/names';
import { startApache, type ApacheHandle } from '../harness/apache';
import { resultPdf } from '../harness/pdf';
import { startStack, type ResultFileRow, type Stack } from '../harness/stack';
import { waitFor } from '../harness/wait-for';

const SEED_CSV = path.join(__dirname, '..', '..', 'config', 'remote_folders.csv');

let stack: Stack;
let apache: ApacheHandle;

function drop(name: string): void {
  const temp = path.join(stack.uploadDir, `.${name}.part`);
  writeFileSync(temp, resultPdf(path.parse(name).name));
  renameSync(temp, path.join(stack.uploadDir, name));
}

async function rowFor(name: string, state: string): Promise<ResultFileRow> {
  return waitFor(`${name} to reach ${state}`, async () => (await stack.fileRows()).find((r) => r.file_name === name && r.state === state));
}

/** Runs the scheduled scan now (as the Schedule would) and waits for that run's record. */
async function scanNow(): Promise<{ lines_read: string; hits: number; acknowledged: number; unknown_hits: number; foreign_hits: number; notes: string[] | null }> {
  const schedule = stack.temporalClient.schedule.getHandle(LOG_SCAN_SCHEDULE_ID);
  // The previous scan writes its record just before its workflow closes; a trigger in between would be skipped
  // (overlap policy SKIP), so wait for it to be fully done.
  await waitFor('the previous scan to close', async () => (await schedule.describe()).info.runningActions.length === 0);
  const before = Number((await stack.pg.query('select count(*) from log_scan_run where finished_at is not null')).rows[0].count);
  await schedule.trigger();
  return waitFor('the scan to finish', async () => {
    const runs = await stack.pg.query('select * from log_scan_run where finished_at is not null order by id');
    return runs.rows.length > before ? runs.rows.at(-1) : undefined;
  });
}

/** Apache's `%t` time, e.g. `27/Nov/2026:10:00:00 +0000`. */
function apacheTime(d: Date): string {
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${months[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/**
 * Waits until Apache has logged `count` requests. Apache writes a line after the response has gone out, from whichever
 * of its processes served it, so two quick requests can be logged in either order unless the first is waited for.
 */
async function loggedRequests(count: number): Promise<void> {
  const lines = () => readFileSync(apache.accessLog, 'utf8').split('\n').filter(Boolean).length;
  await waitFor(`Apache to log ${count} requests`, () => lines() >= count, { timeoutMs: 10_000, intervalMs: 20 });
}

/** An HTTP request as a clinic's browser makes it; the body is read to the end so the connection is released. */
async function http(url: string, init: RequestInit = {}): Promise<Response> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(15_000) });
  await response.arrayBuffer();
  return response;
}

async function acknowledgements(resultFileId: number) {
  return (await stack.pg.query('select client, status, first, request_line from receipt where result_file_id = $1 order by id', [resultFileId])).rows;
}

beforeAll(async () => {
  stack = await startStack();
  apache = await startApache(stack.sshd.remoteRoot);
  // Server B's log is read over SFTP, with the same host-key rules as the transfer.
  const env = { GETRESULTS_ACCESS_LOG: `sftp:${apache.accessLog}`, GETRESULTS_LOG_SCAN_INTERVAL: '1h' };
  expect((await stack.cli(['folders', 'load', SEED_CSV])).code).toBe(0);
  stack.startWorker(env);
  stack.startWatcher(env);
  const scheduled = await stack.cli(['schedule'], env);
  expect(scheduled.stdout).toContain(`Schedule ${LOG_SCAN_SCHEDULE_ID} created`);
  expect((await stack.cli(['schedule'], env)).stdout).toContain(`Schedule ${LOG_SCAN_SCHEDULE_ID} updated`); // idempotent
}, 120_000);

afterAll(async () => {
  await apache?.stop();
  await stack?.stop();
});

/** Loads a folder CSV with the receipt rule columns through the real CLI, and returns what it printed. */
async function loadRules(rows: string[]): Promise<string> {
  const csv = path.join(mkdtempSync(path.join(os.tmpdir(), 'gr-rules-')), 'folders.csv');
  writeFileSync(csv, `base_path,folder,folder_tag,label,allowed_clients,allowed_users\n${rows.join('\n')}\n`);
  const loaded = await stack.cli(['folders', 'load', csv]);
  expect(loaded.code).toBe(0);
  return loaded.stdout;
}

describe('proof of receipt from a real Apache access log', () => {
  it('is visible as a Temporal Schedule that skips overlapping runs', async () => {
    const description = await stack.temporalClient.schedule.getHandle(LOG_SCAN_SCHEDULE_ID).describe();
    expect(description.action).toMatchObject({ type: 'startWorkflow', workflowType: 'scanAccessLog' });
    expect(description.policies.overlap).toBe('SKIP');
  });

  it('acknowledges only a GET answered 200 of the exact delivered path; HEAD, 304 and a 404 of the same name do not count', async () => {
    drop('066-12000011-3.pdf');
    const sent = await rowFor('066-12000011-3.pdf', 'AWAITING_ACK');
    const url = `${apache.url}/${sent.remote_path}`;

    const head = await http(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect((await http(url, { headers: { 'If-Modified-Since': head.headers.get('last-modified')! } })).status).toBe(304);
    expect((await http(`${apache.url}/viral_load/gweta/066-12000011-3.pdf`)).status).toBe(404);
    const quiet = await scanNow();
    expect(Number(quiet.lines_read)).toBeGreaterThanOrEqual(3);
    expect(quiet.hits).toBe(0);
    expect((await stack.fileRows()).find((r) => r.id === sent.id)!.state).toBe('AWAITING_ACK');

    expect((await http(url, { headers: { 'User-Agent': 'clinic-browser/1.0' } })).status).toBe(200);
    const scan = await scanNow();
    expect(scan).toMatchObject({ hits: 1, acknowledged: 1, unknown_hits: 0 });
    const acknowledged = await rowFor('066-12000011-3.pdf', 'ACKNOWLEDGED');
    expect(await acknowledgements(acknowledged.id)).toEqual([
      { client: '127.0.0.1', status: 200, first: true, request_line: expect.stringContaining('066-12000011-3.pdf') },
    ]);
    const handle = stack.temporalClient.workflow.getHandle(sent.workflow_id);
    await waitFor('the workflow to complete', async () => (await handle.describe()).status.name === 'COMPLETED', { timeoutMs: 20_000 }).catch(async (err) => {
      const history = await handle.fetchHistory();
      throw new Error(`${err.message}: ${JSON.stringify(history.events?.slice(-8).map((e) => [e.eventType, e.workflowExecutionSignaledEventAttributes?.signalName]))} ${(await handle.describe()).status.name}`);
    });
    expect(await handle.result()).toMatchObject({ state: 'ACKNOWLEDGED', accesses: 1 });
  });

  it('refuses messages forged with the temporal CLI (plain JSON, no payload key): the file waits, nothing outside is touched, each attempt is kept, a real fetch then acknowledges', async () => {
    drop('066-12000019-3.pdf');
    const sent = await rowFor('066-12000019-3.pdf', 'AWAITING_ACK');
    const cli = process.env.TEMPORAL_CLI_PATH ?? 'temporal';
    const temporal = (args: string[]) => execFileSync(cli, [...args, '--address', stack.temporal.address], { stdio: 'pipe' }).toString();
    const signal = (name: string, input: unknown) => temporal(['workflow', 'signal', '--workflow-id', sent.workflow_id, '--name', name, '--input', JSON.stringify(input)]);
    // A file of the worker's that a forged copy announcement or start points at (the worker may run as root).
    const outside = path.join(mkdtempSync(path.join(os.tmpdir(), 'gr-outside-')), 'precious.pdf');
    writeFileSync(outside, '%PDF-1.4 not for the clinic');
    const forged = { evidenceKey: 'forged-1', accessedAt: new Date().toISOString(), client: '6.6.6.6', requestLine: 'GET /forged HTTP/1.1', status: 200 };
    signal('accessed', forged);
    signal('copyUploaded', { uploadPath: outside, fileName: 'precious.pdf', uploadedAt: new Date().toISOString() });
    const refused = await waitFor('both forgeries to be refused', async () => {
      const events = (await stack.events(sent.id)).filter((e) => e.type === 'REFUSED_MESSAGE');
      return events.length === 2 && events;
    });
    expect(refused.map((e) => e.message)).toEqual([
      expect.stringMatching(/^A receipt signal \(accessed\) was refused and changed nothing: it arrived without our payload encryption/),
      expect.stringMatching(/^A copyUploaded signal was refused and changed nothing: it arrived without our payload encryption/),
    ]);
    // The sender's content is not believed, nor written anywhere.
    expect(JSON.stringify(refused)).not.toContain('6.6.6.6');
    expect((await stack.fileRows()).find((r) => r.id === sent.id)!.state).toBe('AWAITING_ACK');
    expect(await acknowledgements(sent.id)).toEqual([]);
    const handle = stack.temporalClient.workflow.getHandle(sent.workflow_id);
    expect((await handle.describe()).status.name).toBe('RUNNING');

    // A forged start of a file workflow on this host's queue: recorded as belonging to no file, nothing done.
    const forgedStart = `file-${'f'.repeat(64)}`;
    temporal([
      'workflow', 'start', '--type', 'distributeFileV3', '--task-queue', `getresults-files-${stack.env.GETRESULTS_HOST_ID}`,
      '--workflow-id', forgedStart, '--input', JSON.stringify({ uploadPath: outside, fileName: 'precious.pdf', sha256: 'f'.repeat(64), sizeBytes: 27 }),
    ]);
    const startHandle = stack.temporalClient.workflow.getHandle(forgedStart);
    await expect(startHandle.result()).rejects.toMatchObject({ cause: { type: 'RefusedInput' } });
    const security = await stack.pg.query('select type, workflow_id, message from security_event where workflow_id = $1', [forgedStart]);
    expect(security.rows).toEqual([{ type: 'REFUSED_MESSAGE', workflow_id: forgedStart, message: expect.stringMatching(/^A workflow start was refused .*without our payload encryption/) }]);
    expect((await stack.fileRows()).some((r) => r.workflow_id === forgedStart)).toBe(false);
    expect(readFileSync(outside, 'utf8')).toBe('%PDF-1.4 not for the clinic');

    // The same forgeries again wake nothing; a real fetch, found by the scan, acknowledges.
    signal('accessed', forged);
    expect((await http(`${apache.url}/${sent.remote_path}`)).status).toBe(200);
    expect(await scanNow()).toMatchObject({ acknowledged: 1 });
    await waitFor('the workflow to complete', async () => (await handle.describe()).status.name === 'COMPLETED', { timeoutMs: 20_000 });
    expect(await handle.result()).toMatchObject({ state: 'ACKNOWLEDGED', accesses: 1 });
    expect(await acknowledgements(sent.id)).toEqual([{ client: '127.0.0.1', status: 200, first: true, request_line: expect.stringContaining('066-12000019-3.pdf') }]);
    expect((await stack.events(sent.id)).filter((e) => e.type === 'REFUSED_MESSAGE')).toHaveLength(3);
    expect(readFileSync(outside, 'utf8')).toBe('%PDF-1.4 not for the clinic');
  });

  it('counts a range request (206), keeps later fetches as extra evidence, and records fetches of unknown files', async () => {
    drop('066-13000001-3.pdf');
    const sent = await rowFor('066-13000001-3.pdf', 'AWAITING_ACK');
    const url = `${apache.url}/${sent.remote_path}`;
    const logged = readFileSync(apache.accessLog, 'utf8').split('\n').filter(Boolean).length;
    expect((await http(url, { headers: { Range: 'bytes=0-99' } })).status).toBe(206);
    await loggedRequests(logged + 1); // so the log holds the range request first, as the clinic made it
    expect((await http(url)).status).toBe(200);
    writeFileSync(path.join(stack.sshd.remoteRoot, 'stray.pdf'), '%PDF-1.4 not ours');
    expect((await http(`${apache.url}/stray.pdf`)).status).toBe(200);

    const scan = await scanNow();
    expect(scan).toMatchObject({ hits: 3, acknowledged: 2, unknown_hits: 1 });
    const acknowledged = await rowFor('066-13000001-3.pdf', 'ACKNOWLEDGED');
    expect((await acknowledgements(acknowledged.id)).map((a) => [a.status, a.first])).toEqual([
      [206, true],
      [200, false],
    ]);
    const events = (await stack.events(acknowledged.id)).map((e) => e.type);
    expect(events.filter((t) => t === 'ACKNOWLEDGED')).toHaveLength(1);
    expect(events.filter((t) => t === 'ACCESSED')).toHaveLength(1);
    const unknown = await stack.pg.query("select remote_path from unknown_fetch");
    expect(unknown.rows).toEqual([{ remote_path: 'stray.pdf' }]);

    const again = await scanNow(); // nothing new: nothing counted twice
    expect(again).toMatchObject({ hits: 0 });
    expect(await acknowledgements(acknowledged.id)).toHaveLength(2);
  });

  it('leaves a half-written last line for the next scan, and counts it once it is complete', async () => {
    drop('066-17000002-3.pdf');
    const sent = await rowFor('066-17000002-3.pdf', 'AWAITING_ACK');
    const line = `127.0.0.1 - - [${apacheTime(new Date())}] "GET /${sent.remote_path} HTTP/1.1" 200 1234 "-" "clinic-browser/1.0"\n`;
    const cut = Math.floor(line.length / 2);
    appendFileSync(apache.accessLog, line.slice(0, cut)); // as if Apache were interrupted mid-write
    expect(await scanNow()).toMatchObject({ hits: 0 });
    expect((await stack.fileRows()).find((r) => r.id === sent.id)!.state).toBe('AWAITING_ACK');

    appendFileSync(apache.accessLog, line.slice(cut));
    expect(await scanNow()).toMatchObject({ hits: 1, acknowledged: 1 });
    const acknowledged = await rowFor('066-17000002-3.pdf', 'ACKNOWLEDGED');
    expect(await acknowledgements(acknowledged.id)).toHaveLength(1);
    expect(await scanNow()).toMatchObject({ hits: 0 });
  });

  it('loses no hit and counts none twice across a log rotation', async () => {
    drop('066-15000001-3.pdf');
    drop('066-16000001-3.pdf');
    const before = await rowFor('066-15000001-3.pdf', 'AWAITING_ACK');
    const after = await rowFor('066-16000001-3.pdf', 'AWAITING_ACK');
    expect((await http(`${apache.url}/${before.remote_path}`)).status).toBe(200); // into access.log, then rotated away
    await apache.rotate();
    expect((await http(`${apache.url}/${after.remote_path}`)).status).toBe(200); // into the new access.log

    const scan = await scanNow();
    expect(scan.notes?.join(' ')).toContain('rotated');
    expect(scan).toMatchObject({ hits: 2, acknowledged: 2 });
    for (const row of [before, after]) {
      await rowFor(row.file_name, 'ACKNOWLEDGED');
      expect(await acknowledgements(row.id)).toHaveLength(1);
    }
    expect(await scanNow()).toMatchObject({ hits: 0 });
  });

  it('a clinic folder whose rule does not allow the fetching address keeps the fetch as foreign evidence; once allowed, the next fetch acknowledges', async () => {
    // lerala (BHS 21) accepts fetches only from its own network; the test's fetches come from 127.0.0.1.
    expect(await loadRules(['viral_load,lerala,21,BHS,10.99.0.0/16,'])).toContain('receipt rule of viral_load/lerala: none (any fetch counts) -> clients 10.99.0.0/16');
    drop('066-21000001-3.pdf');
    const sent = await rowFor('066-21000001-3.pdf', 'AWAITING_ACK');
    const url = `${apache.url}/${sent.remote_path}`;
    expect((await http(url)).status).toBe(200);

    expect(await scanNow()).toMatchObject({ hits: 1, acknowledged: 0, foreign_hits: 1, unknown_hits: 0 });
    expect((await stack.fileRows()).find((r) => r.id === sent.id)!.state).toBe('AWAITING_ACK');
    expect(await acknowledgements(sent.id)).toEqual([]);
    const foreign = await stack.pg.query('select client, status, reason from foreign_fetch where result_file_id = $1', [sent.id]);
    expect(foreign.rows).toEqual([{ client: '127.0.0.1', status: 200, reason: "client 127.0.0.1 is not one of viral_load/lerala's addresses" }]);
    expect((await stack.events(sent.id)).filter((e) => e.type === 'FOREIGN_FETCH')).toHaveLength(1);

    expect(await loadRules(['viral_load,lerala,21,BHS,10.99.0.0/16 127.0.0.1/32,'])).toContain('-> clients 10.99.0.0/16 127.0.0.1/32');
    expect((await http(url)).status).toBe(200);
    expect(await scanNow()).toMatchObject({ hits: 1, acknowledged: 1, foreign_hits: 0 });
    const acknowledged = await rowFor('066-21000001-3.pdf', 'ACKNOWLEDGED');
    expect(await acknowledgements(acknowledged.id)).toEqual([{ client: '127.0.0.1', status: 200, first: true, request_line: expect.stringContaining('066-21000001-3.pdf') }]);
    const handle = stack.temporalClient.workflow.getHandle(sent.workflow_id);
    await waitFor('the workflow to complete', async () => (await handle.describe()).status.name === 'COMPLETED', { timeoutMs: 20_000 });
    expect(await handle.result()).toMatchObject({ state: 'ACKNOWLEDGED', accesses: 1 });
  });

  it('an allowed user (%u) acknowledges from any address; another user does not', async () => {
    expect(await loadRules(['viral_load,sefophe,22,BHS,10.99.0.0/16,sefophe-clinic'])).toContain('users sefophe-clinic');
    drop('066-22000001-3.pdf');
    const sent = await rowFor('066-22000001-3.pdf', 'AWAITING_ACK');
    // Lines as Apache writes them behind HTTP authentication (the test's Apache has none configured).
    const line = (user: string) => `192.0.2.44 - ${user} [${apacheTime(new Date())}] "GET /${sent.remote_path} HTTP/1.1" 200 1234 "-" "clinic-browser/1.0"\n`;
    appendFileSync(apache.accessLog, line('someone-else'));
    expect(await scanNow()).toMatchObject({ hits: 1, acknowledged: 0, foreign_hits: 1 });
    const foreign = await stack.pg.query('select remote_user, reason from foreign_fetch where result_file_id = $1', [sent.id]);
    expect(foreign.rows).toEqual([
      { remote_user: 'someone-else', reason: `client 192.0.2.44 is not one of viral_load/sefophe's addresses, and user "someone-else" is not one of its users` },
    ]);
    appendFileSync(apache.accessLog, line('sefophe-clinic'));
    expect(await scanNow()).toMatchObject({ hits: 1, acknowledged: 1, foreign_hits: 0 });
    await rowFor('066-22000001-3.pdf', 'ACKNOWLEDGED');
  });
});
