/**
 * The operator endpoints (/healthz, /readyz, /metrics) and the database gauges against real parts: serveOps's own
 * HTTP listener on a free loopback port, read with fetch; a real bearer-token file on disk; and a throwaway
 * PostgreSQL database, migrated, holding files in several states and one finished receipt scan. The readiness checks
 * are given as functions (one of them throws), and one client that is not on this machine is given as the Node
 * bindings Hono reads its address from, since a test cannot connect from another machine.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Config } from '../../src/config/config';
import { migrate, openOrm, type Orm } from '../../src/db/orm';
import { createProcessMetrics, registerFileGauges, type ProcessMetrics } from '../../src/observability/metrics';
import { createOpsRoutes } from '../../src/observability/ops-routes';
import { freeLoopbackPort, readMetricsTokens, serveOps } from '../../src/observability/ops-server';
import { DEFAULT_LAB_ID, createTestDatabase, type TestDatabase } from '../harness/database';

jest.setTimeout(30_000);

const HOUR = 3600_000;
const DAY = 24 * HOUR;

/** What a failing check's error says: a file name, which must not reach any response. */
const LEAKY_MESSAGE = 'cannot stat /clinics/digawana/066-12000001-3.pdf on server B';

type Served = { url: string; stop(): Promise<void> };

function opsConfig(port: number, tokenFile?: string): Config['ops'] {
  return { host: '127.0.0.1', port, tokenFile, unfetchedAfterDays: 3, sdkMetrics: false };
}

async function serve(config: Config['ops'], deps: Parameters<typeof serveOps>[1]): Promise<Served> {
  const served = await serveOps(config, deps);
  if (!served) throw new Error('serveOps served nothing although a port was set');
  return served;
}

