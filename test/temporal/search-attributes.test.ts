import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { parse } from 'yaml';
import { startDevServer, type DevServer } from '../../src/temporal/dev-server';
import { ensureSearchAttributes, searchAttributeCommands } from '../../src/temporal/search-attribute-registration';
import { SEARCH_ATTRIBUTE_REGISTRATIONS } from '../../src/workflows/search-attributes';
import { freePort } from '../harness/free-port';
import { waitFor } from '../harness/wait-for';

jest.setTimeout(120_000);

const { IndexedValueType } = temporal.api.enums.v1;
const EXPECTED_TYPES = Object.fromEntries(
  Object.entries(SEARCH_ATTRIBUTE_REGISTRATIONS).map(([name, type]) => [name, type === 'Int' ? IndexedValueType.INDEXED_VALUE_TYPE_INT : IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD]),
);

/** A dev server as a cluster that has never seen getresults: none of our attributes, or the ones a test gives. */
async function bareServer(dir: string, name: string, searchAttributes?: Record<string, string>): Promise<DevServer> {
  return startDevServer({
    port: await freePort(),
    uiPort: await freePort(),
    dbFile: path.join(dir, `${name}.db`),
    logFile: path.join(dir, `${name}.log`),
    headless: true,
    searchAttributes,
  });
}

async function ourAttributes(connection: Connection, namespace: string): Promise<Record<string, number>> {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  return Object.fromEntries(Object.entries(customAttributes ?? {}).filter(([name]) => name in SEARCH_ATTRIBUTE_REGISTRATIONS));
}

let dir: string;
const servers: DevServer[] = [];
const connections: Connection[] = [];
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'gr-search-attributes-'));
});
afterAll(async () => {
  for (const c of connections) await c.close();
  for (const s of servers) await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function connect(server: DevServer): Promise<Connection> {
  const connection = await Connection.connect({ address: server.address });
  connections.push(connection);
  return connection;
}

describe('our search attributes on a cluster that lacks them', () => {
  test('a worker process registers them once at start; the next start finds them', async () => {
    const server = await bareServer(dir, 'bare');
    servers.push(server);
    const connection = await connect(server);
    expect(await ourAttributes(connection, 'default')).toEqual({});

    expect(await ensureSearchAttributes(connection, 'default')).toBe('registered');
    expect(await ourAttributes(connection, 'default')).toEqual(EXPECTED_TYPES);
    expect(await ensureSearchAttributes(connection, 'default')).toBe('present');
  });

  test('an attribute of ours registered with another type is named, not overwritten', async () => {
    const server = await bareServer(dir, 'wrong-type', { GetresultsLab: 'Int' });
    servers.push(server);
    const connection = await connect(server);
    await expect(ensureSearchAttributes(connection, 'default')).rejects.toThrow(/GetresultsLab as INDEXED_VALUE_TYPE_INT, but getresults needs Keyword/);
    expect((await ourAttributes(connection, 'default')).GetresultsLab).toBe(IndexedValueType.INDEXED_VALUE_TYPE_INT);
  });

  test('the commands an operator is told to run are the ones the CLI takes', () => {
    expect(searchAttributeCommands('lab-ns')).toEqual([
      'temporal operator search-attribute create --namespace lab-ns --name GetresultsState --type Keyword',
      'temporal operator search-attribute create --namespace lab-ns --name GetresultsLab --type Keyword',
      'temporal operator search-attribute create --namespace lab-ns --name GetresultsHost --type Keyword',
      'temporal operator search-attribute create --namespace lab-ns --name GetresultsFileId --type Int',
    ]);
  });
});

/**
 * docker-compose.temporal.yml's namespace job, run as it is written (with Compose's `$$` unescaped) by the real
 * `temporal` CLI against a dev server: it creates the namespace and registers our attributes, and a second run (every
 * `up` runs it) changes nothing. No Docker engine is needed for that.
 */
describe('docker-compose.temporal.yml registers our search attributes', () => {
  const compose = parse(readFileSync(path.join(__dirname, '..', '..', 'docker-compose.temporal.yml'), 'utf8')) as {
    services: Record<string, { command?: string[] }>;
  };
  const script = compose.services['temporal-create-namespace']!.command![0]!.replace(/\$\$/g, '$');

  test('its list of attributes is ours', () => {
    const pairs = /for pair in ((?:Getresults\w+:\w+ ?)+); do/.exec(script)?.[1]?.trim().split(' ') ?? [];
    expect(Object.fromEntries(pairs.map((p) => p.split(':') as [string, string]))).toEqual(SEARCH_ATTRIBUTE_REGISTRATIONS);
  });

  test('the namespace job creates the namespace and our attributes, and a rerun is a no-op', async () => {
    const server = await bareServer(dir, 'compose');
    servers.push(server);
    const cli = process.env.TEMPORAL_CLI_PATH;
    const env = {
      ...process.env,
      PATH: cli ? `${path.dirname(cli)}${path.delimiter}${process.env.PATH}` : process.env.PATH,
      TEMPORAL_ADDRESS: server.address,
      NAMESPACE: 'getresults-compose',
      RETENTION: '24h',
    };
    const run = () => spawnSync('sh', ['-c', script], { env, encoding: 'utf8', timeout: 90_000 });

    const first = run();
    expect({ status: first.status, stderr: first.stderr }).toEqual({ status: 0, stderr: '' });
    expect(first.stdout).toContain('Namespace getresults-compose created');
    const connection = await connect(server);
    await waitFor('the attributes to be listed', async () => {
      const attrs = await ourAttributes(connection, 'getresults-compose');
      return Object.keys(attrs).length === 4 && attrs;
    });
    expect(await ourAttributes(connection, 'getresults-compose')).toEqual(EXPECTED_TYPES);

    const second = run();
    expect(second.status).toBe(0);
    expect(second.stdout).toContain('Namespace getresults-compose already exists');
    expect(second.stdout.match(/already registered/g)).toHaveLength(4);
  });
});
