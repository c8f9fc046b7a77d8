import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '../harness/free-port';
import { resultPdf } from '../harness/pdf';
import { startStack, type Stack } from '../harness/stack';
import { startTlsTerminator, type TlsTerminator } from '../harness/tls-terminator';
import { waitFor } from '../harness/wait-for';

jest.setTimeout(120_000);

const SEED_CSV = path.join(__dirname, '..', '..', 'config', 'remote_folders.csv');
const API_KEY = 'api-key-for-the-tls-test-0123456789';

/**
 * Every process that connects to Temporal (worker, watch, web, schedule, retry, folders load), as separate
 * `getresults` processes, through a TLS terminator that requires our client certificate and records the API key of
 * every call (test/harness/tls-terminator.ts): the production shape of a secured Temporal, in front of a dev server.
 */
let stack: Stack;
let terminator: TlsTerminator;
let tlsEnv: NodeJS.ProcessEnv;

beforeAll(async () => {
  stack = await startStack();
  terminator = await startTlsTerminator(stack.temporal.address);
  const apiKeyFile = path.join(terminator.certs.dir, 'api-key');
  writeFileSync(apiKeyFile, `${API_KEY}\n`, { mode: 0o600 });
  tlsEnv = {
    TEMPORAL_ADDRESS: terminator.address,
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: terminator.certs.caFile,
    TEMPORAL_TLS_CLIENT_CERT_PATH: terminator.certs.clientCertFile,
    TEMPORAL_TLS_CLIENT_KEY_PATH: terminator.certs.clientKeyFile,
    TEMPORAL_TLS_SERVER_NAME: terminator.serverName,
    TEMPORAL_API_KEY_FILE: apiKeyFile,
  };
});
afterAll(async () => {
  await stack?.stop();
  await terminator?.stop();
});

describe('a Temporal that requires mutual TLS and an API key', () => {
  it('serves every process with the right certificate and key: a dropped file is delivered, each call carried the API key', async () => {
    const loaded = await stack.cli(['folders', 'load', SEED_CSV], tlsEnv);
    expect(loaded.stdout).toContain('Asked 0 file(s) waiting for a folder to try again');
    expect(loaded.code).toBe(0);
    const worker = stack.startWorker(tlsEnv);
    stack.startWatcher(tlsEnv);
    const accessLog = path.join(stack.dataDir, 'access.log');
    writeFileSync(accessLog, '');
    const scheduled = await stack.cli(['schedule'], { ...tlsEnv, GETRESULTS_ACCESS_LOG: accessLog, GETRESULTS_LOG_SCAN_INTERVAL: '1h' });
    expect(scheduled.stdout).toContain('Schedule getresults-log-scan created');
    const port = await freePort();
    stack.startProcess(['web'], { ...tlsEnv, GETRESULTS_WEB_PORT: String(port) });

    const name = '066-12000001-3.pdf';
    writeFileSync(path.join(stack.uploadDir, `.${name}.part`), resultPdf('066-12000001-3'));
    renameSync(path.join(stack.uploadDir, `.${name}.part`), path.join(stack.uploadDir, name));
    await waitFor(`${name} to be delivered`, async () => (await stack.fileRows()).find((r) => r.file_name === name && r.state === 'AWAITING_ACK'), {
      timeoutMs: 60_000,
    }).catch((err: Error) => {
      throw new Error(`${err.message}\n${readFileSync(worker.logFile, 'utf8').slice(-2000)}`);
    });
    const retried = await stack.cli(['retry'], tlsEnv);
    expect(retried.code).toBe(0);
    // The web page's health check asks Temporal too, through its own connection.
    const health = await waitFor('the web page to report Temporal up', async () => {
      const res = await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined);
      const body = res ? ((await res.json()) as { components?: Record<string, string> }) : undefined;
      return body?.components?.temporal === 'up' && body;
    });
    expect(health.components).toMatchObject({ database: 'up', temporal: 'up' });

    expect(terminator.clientNames.length).toBeGreaterThanOrEqual(6); // at least one connection per process
    expect(new Set(terminator.clientNames)).toEqual(new Set(['getresults-client']));
    expect(terminator.authorizations.length).toBeGreaterThan(10);
    expect(new Set(terminator.authorizations)).toEqual(new Set([`Bearer ${API_KEY}`]));
  });

  it.each([
    ['worker', ['worker']],
    ['watch', ['watch']],
  ])('%s without a client certificate exits at once with a message naming the settings', async (_name, args) => {
    const { TEMPORAL_TLS_CLIENT_CERT_PATH: _cert, TEMPORAL_TLS_CLIENT_KEY_PATH: _key, ...withoutCertificate } = tlsEnv;
    const child = stack.startProcess(args, { ...withoutCertificate, TEMPORAL_TLS_CLIENT_CERT_PATH: '', TEMPORAL_TLS_CLIENT_KEY_PATH: '' });
    const code = await child.exited;
    expect(code).not.toBe(0);
    const output = readFileSync(child.logFile, 'utf8');
    expect(output).toMatch(/cannot connect to Temporal at 127\.0\.0\.1:\d+ over TLS\. The server requires a client certificate \(mutual TLS\): set TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH/);
    expect(output).not.toContain(API_KEY);
  });
});
