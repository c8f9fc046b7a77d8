import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { resultPdf } from '../harness/pdf';
import { listTree, sha256OfBuffer, sha256OfFile } from '../harness/sshd';
import { startStack, type ChildHandle, type ResultFileRow, type Stack } from '../harness/stack';
import { waitFor } from '../harness/wait-for';

const SEED_CSV = path.join(__dirname, '..', '..', 'config', 'remote_folders.csv');

let stack: Stack;
let worker: ChildHandle;

function drop(name: string, content: Buffer): void {
  const temp = path.join(stack.uploadDir, `.${name}.part`);
  writeFileSync(temp, content);
  renameSync(temp, path.join(stack.uploadDir, name));
}

async function rowFor(name: string, state: string, timeoutMs = 90_000): Promise<ResultFileRow> {
  return waitFor(`${name} to reach ${state}`, async () => (await stack.fileRows()).find((r) => r.file_name === name && r.state === state), {
    timeoutMs,
  });
}

beforeAll(async () => {
  stack = await startStack({ env: { GETRESULTS_MAX_FILE_MB: '1024' } });
  expect((await stack.cli(['folders', 'load', SEED_CSV])).code).toBe(0);
  worker = stack.startWorker();
  stack.startWatcher();
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe('transfer faults on a real OpenSSH server', () => {
  it('refuses a changed host key: the file waits visibly in TRANSFER_BLOCKED, unsent, until the key is trusted again', async () => {
    const newFingerprint = await stack.sshd.rotateHostKey();
    const content = resultPdf('066-19000001-3');
    drop('066-19000001-3.pdf', content);

    const blocked = await rowFor('066-19000001-3.pdf', 'TRANSFER_BLOCKED');
    expect(blocked.state_reason).toContain(newFingerprint);
    expect(blocked.state_reason).toMatch(/host key/i);
    expect(await listTree(stack.sshd.remoteRoot)).toEqual([]); // nothing was sent, not even a temporary file
    expect(existsSync(path.join(stack.uploadDir, '066-19000001-3.pdf'))).toBe(true); // and nothing was lost

    // The operator checks the new key out of band and trusts it; then asks waiting files to retry.
    writeFileSync(stack.sshd.knownHostsFile, execFileSync('ssh-keyscan', ['-p', String(stack.sshd.port), '-t', 'ed25519', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'ignore'] }));
    const retried = await stack.cli(['retry']);
    expect(retried.stdout).toContain('Asked 1 waiting file(s) to try again');

    const sent = await rowFor('066-19000001-3.pdf', 'AWAITING_ACK');
    expect(await sha256OfFile(path.join(stack.sshd.remoteRoot, sent.remote_path!))).toBe(sha256OfBuffer(content));
    expect((await stack.events(sent.id)).map((e) => e.type)).toEqual(['RECEIVED', 'VALIDATED', 'ROUTED', 'TRANSFER_BLOCKED', 'SENT', 'ARCHIVED']);
  });

  it('delivers exactly once, with no temporary file left, when the worker is SIGKILLed in the middle of a transfer', async () => {
    // Large enough that the upload and its verification take a while on loopback.
    const content = resultPdf('066-21000001-3', { paddingBytes: 400 * 1024 * 1024 });
    const folder = path.join(stack.sshd.remoteRoot, 'viral_load', 'lerala');
    drop('066-21000001-3.pdf', content);

    const partial = await waitFor(
      'the transfer to be under way',
      () => (existsSync(folder) ? readdirSync(folder).find((f) => f.endsWith('.part')) : undefined),
      { timeoutMs: 90_000, intervalMs: 5 },
    );
    await worker.kill('SIGKILL');
    expect(existsSync(path.join(folder, '066-21000001-3.pdf'))).toBe(false); // it really died mid-transfer
    expect(readdirSync(folder)).toEqual([partial]);

    worker = stack.startWorker();
    const row = await rowFor('066-21000001-3.pdf', 'AWAITING_ACK', 120_000);
    expect(readdirSync(folder)).toEqual(['066-21000001-3.pdf']);
    expect(await sha256OfFile(path.join(folder, '066-21000001-3.pdf'))).toBe(sha256OfBuffer(content));
    expect((await stack.events(row.id)).filter((e) => e.type === 'SENT')).toHaveLength(1);
    expect(readdirSync(stack.uploadDir)).toEqual([]);
  });
});
