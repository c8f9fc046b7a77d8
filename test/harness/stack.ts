import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client as TemporalClient, Connection } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import { encryptingDataConverter } from '../../src/temporal/data-converter';
import { createResultWorkflows, type ResultWorkflows } from '../../src/temporal/result-workflows';
import { AesGcmPayloadCodec } from '../../src/temporal/payload-codec';
import { createTestDatabase, type TestDatabase } from './database';
import { startSshd, type SshdHandle } from './sshd';
import { startTestTemporal, type TestTemporal } from './temporal';

const ROOT = path.join(__dirname, '..', '..');
const CLI = path.join(ROOT, 'bin', 'getresults.js');

export interface ChildHandle {
  process: ChildProcess;
  logFile: string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): Promise<number | string>;
}

export interface ResultFileRow {
  id: number;
  state: string;
  file_name: string;
  sha256: string;
  clinic_folder: string | null;
  remote_path: string | null;
  archive_path: string | null;
  rejection_code: string | null;
  state_reason: string | null;
  workflow_id: string;
  run_id: string;
  duplicate_of: number | null;
  uploaded_by: string | null;
}

export interface Stack {
  temporal: TestTemporal;
  db: TestDatabase;
  sshd: SshdHandle;
  dataDir: string;
  uploadDir: string;
  /** Environment for `getresults` child processes (worker, watcher, CLI). */
  env: NodeJS.ProcessEnv;
  /** Shares the children's payload key (GETRESULTS_PAYLOAD_KEY in `env`). */
  temporalClient: TemporalClient;
  /** What the web page and the other parts are given, on `temporalClient`. */
  workflows: ResultWorkflows;
  payloadCodec: AesGcmPayloadCodec;
  pg: PgClient;
  startWorker(extraEnv?: NodeJS.ProcessEnv): ChildHandle;
  startWatcher(extraEnv?: NodeJS.ProcessEnv): ChildHandle;
  /** Any long-running `getresults` command (e.g. `web`), as a child the stack stops. */
  startProcess(args: string[], extraEnv?: NodeJS.ProcessEnv): ChildHandle;
  /** The same, inside a network namespace (test/harness/netns.ts): another machine on the network. */
  startProcessIn(netns: string, args: string[], extraEnv?: NodeJS.ProcessEnv): ChildHandle;
  cli(args: string[], extraEnv?: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }>;
  fileRows(): Promise<ResultFileRow[]>;
  events(resultFileId: number): Promise<Array<{ type: string; state: string | null; message: string }>>;
  stop(): Promise<void>;
}

/**
 * The whole system on real parts, each on free loopback ports: a Temporal dev server, a fresh PostgreSQL database,
 * a private OpenSSH server as "server B". Worker and watcher run as separate `getresults` processes, as in production,
 * so tests can kill them.
 */