/** The value of one sample of the Prometheus text whose labels include `labels` (undefined when there is none). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

describe('/healthz and /readyz', () => {
  let served: Served;
  let serverBDown = true;

  beforeAll(async () => {
    served = await serve(opsConfig(await freeLoopbackPort()), {
      metrics: createProcessMetrics('test'),
      readiness: {
        database: async () => {},
        'server B': async () => {
          if (serverBDown) throw new Error(LEAKY_MESSAGE);
        },
      },
    });
  });
  afterAll(async () => {
    await served?.stop();
  });

  test('/healthz answers alive without asking anything', async () => {
    const res = await fetch(`${served.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'alive' });
  });

  test('/readyz answers 503 naming the component that is down, and nothing of its error', async () => {
    serverBDown = true;
    const res = await fetch(`${served.url}/readyz`);
    expect(res.status).toBe(503);
    const body = await res.text();
    expect(JSON.parse(body)).toEqual({ status: 'not ready', components: { database: 'up', 'server B': 'down' } });
    expect(body).not.toContain('066-12000001-3.pdf');
    expect(body).not.toContain('12000001');
    expect(body).not.toContain('digawana');
    expect(body).not.toContain('cannot stat');
  });

  test('/readyz answers 200 ready once every component answers', async () => {
    serverBDown = false;
    const res = await fetch(`${served.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready', components: { database: 'up', 'server B': 'up' } });
  });
});

describe('/metrics access', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'getresults-ops-'));
  const tokenFile = path.join(dir, 'metrics-tokens');
  const TOKENS = ['prometheus-one-5f0c2a9e', 'prometheus-two-b81d44c7'];
  let open: Served;
  let guarded: Served;
  let metrics: ProcessMetrics;

  beforeAll(async () => {
    writeFileSync(tokenFile, `# Prometheus servers allowed to scrape\n${TOKENS[0]}\n\n  ${TOKENS[1]}  \n`);
    metrics = createProcessMetrics('test');
    metrics.filesSubmitted.inc(3);
    open = await serve(opsConfig(await freeLoopbackPort()), { metrics, readiness: {} });
    guarded = await serve(opsConfig(await freeLoopbackPort(), tokenFile), { metrics, readiness: {} });
  });
  afterAll(async () => {
    await open?.stop();
    await guarded?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the token file is read one token a line, comments and blank lines skipped', () => {
    expect(readMetricsTokens(tokenFile)).toEqual(TOKENS);
    expect(readMetricsTokens(undefined)).toBeUndefined();
    const empty = path.join(dir, 'empty-tokens');
    writeFileSync(empty, '# nothing yet\n\n');
    expect(() => readMetricsTokens(empty)).toThrow(/holds no token/);
  });

  test('without tokens, a loopback client reads the Prometheus text', async () => {
    const res = await fetch(`${open.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(metrics.registry.contentType);
    const text = await res.text();
    expect(text).toContain('# TYPE getresults_files_submitted_total counter');
    expect(sample(text, 'getresults_files_submitted_total', { process: 'test' })).toBe(3);
    expect(sample(text, 'getresults_process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  test('without tokens, a client that is not on this machine is refused', async () => {
    const app = createOpsRoutes({ metrics, readiness: {} });
    const remote = await app.request('/metrics', {}, { incoming: { socket: { remoteAddress: '10.1.2.3' } } });
    expect(remote.status).toBe(403);
    const refusal = await remote.text();
    expect(refusal).toContain('GETRESULTS_METRICS_TOKEN_FILE');
    expect(refusal).not.toContain('getresults_files_submitted_total');
    // An address that merely starts like loopback's, and a request without any socket, are not loopback either.
    expect((await app.request('/metrics', {}, { incoming: { socket: { remoteAddress: '::ffff:10.127.0.1' } } })).status).toBe(403);
    expect((await app.request('/metrics')).status).toBe(403);
    for (const loopback of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) {
      expect((await app.request('/metrics', {}, { incoming: { socket: { remoteAddress: loopback } } })).status).toBe(200);
    }
  });

  test('behind a reverse proxy on this machine, loopback proves nothing: a token is needed', async () => {
    const app = createOpsRoutes({ metrics, readiness: {}, behindProxy: true });
    const viaProxy = await app.request('/metrics', {}, { incoming: { socket: { remoteAddress: '127.0.0.1' } } });
    expect(viaProxy.status).toBe(403);
    expect(await viaProxy.text()).toContain('GETRESULTS_TRUST_PROXY');
  });

  test('with tokens, even loopback needs one of them as a bearer token', async () => {
    const noHeader = await fetch(`${guarded.url}/metrics`);
    expect(noHeader.status).toBe(403);
    expect(await noHeader.text()).not.toContain('getresults_');

    const wrong = await fetch(`${guarded.url}/metrics`, { headers: { Authorization: 'Bearer prometheus-one-00000000' } });
    expect(wrong.status).toBe(403);
    // A token presented without the Bearer scheme, or a prefix of a token, is no token.
    expect((await fetch(`${guarded.url}/metrics`, { headers: { Authorization: TOKENS[0]! } })).status).toBe(403);
    expect((await fetch(`${guarded.url}/metrics`, { headers: { Authorization: `Bearer ${TOKENS[0]!.slice(0, -1)}` } })).status).toBe(403);

    for (const token of TOKENS) {
      const res = await fetch(`${guarded.url}/metrics`, { headers: { Authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      expect(sample(await res.text(), 'getresults_files_submitted_total')).toBe(3);
    }
  });
});

describe('database gauges', () => {
  let db: TestDatabase;
  let orm: Orm;
  /** Whole seconds, so the gauge (Unix time in seconds) can be compared exactly. */
  const now = Math.floor(Date.now() / 1000) * 1000;
  const scanFinished = new Date(now - 10 * 60_000);
  const PATIENT_TEXT = ['066-12000001-3.pdf', '066-12000002-3.pdf', '066-12000003-3.pdf', '066-12000004-3.pdf', '12000001', '12000002', '12000003', '12000004', '066-1200000'];

  let seq = 0;
  async function insertFile(state: string, uploadedAt: Date, sentAt: Date | null = null): Promise<void> {
    seq++;
    await orm.em.fork().getConnection().execute(
      `insert into result_file (workflow_id, run_id, file_name, upload_path, size_bytes, sha256, identifier, label, hint, clinic_folder, state, uploaded_at, sent_at, updated_at, lab_id)
       values (?, ?, ?, ?, 1000, ?, ?, '066', '12', 'digawana', ?, ?, ?, ?, ?)`,
      [`file-${seq}`, `run-${seq}`, `066-1200000${seq}-3.pdf`, `/upload/066-1200000${seq}-3.pdf`, seq.toString(16).padStart(64, '0'), `1200000${seq}`, state, uploadedAt, sentAt, uploadedAt, DEFAULT_LAB_ID],
    );
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    orm = await openOrm(db.url);
    await migrate(orm);
    await insertFile('AWAITING_ACK', new Date(now - 5 * DAY), new Date(now - 5 * DAY));
    await insertFile('AWAITING_ACK', new Date(now - HOUR), new Date(now - HOUR));
    await insertFile('NEEDS_FOLDER', new Date(now - 2 * HOUR));
    await insertFile('REJECTED', new Date(now - 30 * 60_000));
    await orm.em.fork().getConnection().execute(
      `insert into log_scan_run (workflow_id, run_id, source, started_at, finished_at, bytes_read, lines_read, hits, acknowledged)
       values ('receipt-scan', 'scan-run-1', '/var/log/apache2/access.log', ?, ?, 4096, 12, 1, 1)`,
      [new Date(scanFinished.getTime() - 2000), scanFinished],
    );
  });
  afterAll(async () => {
    await orm?.close(true);
    await db?.drop();
  });

  test('files by lab and state, the oldest waiting ages, the unfetched and the last scan, and no patient in them', async () => {
    const metrics = createProcessMetrics('test');
    registerFileGauges(metrics, orm, { unfetchedAfterDays: 3 });
    const text = await metrics.registry.metrics();

    expect(sample(text, 'getresults_files', { lab: 'default', state: 'AWAITING_ACK' })).toBe(2);
    expect(sample(text, 'getresults_files', { lab: 'default', state: 'NEEDS_FOLDER' })).toBe(1);
    expect(sample(text, 'getresults_files', { lab: 'default', state: 'REJECTED' })).toBe(1);
    expect(sample(text, 'getresults_files', { lab: 'default', state: 'ACKNOWLEDGED' })).toBeUndefined();

    // Only one of the two waiting for their fetch was sent more than 3 days ago.
    expect(sample(text, 'getresults_files_unfetched', { lab: 'default' })).toBe(1);

    // Ages since upload (the database's clock against this one's: allow a minute).
    const needsFolder = sample(text, 'getresults_oldest_waiting_file_age_seconds', { lab: 'default', state: 'NEEDS_FOLDER' });
    expect(needsFolder).toBeGreaterThan(0);
    expect(needsFolder).toBeGreaterThan(2 * 3600 - 60);
    expect(needsFolder).toBeLessThan(2 * 3600 + 60);
    const awaiting = sample(text, 'getresults_oldest_waiting_file_age_seconds', { lab: 'default', state: 'AWAITING_ACK' });
    expect(awaiting).toBeGreaterThan(5 * 86400 - 60);
    expect(awaiting).toBeLessThan(5 * 86400 + 60);
    // A rejected file waits for nothing.
    expect(sample(text, 'getresults_oldest_waiting_file_age_seconds', { lab: 'default', state: 'REJECTED' })).toBeUndefined();

    expect(sample(text, 'getresults_receipt_scan_last_finished_timestamp_seconds')).toBe(scanFinished.getTime() / 1000);

    for (const patient of PATIENT_TEXT) expect(text).not.toContain(patient);
    expect(text).not.toContain('/upload/');
    expect(text).not.toContain('digawana');
  });

  test('the gauges are served on /metrics too', async () => {
    const metrics = createProcessMetrics('test');
    registerFileGauges(metrics, orm, { unfetchedAfterDays: 3 });
    const served = await serve(opsConfig(await freeLoopbackPort()), { metrics, readiness: {} });
    try {
      const res = await fetch(`${served.url}/metrics`);
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(sample(text, 'getresults_files', { lab: 'default', state: 'AWAITING_ACK', process: 'test' })).toBe(2);
      for (const patient of PATIENT_TEXT) expect(text).not.toContain(patient);
    } finally {
      await served.stop();
    }
  });
});
