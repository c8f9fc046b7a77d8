import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { connectResultWorkflows } from '../../src/temporal/client';
import { temporalEndpoint, type TemporalConnectionSettings } from '../../src/temporal/connection-security';
import { AesGcmPayloadCodec } from '../../src/temporal/payload-codec';
import { connectForWorkers } from '../../src/workers/worker';
import { startTestTemporal, type TestTemporal } from '../harness/temporal';
import { startTlsTerminator, type TlsTerminator } from '../harness/tls-terminator';

jest.setTimeout(60_000);

/**
 * Temporal behind TLS that wants a client certificate and shows us the API key: a TLS terminator in front of a real
 * dev server (test/harness/tls-terminator.ts). Both kinds of connection our processes open are tried: a client
 * Connection (watch, web, CLI commands) and a worker's NativeConnection (Rust core, rustls).
 */
let temporal: TestTemporal;
let terminator: TlsTerminator;
let full: TemporalConnectionSettings;
const API_KEY = `test-api-key-${randomBytes(8).toString('hex')}`;
const payloadCodec = new AesGcmPayloadCodec({ currentKeyId: 'k', keys: new Map([['k', randomBytes(32)]]) });

beforeAll(async () => {
  temporal = await startTestTemporal();
  terminator = await startTlsTerminator(temporal.address);
  const { certs } = terminator;
  const apiKeyFile = path.join(certs.dir, 'api-key');
  writeFileSync(apiKeyFile, `${API_KEY}\n`, { mode: 0o600 });
  full = { caFile: certs.caFile, certFile: certs.clientCertFile, keyFile: certs.clientKeyFile, serverName: terminator.serverName, apiKeyFile };
});
afterAll(async () => {
  await terminator?.stop();
  await temporal?.cleanup();
});

const clientConnect = async (settings: TemporalConnectionSettings) => {
  const { workflows, close } = await connectResultWorkflows({ endpoint: temporalEndpoint(terminator.address, settings), namespace: 'default', payloadCodec }, 'getresults watch');
  return { workflows, close };
};
const workerConnect = (settings: TemporalConnectionSettings) => connectForWorkers(temporalEndpoint(terminator.address, settings), 'getresults worker');

const kinds: Array<[string, (s: TemporalConnectionSettings) => Promise<unknown>]> = [
  ['client Connection', async (s) => (await clientConnect(s)).close()],
  ["worker's NativeConnection", async (s) => (await workerConnect(s)).close()],
];

describe.each(kinds)('a %s to a Temporal that requires TLS, a client certificate and an API key', (_kind, connect) => {
  it('connects with the CA, the client certificate, the server name and the API key, which the server sees', async () => {
    const before = terminator.authorizations.length;
    await connect(full);
    expect(terminator.clientNames).toContain('getresults-client');
    expect(terminator.authorizations.slice(before)).toContain(`Bearer ${API_KEY}`);
  });

  it.each([
    ['no client certificate', { certFile: undefined, keyFile: undefined }, /requires a client certificate \(mutual TLS\): set TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH/],
    ['a client certificate from another CA', 'stranger', /refused the client certificate in TEMPORAL_TLS_CLIENT_CERT_PATH/],
    ['another CA for the server', 'strangerCa', /not signed by the CA in TEMPORAL_TLS_SERVER_CA_CERT_PATH/],
    ['no server name override', { serverName: undefined }, /does not name 127.0.0.1: set TEMPORAL_TLS_SERVER_NAME/],
    ['no TLS at all', { tls: false, caFile: undefined, certFile: undefined, keyFile: undefined, serverName: undefined, apiKeyFile: undefined }, /speaks TLS: set TEMPORAL_TLS_SERVER_CA_CERT_PATH/],
  ] as const)('without the right settings (%s) fails with a message naming the setting', async (_case, change, named) => {
    const { certs } = terminator;
    const settings: TemporalConnectionSettings =
      change === 'stranger'
        ? { ...full, certFile: certs.strangerCertFile, keyFile: certs.strangerKeyFile }
        : change === 'strangerCa'
          ? { ...full, caFile: certs.strangerCaFile }
          : { ...full, ...change };
    const refusedBefore = terminator.refusedHandshakes;
    const err = await connect(settings).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(named);
    expect(err?.message).toMatch(/^getresults (watch|worker) cannot connect to Temporal at 127\.0\.0\.1:\d+/);
    // Never the key itself.
    expect(err?.message).not.toContain(API_KEY);
    if (change !== 'strangerCa' && typeof change !== 'object') expect(terminator.refusedHandshakes).toBeGreaterThan(refusedBefore);
  });
});

describe('the settings', () => {
  it('carry the temporal CLI\'s own names: the same environment lets an operator\'s CLI through', async () => {
    const { certs } = terminator;
    const env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TEMPORAL_ADDRESS: terminator.address,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.caFile,
      TEMPORAL_TLS_CLIENT_CERT_PATH: certs.clientCertFile,
      TEMPORAL_TLS_CLIENT_KEY_PATH: certs.clientKeyFile,
      TEMPORAL_TLS_SERVER_NAME: terminator.serverName,
      TEMPORAL_API_KEY: API_KEY,
    };
    const before = terminator.authorizations.length;
    // Not execFileSync: the terminator runs in this process.
    const { stdout } = await promisify(execFile)(process.env.TEMPORAL_CLI_PATH ?? 'temporal', ['operator', 'namespace', 'describe', '--namespace', 'default', '--output', 'json'], { env, timeout: 30_000 });
    expect(JSON.parse(stdout).namespaceInfo.name).toBe('default');
    expect(terminator.authorizations.slice(before)).toContain(`Bearer ${API_KEY}`);
  });

  it('refuse a certificate without its key, both API key forms, and unreadable files, naming the setting', () => {
    expect(() => temporalEndpoint('t:7233', { certFile: full.certFile })).toThrow(/TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH go together/);
    expect(() => temporalEndpoint('t:7233', { apiKey: 'a', apiKeyFile: full.apiKeyFile })).toThrow(/TEMPORAL_API_KEY or TEMPORAL_API_KEY_FILE, not both/);
    expect(() => temporalEndpoint('t:7233', { caFile: '/nonexistent/ca.pem' })).toThrow(/TEMPORAL_TLS_SERVER_CA_CERT_PATH \/nonexistent\/ca.pem cannot be read \(ENOENT\)/);
    expect(() => temporalEndpoint('t:7233', { tls: false, caFile: full.caFile })).toThrow(/TEMPORAL_TLS=false, but TLS files/);
    // TLS turns on by itself when any TLS setting or an API key is given, as in the CLI.
    expect(temporalEndpoint('t:7233', { apiKeyFile: full.apiKeyFile })).toEqual({ address: 't:7233', tls: {}, apiKey: API_KEY });
    expect(temporalEndpoint('t:7233', {})).toEqual({ address: 't:7233', tls: false });
  });
});