export async function startStack(options: { env?: NodeJS.ProcessEnv } = {}): Promise<Stack> {
  const [t, d, s] = await Promise.allSettled([startTestTemporal(), createTestDatabase(), startSshd()]);
  if (t.status === 'rejected' || d.status === 'rejected' || s.status === 'rejected') {
    // Stop what did start, or its processes would keep the test run from exiting.
    await Promise.allSettled([
      t.status === 'fulfilled' ? t.value.cleanup() : undefined,
      d.status === 'fulfilled' ? d.value.drop() : undefined,
      s.status === 'fulfilled' ? s.value.cleanup() : undefined,
    ]);
    throw [t, d, s].flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []))[0];
  }
  const [temporal, db, sshd] = [t.value, d.value, s.value];
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'gr-data-'));
  const uploadDir = path.join(dataDir, 'upload');
  mkdirSync(uploadDir, { recursive: true });
  // Every process shares one payload key, as in production: nothing reaches Temporal unencrypted.
  const payloadKey = randomBytes(32);
  const payloadCodec = new AesGcmPayloadCodec({ currentKeyId: 'test', keys: new Map([['test', payloadKey]]) });
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATABASE_URL: db.url,
    TEMPORAL_ADDRESS: temporal.address,
    GETRESULTS_DATA_DIR: dataDir,
    GETRESULTS_HOST_ID: `test-${path.basename(dataDir)}`,
    GETRESULTS_DESTINATION: `sftp://${sshd.username}@${sshd.host}:${sshd.port}${sshd.remoteRoot}`,
    GETRESULTS_SSH_KEY_FILE: sshd.privateKeyFile,
    GETRESULTS_SSH_KNOWN_HOSTS: sshd.knownHostsFile,
    GETRESULTS_STABLE_MS: '200',
    GETRESULTS_BLOCKED_RETRY: '1h',
    GETRESULTS_PAYLOAD_KEY: payloadKey.toString('base64'),
    GETRESULTS_PAYLOAD_KEY_ID: 'test',
    ...options.env,
  };
  const connection = await Connection.connect({ address: temporal.address });
  const temporalClient = new TemporalClient({ connection, dataConverter: encryptingDataConverter(payloadCodec) });
  const pg = new PgClient({ connectionString: db.url });
  await pg.connect();
  const children = new Set<ChildHandle>();

  const run = (args: string[], name: string, extraEnv: NodeJS.ProcessEnv = {}, netns?: string): ChildHandle => {
    const logFile = path.join(dataDir, `${name}-${Date.now()}.log`);
    const out = createWriteStream(logFile);
    // In a network namespace, `ip netns exec` enters it and then becomes the command itself (same pid, same signals).
    const [command, argv] = netns ? ['ip', ['netns', 'exec', netns, process.execPath, CLI, ...args]] : [process.execPath, [CLI, ...args]];
    const child = spawn(command, argv, { env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(out);
    child.stderr.pipe(out);
    const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
    const handle: ChildHandle = {
      process: child,
      logFile,
      exited,
      kill: (signal = 'SIGTERM') => {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        return exited;
      },
    };
    children.add(handle);
    void exited.then(() => children.delete(handle));
    return handle;
  };

  // The database schema exists before any child uses it.
  const migrated = await new Promise<number>((resolve) => run(['migrate'], 'migrate').process.once('exit', (code) => resolve(code ?? 1)));
  if (migrated !== 0) throw new Error('getresults migrate failed in the test stack');

  return {
    temporal,
    db,
    sshd,
    dataDir,
    uploadDir,
    env,
    temporalClient,
    workflows: createResultWorkflows(temporalClient),
    payloadCodec,
    pg,
    startWorker: (extraEnv) => run(['worker'], 'worker', extraEnv),
    startWatcher: (extraEnv) => run(['watch'], 'watch', extraEnv),
    startProcess: (args, extraEnv) => run(args, args[0] ?? 'getresults', extraEnv),
    startProcessIn: (netns, args, extraEnv) => run(args, `${netns}-${args[0] ?? 'getresults'}`, extraEnv, netns),
    cli: (args, extraEnv = {}) =>
      new Promise((resolve) => {
        const child = spawn(process.execPath, [CLI, ...args], { env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.once('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
      }),
    fileRows: async () => (await pg.query<ResultFileRow>('select * from result_file order by id')).rows.map((r) => ({
        ...r,
        id: Number(r.id),
        duplicate_of: r.duplicate_of === null ? null : Number(r.duplicate_of),
      })),
    events: async (id) =>
      (await pg.query('select type, state, message from file_event where result_file_id = $1 order by id', [id])).rows,
    async stop() {
      await Promise.all([...children].map((c) => c.kill('SIGTERM')));
      await pg.end();
      await connection.close();
      await Promise.all([temporal.cleanup(), sshd.cleanup()]);
      await db.drop();
      // KEEP_TEST_DATA=1 leaves the folders and process logs behind for a post-mortem.
      if (!process.env.KEEP_TEST_DATA) rmSync(dataDir, { recursive: true, force: true });
      else process.stderr.write(`test data kept in ${dataDir}\n`);
    },
  };
}
