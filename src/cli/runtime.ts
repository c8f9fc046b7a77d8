import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { temporalEndpoint, type TemporalEndpoint } from '../temporal/connection-security';
import type { Config } from '../config/config';
import { startEmbeddedPostgres } from '../db/embedded-postgres';
import { logger } from '../observability/logger';
import { migrate, openOrm, type Orm } from '../db/orm';
import { connectResultWorkflows } from '../temporal/client';
import { requirePayloadCodec } from '../temporal/payload-codec';
import type { ResultWorkflows } from '../temporal/result-workflows';

/**
 * Output of commands: one line per event, through the process's logger (src/observability/logger.ts): JSON for the
 * production processes, `TIME message` text otherwise. Never a secret, never a file's name.
 */
export function log(message: string, fields?: Record<string, unknown>): void {
  if (fields) logger().info(fields, message);
  else logger().info(message);
}

export function requireDatabaseUrl(config: Config, command: string): string {
  if (config.databaseUrl) return config.databaseUrl;
  throw new Error(
    `${command} needs DATABASE_URL (e.g. postgres://user@host:5432/getresults). ` +
      `Only "getresults start" runs an embedded PostgreSQL by itself.`,
  );
}

export function requireTemporalAddress(config: Config, command: string): string {
  if (config.temporal.address) return config.temporal.address;
  throw new Error(`${command} needs TEMPORAL_ADDRESS (host:port of the Temporal frontend). Only "getresults start" runs a dev server by itself.`);
}

/** TEMPORAL_ADDRESS with its TLS and API key settings, files read (src/temporal/connection-security.ts). */
export function requireTemporalEndpoint(config: Config, command: string): TemporalEndpoint {
  return temporalEndpoint(requireTemporalAddress(config, command), config.temporal.connection);
}

export async function openMigratedOrm(url: string): Promise<Orm> {
  const orm = await openOrm(url);
  await migrate(orm);
  return orm;
}

/**
 * The ORM of a short command, for `work`, then closed: every command that reads or writes the database opens it here.
 * DATABASE_URL unless `url` is given (withDatabase's); migrated first unless `migrate` is false (a read-only check).
 */
export async function withOrm<T>(config: Config, command: string, work: (orm: Orm) => Promise<T>, options: { url?: string; migrate?: boolean } = {}): Promise<T> {
  const url = options.url ?? requireDatabaseUrl(config, command);
  const orm = options.migrate === false ? await openOrm(url) : await openMigratedOrm(url);
  try {
    return await work(orm);
  } finally {
    await orm.close();
  }
}

/**
 * The one Temporal client of a short command (TEMPORAL_ADDRESS, our payload encryption), for `work`, then closed.
 * `needs` says, in a missing-key error, why the command needs the key.
 */
export async function withWorkflows<T>(config: Config, command: string, work: (workflows: ResultWorkflows) => Promise<T>, needs = command): Promise<T> {
  const { workflows, close } = await connectResultWorkflows(
    { endpoint: requireTemporalEndpoint(config, command), namespace: config.temporal.namespace, payloadCodec: requirePayloadCodec(config.payloadKeys, needs) },
    command,
  );
  try {
    return await work(workflows);
  } finally {
    await close();
  }
}

/** Resolves on the first SIGINT/SIGTERM, so long-running commands can shut down in order. */
export function untilStopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const handler = (signal: NodeJS.Signals) => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
      resolve(signal);
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
  });
}

/** Why `port` cannot be listened on (EADDRINUSE, EACCES), or undefined when it is free. */
async function whyPortIsTaken(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    server.listen(port, host, () => server.close(() => resolve(undefined)));
  });
}

/**
 * Fails, naming the setting to change, when another program holds a port `start` needs: found before anything starts,
 * rather than as a child process that exits or a timeout 30 seconds later.
 */
export async function requirePortFree(host: string, port: number, what: string, setting: string, otherwise?: string): Promise<void> {
  if (port === 0) return;
  const taken = await whyPortIsTaken(host, port);
  if (taken) throw new Error(`Port ${port} on ${host}, for ${what}, is not free (${taken}): another program holds it. Set ${setting} to a free port${otherwise ? `, or ${otherwise}` : ''}.`);
}

/**
 * The database a maintenance command (backup, restore, archive prune) works on: DATABASE_URL, or the embedded PostgreSQL of `start` wherever its cluster
 * lives (under the data folder, or /var/lib/getresults when run as root from a private folder): the one running now,
 * or started for the command and stopped after it.
 */
export async function withDatabase<T>(config: Config, work: (url: string) => Promise<T>): Promise<T> {
  if (config.databaseUrl) return work(config.databaseUrl);
  const passwordFile = path.join(config.dataDir, 'postgres', 'password');
  const running = (await whyPortIsTaken('127.0.0.1', config.embeddedPostgresPort)) !== undefined;
  if (running && existsSync(passwordFile)) {
    const password = readFileSync(passwordFile, 'utf8').trim();
    return work(`postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${config.embeddedPostgresPort}/getresults`);
  }
  const pg = await startEmbeddedPostgres(config.dataDir, config.embeddedPostgresPort, () => undefined);
  try {
    return await work(pg.url);
  } finally {
    await pg.stop();
  }
}

