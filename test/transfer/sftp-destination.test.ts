/**
 * SftpDestination and its SSH pool against a real private OpenSSH sshd on loopback: no mocks, so host-key checks,
 * authentication, rename semantics and remote hashing are the server's own.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { conflictNameFor, DeliveryRequest, temporaryNameFor, withdrawnPathFor } from '../../src/transfer/destination';
import { LocalDestination } from '../../src/transfer/local-destination';
import { HostKeyRejectedError, SshAuthenticationError, VerificationFailedError } from '../../src/transfer/errors';
import { loadConfig } from '../../src/config/config';
import { createDestination } from '../../src/transfer/create-destination';
import { SftpDestination, SftpDestinationOptions } from '../../src/transfer/sftp-destination';
import { SshConnectionPool } from '../../src/transfer/ssh-connection-pool';
import { generateKeyPair, listTree, sha256OfBuffer, sha256OfFile, SshdHandle, startSshd } from '../harness/sshd';

let sshd: SshdHandle;
const openDestinations: SftpDestination[] = [];
const openPools: SshConnectionPool[] = [];
let fileCounter = 0;

beforeAll(async () => {
  sshd = await startSshd();
});

afterAll(async () => {
  await sshd?.cleanup();
});

afterEach(async () => {
  await Promise.all(openDestinations.splice(0).map((d) => d.close()));
  await Promise.all(openPools.splice(0).map((p) => p.close()));
});

function destination(overrides: Partial<SftpDestinationOptions> = {}, server: SshdHandle = sshd): SftpDestination {
  const dest = new SftpDestination({
    host: server.host,
    port: server.port,
    username: server.username,
    privateKeyFile: server.privateKeyFile,
    knownHostsFile: server.knownHostsFile,
    basePath: server.remoteRoot,
    // Most tests here exercise the remote sha256sum and the look before the upload, which files above the read-back
    // size take; the small-file defaults have tests of their own.
    readBackUpToBytes: 0,
    ...overrides,
  });
  openDestinations.push(dest);
  return dest;
}

/** A local source file and the request that delivers it. */
async function localFile(
  content: Buffer | string,
  request: Partial<DeliveryRequest> & { folder: string; fileName: string },
  server: SshdHandle = sshd,
): Promise<DeliveryRequest> {
  fileCounter += 1;
  const localPath = join(server.workDir, `source-${fileCounter}.bin`);
  await writeFile(localPath, content);
  const data = typeof content === 'string' ? Buffer.from(content) : content;
  return { localPath, sha256: sha256OfBuffer(data), size: data.length, ...request };
}

async function acceptedLogins(server: SshdHandle = sshd): Promise<number> {
  const log = await readFile(server.logFile, 'utf8');
  return log.split('\n').filter((line) => line.includes('Accepted publickey')).length;
}

function remote(relativePath: string, server: SshdHandle = sshd): string {
  return join(server.remoteRoot, relativePath);
}

describe('SftpDestination', () => {
  it('describes itself without secrets', () => {
    expect(destination().description).toBe(`sftp://${sshd.username}@127.0.0.1:${sshd.port}${sshd.remoteRoot}`);
    expect(destination({ basePath: 'results/' }).description).toBe(`sftp://${sshd.username}@127.0.0.1:${sshd.port}/~/results`);
  });

  it('delivers into a new nested folder, verified by remote sha256sum, leaving no temp file', async () => {
    const content = randomBytes(300 * 1024 + 7);
    const request = await localFile(content, { folder: 'viral_load/digawana', fileName: '066-12000001-3.pdf' });
    const progress: number[] = [];
    const result = await destination().deliver({ ...request, onProgress: (n) => progress.push(n) });

    expect(result).toEqual({
      remotePath: 'viral_load/digawana/066-12000001-3.pdf',
      renamedBecauseOfConflict: false,
      alreadyPresent: false,
      verifiedBy: 'remote-sha256sum',
    });
    expect(await sha256OfFile(remote(result.remotePath))).toBe(request.sha256);
    expect(await listTree(remote('viral_load'))).toEqual(['digawana/066-12000001-3.pdf']);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress[progress.length - 1]).toBe(content.length);
  });

  it('re-delivery of the identical file reports alreadyPresent and uploads nothing', async () => {
    const request = await localFile('identical content', { folder: 'redelivery', fileName: 'a.pdf' });
    const dest = destination();
    await dest.deliver(request);
    const before = await stat(remote('redelivery/a.pdf'));
    const progress: number[] = [];

    const again = await dest.deliver({ ...request, onProgress: (n) => progress.push(n) });

    expect(again).toEqual({ remotePath: 'redelivery/a.pdf', renamedBecauseOfConflict: false, alreadyPresent: true, verifiedBy: 'remote-sha256sum' });
    expect(progress).toEqual([]);
    expect((await stat(remote('redelivery/a.pdf'))).ino).toBe(before.ino);
    expect(await listTree(remote('redelivery'))).toEqual(['a.pdf']);
  });

  it('gives a different file with a taken name the conflict name and leaves the original untouched', async () => {
    const dest = destination();
    const original = await localFile('the clinic already has this', { folder: 'conflict', fileName: 'r.pdf' });
    await dest.deliver(original);
    const different = await localFile('a different result', { folder: 'conflict', fileName: 'r.pdf' });

    const result = await dest.deliver(different);

    const conflictName = conflictNameFor('r.pdf', different.sha256);
    expect(result).toEqual({ remotePath: `conflict/${conflictName}`, renamedBecauseOfConflict: true, alreadyPresent: false, verifiedBy: 'remote-sha256sum' });
    expect(conflictName).toBe(`r__${different.sha256.slice(0, 12)}.pdf`);
    expect(await readFile(remote('conflict/r.pdf'), 'utf8')).toBe('the clinic already has this');
    expect(await readFile(remote(`conflict/${conflictName}`), 'utf8')).toBe('a different result');

    // A retry of the renamed delivery finds it under the conflict name.
    expect(await dest.deliver(different)).toMatchObject({ remotePath: `conflict/${conflictName}`, renamedBecauseOfConflict: true, alreadyPresent: true });
    expect(await listTree(remote('conflict'))).toEqual([conflictName, 'r.pdf'].sort());
  });

  it('never overwrites when different files race for the same name', async () => {
    const dest = destination();
    const contents = ['racer one', 'racer two', 'racer three', 'racer four'];
    const requests = await Promise.all(contents.map((c) => localFile(c, { folder: 'race', fileName: 'same.pdf' })));

    const results = await Promise.all(requests.map((r) => dest.deliver(r)));

    const plain = results.filter((r) => r.remotePath === 'race/same.pdf');
    expect(plain).toHaveLength(1);
    expect(results.filter((r) => r.renamedBecauseOfConflict)).toHaveLength(3);
    for (const [i, result] of results.entries()) {
      expect(await readFile(remote(result.remotePath), 'utf8')).toBe(contents[i]);
    }
    expect(await listTree(remote('race'))).toHaveLength(4);
  });

  it('handles file and folder names with spaces, quotes, backslashes and shell metacharacters', async () => {
    const fileName = `it's a "result" $(touch injected-by-test) \`id\` back\\slash; (1).pdf`;
    const request = await localFile(randomBytes(70_000), { folder: `clinic 'north'/Dr. O'Brien`, fileName });

    const result = await destination().deliver(request);

    expect(result.verifiedBy).toBe('remote-sha256sum');
    expect(result.remotePath).toBe(`clinic 'north'/Dr. O'Brien/${fileName}`);
    expect(await sha256OfFile(remote(result.remotePath))).toBe(request.sha256);
    expect(existsSync(join(homedir(), 'injected-by-test'))).toBe(false);
    expect(await destination().deliver(request)).toMatchObject({ alreadyPresent: true, verifiedBy: 'remote-sha256sum' });
  });

  it('runs 50 parallel deliveries through a pool of 2 connections', async () => {
    const dest = destination({ poolSize: 2 });
    const requests = await Promise.all(
      Array.from({ length: 50 }, (_, i) => localFile(randomBytes(20_000 + i * 997), { folder: `bulk/f${i % 5}`, fileName: `${i}.pdf` })),
    );
    const loginsBefore = await acceptedLogins();

    const results = await Promise.all(requests.map((r) => dest.deliver(r)));

    expect(results.every((r) => !r.alreadyPresent && !r.renamedBecauseOfConflict && r.verifiedBy === 'remote-sha256sum')).toBe(true);
    for (const [i, result] of results.entries()) {
      expect(result.remotePath).toBe(`bulk/f${i % 5}/${i}.pdf`);
      expect(await sha256OfFile(remote(result.remotePath))).toBe(requests[i].sha256);
    }
    expect(await listTree(remote('bulk'))).toHaveLength(50);
    expect((await acceptedLogins()) - loginsBefore).toBe(2);
  });

  it('by default verifies a small file by reading it back and meets a taken name only at the rename, never replacing it', async () => {
    const dest = destination({ readBackUpToBytes: undefined });
    const request = await localFile(randomBytes(100_000), { folder: 'small/clinic', fileName: 's.pdf' });
    expect(await dest.deliver(request)).toEqual({ remotePath: 'small/clinic/s.pdf', renamedBecauseOfConflict: false, alreadyPresent: false, verifiedBy: 'read-back' });
    const before = await stat(remote('small/clinic/s.pdf'));
    // Sent again (a retry whose first attempt's result was lost): uploaded under the temp name, found identical at the rename.
    expect(await dest.deliver(request)).toEqual({ remotePath: 'small/clinic/s.pdf', renamedBecauseOfConflict: false, alreadyPresent: true, verifiedBy: 'read-back' });
    expect((await stat(remote('small/clinic/s.pdf'))).ino).toBe(before.ino);
    const different = await localFile(randomBytes(90_000), { folder: 'small/clinic', fileName: 's.pdf' });
    const renamed = await dest.deliver(different);
    expect(renamed).toMatchObject({ remotePath: `small/clinic/${conflictNameFor('s.pdf', different.sha256)}`, renamedBecauseOfConflict: true, verifiedBy: 'read-back' });
    expect(await sha256OfFile(remote('small/clinic/s.pdf'))).toBe(request.sha256);
    expect(await listTree(remote('small'))).toEqual(['clinic/s.pdf', `clinic/${conflictNameFor('s.pdf', different.sha256)}`].sort());
    // A size that does not match what was written fails the read-back's count.
    const short = await localFile('twelve bytes', { folder: 'small/size', fileName: 'x.pdf' });
    await expect(dest.deliver({ ...short, size: 13 })).rejects.toThrow(/12 bytes, expected 13/);
    expect(await listTree(remote('small/size'))).toEqual([]);
  });

  it('finds a clinic folder again after someone removed it on server B', async () => {
    const dest = destination({ readBackUpToBytes: undefined });
    await dest.deliver(await localFile('first', { folder: 'removed/clinic', fileName: 'a.pdf' }));
    await rm(remote('removed'), { recursive: true });
    const second = await localFile('second', { folder: 'removed/clinic', fileName: 'b.pdf' });
    // The remembered folder is gone: the delivery finds that out, makes it again and goes on.
    expect(await dest.deliver(second)).toMatchObject({ remotePath: 'removed/clinic/b.pdf', alreadyPresent: false });
    expect(await sha256OfFile(remote('removed/clinic/b.pdf'))).toBe(second.sha256);
  });

  it('verifies by reading the file back when remote sha256sum is not allowed', async () => {
    const dest = destination({ useRemoteSha256sum: false });
    // Several read chunks plus a ragged tail, to exercise the pipelined read-back.
    const request = await localFile(randomBytes(3 * 1024 * 1024 + 12_345), { folder: 'readback', fileName: 'big.pdf' });

    const result = await dest.deliver(request);

    expect(result).toMatchObject({ remotePath: 'readback/big.pdf', verifiedBy: 'read-back', alreadyPresent: false });
    expect(await sha256OfFile(remote(result.remotePath))).toBe(request.sha256);
    expect(await dest.deliver(request)).toMatchObject({ alreadyPresent: true, verifiedBy: 'read-back' });
    const empty = await localFile('', { folder: 'readback', fileName: 'empty.pdf' });
    expect(await dest.deliver(empty)).toMatchObject({ remotePath: 'readback/empty.pdf', verifiedBy: 'read-back' });
  });

  it.each([
    ['remote-sha256sum', true],
    ['read-back', false],
  ])('fails verification on a content mismatch (%s), leaving no temp or final file', async (_label, useRemoteSha256sum) => {
    const folder = `mismatch-${String(useRemoteSha256sum)}`;
    const request = await localFile(randomBytes(50_000), { folder, fileName: 'x.pdf' });
    const wrongSha = sha256OfBuffer('something else');

    const attempt = destination({ useRemoteSha256sum }).deliver({ ...request, sha256: wrongSha });

    await expect(attempt).rejects.toBeInstanceOf(VerificationFailedError);
    await expect(attempt).rejects.toThrow(/SHA-256/);
    expect(await listTree(remote(folder))).toEqual([]);
    expect(existsSync(remote(`${folder}/${temporaryNameFor('x.pdf', wrongSha)}`))).toBe(false);
  });

  it('fails verification on a size mismatch, leaving no temp file', async () => {
    const request = await localFile('twelve bytes', { folder: 'size-mismatch', fileName: 'x.pdf' });
    await expect(destination().deliver({ ...request, size: 13 })).rejects.toBeInstanceOf(VerificationFailedError);
    expect(await listTree(remote('size-mismatch'))).toEqual([]);
  });

  it('overwrites a temp file left behind by a crashed attempt', async () => {
    const request = await localFile('the real content', { folder: 'crashed', fileName: 'c.pdf' });
    const dest = destination();
    // The folder exists and holds a truncated upload from an earlier attempt.
    await dest.deliver(await localFile('unrelated', { folder: 'crashed', fileName: 'other.pdf' }));
    await writeFile(remote(`crashed/${temporaryNameFor('c.pdf', request.sha256)}`), 'the re');

    expect(await dest.deliver(request)).toMatchObject({ remotePath: 'crashed/c.pdf', alreadyPresent: false });
    expect(await readFile(remote('crashed/c.pdf'), 'utf8')).toBe('the real content');
    expect(await listTree(remote('crashed'))).toEqual(['c.pdf', 'other.pdf']);
  });

  it('refuses folders and names that would escape the destination root', async () => {
    const request = await localFile('x', { folder: '../escape', fileName: 'x.pdf' });
    await expect(destination().deliver(request)).rejects.toThrow(/unsafe delivery folder/);
    await expect(destination().deliver({ ...request, folder: 'ok', fileName: '../x.pdf' })).rejects.toThrow(/unsafe delivery file name/);
  });

  it('reports a missing destination root instead of creating it', async () => {
    const request = await localFile('x', { folder: 'a', fileName: 'x.pdf' });
    await expect(destination({ basePath: join(sshd.remoteRoot, 'does-not-exist') }).deliver(request)).rejects.toThrow(/does not exist/);
  });

  it('accepts a server by pinned fingerprint alone, and rejects a wrong pin', async () => {
    const request = await localFile('pinned', { folder: 'pinned', fileName: 'p.pdf' });
    const pinned = destination({ knownHostsFile: undefined, pinnedFingerprint: sshd.hostKeyFingerprint });
    expect(await pinned.deliver(request)).toMatchObject({ remotePath: 'pinned/p.pdf' });

    const wrongPin = (await generateKeyPair(sshd.workDir, 'not-the-host-key')).fingerprint;
    const wrong = destination({ knownHostsFile: undefined, pinnedFingerprint: wrongPin });
    const other = await localFile('wrong pin', { folder: 'pinned', fileName: 'q.pdf' });
    await expect(wrong.deliver(other)).rejects.toMatchObject({ name: 'HostKeyRejectedError', presentedFingerprint: sshd.hostKeyFingerprint });
    expect(await listTree(remote('pinned'))).toEqual(['p.pdf']);
  });

  it('rejects an unknown host: an empty known_hosts trusts nobody', async () => {
    const emptyKnownHosts = join(sshd.workDir, 'empty_known_hosts');
    await writeFile(emptyKnownHosts, '');
    const request = await localFile('x', { folder: 'unknown-host', fileName: 'x.pdf' });

    const attempt = destination({ knownHostsFile: emptyKnownHosts }).deliver(request);

    await expect(attempt).rejects.toBeInstanceOf(HostKeyRejectedError);
    await expect(attempt).rejects.toMatchObject({ presentedFingerprint: sshd.hostKeyFingerprint });
    expect(existsSync(remote('unknown-host'))).toBe(false);
  });

  it('reports a refused client key as SshAuthenticationError', async () => {
    const stranger = await generateKeyPair(sshd.workDir, 'stranger_key');
    const request = await localFile('x', { folder: 'auth', fileName: 'x.pdf' });

    const attempt = destination({ privateKeyFile: stranger.privateKeyFile }).deliver(request);

    await expect(attempt).rejects.toBeInstanceOf(SshAuthenticationError);
    await expect(attempt).rejects.toMatchObject({ username: sshd.username });
    expect(existsSync(remote('auth'))).toBe(false);
  });

  it('uses a passphrase-protected client key, without echoing anything secret on failure', async () => {
    const keyDir = sshd.workDir;
    const protectedKey = await generateKeyPair(keyDir, 'protected_key', 'correct horse');
    const authorized = sshd.authorizedKeysFile;
    const original = await readFile(authorized, 'utf8');
    await writeFile(authorized, `${original}${protectedKey.publicKeyLine}\n`);
    try {
      const request = await localFile('x', { folder: 'passphrase', fileName: 'x.pdf' });
      const ok = destination({ privateKeyFile: protectedKey.privateKeyFile, passphrase: 'correct horse' });
      expect(await ok.deliver(request)).toMatchObject({ remotePath: 'passphrase/x.pdf' });

      const bad = destination({ privateKeyFile: protectedKey.privateKeyFile, passphrase: 'wrong battery' });
      const failure = await bad.deliver(request).then(
        () => undefined,
        (err: Error) => err,
      );
      expect(failure).toBeInstanceOf(Error);
      expect(failure?.message).not.toMatch(/wrong battery|PRIVATE KEY/);
    } finally {
      await writeFile(authorized, original);
    }
  });

  it('reads the passphrase from the file GETRESULTS_SSH_KEY_PASSPHRASE_FILE names, through the configuration', async () => {
    const protectedKey = await generateKeyPair(sshd.workDir, 'protected_key_2', 'tr0ub4dor & 3');
    const passphraseFile = join(sshd.workDir, 'passphrase');
    await writeFile(passphraseFile, 'tr0ub4dor & 3\n', { mode: 0o600 }); // as `echo` writes it
    const authorized = sshd.authorizedKeysFile;
    const original = await readFile(authorized, 'utf8');
    await writeFile(authorized, `${original}${protectedKey.publicKeyLine}\n`);
    try {
      const config = loadConfig({
        GETRESULTS_DATA_DIR: sshd.workDir,
        GETRESULTS_DESTINATION: `sftp://${sshd.username}@${sshd.host}:${sshd.port}${sshd.remoteRoot}`,
        GETRESULTS_SSH_KEY_FILE: protectedKey.privateKeyFile,
        GETRESULTS_SSH_KEY_PASSPHRASE_FILE: passphraseFile,
        GETRESULTS_SSH_KNOWN_HOSTS: sshd.knownHostsFile,
      });
      const dest = createDestination(config.destination) as SftpDestination;
      openDestinations.push(dest);
      const request = await localFile('y', { folder: 'passphrase-file', fileName: 'y.pdf' });
      expect(await dest.deliver(request)).toMatchObject({ remotePath: 'passphrase-file/y.pdf' });

      // Without the passphrase the encrypted key cannot be used, and the error says which key file, not its content.
      const withoutPassphrase = loadConfig({
        GETRESULTS_DATA_DIR: sshd.workDir,
        GETRESULTS_DESTINATION: `sftp://${sshd.username}@${sshd.host}:${sshd.port}${sshd.remoteRoot}`,
        GETRESULTS_SSH_KEY_FILE: protectedKey.privateKeyFile,
        GETRESULTS_SSH_KNOWN_HOSTS: sshd.knownHostsFile,
      });
      const locked = createDestination(withoutPassphrase.destination) as SftpDestination;
      openDestinations.push(locked);
      await expect(locked.deliver(request)).rejects.toThrow(protectedKey.privateKeyFile);
    } finally {
      await writeFile(authorized, original);
    }
  });

  it('reconnects after the server went away and came back', async () => {
    const dest = destination();
    await dest.deliver(await localFile('before', { folder: 'restart', fileName: 'before.pdf' }));

    await sshd.stop();
    await expect(dest.deliver(await localFile('during', { folder: 'restart', fileName: 'during.pdf' }))).rejects.toThrow();
    await sshd.start();

    expect(await dest.deliver(await localFile('after', { folder: 'restart', fileName: 'after.pdf' }))).toMatchObject({ remotePath: 'restart/after.pdf' });
    expect(await listTree(remote('restart'))).toEqual(['after.pdf', 'before.pdf']);
  });

  it('fails (rather than hangs) when the server dies mid-upload, and the retry completes cleanly', async () => {
    const dest = destination();
    const request = await localFile(randomBytes(64 * 1024 * 1024), { folder: 'mid-upload', fileName: 'big.pdf' });
    let stopping: Promise<void> | undefined;

    // Stops the server once, on the first progress report; the test awaits the stop below.
    const attempt = dest.deliver({
      ...request,
      onProgress: () => {
        stopping ??= sshd.stop();
      },
    });

    await expect(attempt).rejects.toThrow();
    await stopping;
    await sshd.start();
    expect(await dest.deliver(request)).toMatchObject({ remotePath: 'mid-upload/big.pdf', alreadyPresent: false });
    expect(await sha256OfFile(remote('mid-upload/big.pdf'))).toBe(request.sha256);
    expect(await listTree(remote('mid-upload'))).toEqual(['big.pdf']);
  });
});

describe('SftpDestination after the server host key changed', () => {
  let rotated: SshdHandle;

  beforeAll(async () => {
    rotated = await startSshd();
  });

  afterAll(async () => {
    await rotated?.cleanup();
  });

  it('rejects the new host key with HostKeyRejectedError and writes nothing', async () => {
    const dest = destination({}, rotated);
    expect(await dest.deliver(await localFile('before rotation', { folder: 'hk', fileName: 'a.pdf' }, rotated))).toMatchObject({ remotePath: 'hk/a.pdf' });
    const oldFingerprint = rotated.hostKeyFingerprint;

    const newFingerprint = await rotated.rotateHostKey();
    expect(newFingerprint).not.toBe(oldFingerprint);

    // A fresh destination connects anew and must refuse the impostor key.
    const attempt = destination({}, rotated).deliver(await localFile('after rotation', { folder: 'hk2', fileName: 'b.pdf' }, rotated));
    await expect(attempt).rejects.toBeInstanceOf(HostKeyRejectedError);
    await expect(attempt).rejects.toMatchObject({ presentedFingerprint: newFingerprint, host: `127.0.0.1:${rotated.port}` });
    // The old destination's connection died with the restart; its reconnect must refuse the key too.
    await expect(dest.deliver(await localFile('old pool', { folder: 'hk3', fileName: 'c.pdf' }, rotated))).rejects.toBeInstanceOf(HostKeyRejectedError);
    expect(await listTree(rotated.remoteRoot)).toEqual(['hk/a.pdf']);
  });
});

describe('SshConnectionPool', () => {
  function pool(overrides: Partial<ConstructorParameters<typeof SshConnectionPool>[0]> = {}): SshConnectionPool {
    const p = new SshConnectionPool({
      host: sshd.host,
      port: sshd.port,
      username: sshd.username,
      privateKeyFile: sshd.privateKeyFile,
      knownHostsFile: sshd.knownHostsFile,
      ...overrides,
    });
    openPools.push(p);
    return p;
  }

  it('runs remote commands and reports their exit status and output', async () => {
    const p = pool();
    expect(await p.exec('printf out; printf err >&2; exit 3')).toEqual({ exitCode: 3, signal: null, stdout: 'out', stderr: 'err' });
    // stdin is closed, so a command reading it ends instead of hanging.
    expect(await p.exec('cat; echo done')).toMatchObject({ exitCode: 0, stdout: 'done\n' });
  });

  it('connects lazily and only as far as the load needs', async () => {
    const p = pool({ size: 3 });
    expect(p.openConnections).toBe(0);
    await p.withSftp(async () => undefined);
    await p.withSftp(async () => undefined);
    expect(p.openConnections).toBe(1);
    const leases = await Promise.all([p.acquire(), p.acquire(), p.acquire()]);
    expect(p.openConnections).toBe(3);
    leases.forEach((l) => l.release());
  });

  it('makes callers wait when every connection is at its share limit', async () => {
    const p = pool({ size: 1, maxUsersPerConnection: 2 });
    const first = await p.acquire();
    const second = await p.acquire();
    let thirdGotIn = false;
    const third = p.acquire().then((lease) => {
      thirdGotIn = true;
      return lease;
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(thirdGotIn).toBe(false);
    first.release();
    first.release(); // idempotent: must not free a second share
    const lease = await third;
    expect(thirdGotIn).toBe(true);
    let fourthGotIn = false;
    const fourth = p.acquire().then((l) => {
      fourthGotIn = true;
      l.release();
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(fourthGotIn).toBe(false);
    second.release();
    lease.release();
    await fourth;
  });

  it('rejects waiters and new callers once closed', async () => {
    const p = pool({ size: 1, maxUsersPerConnection: 1 });
    const held = await p.acquire();
    const waiting = p.acquire().then(
      () => undefined,
      (err: Error) => err,
    );
    await p.close();
    expect(await waiting).toEqual(expect.objectContaining({ message: expect.stringMatching(/closed/) }));
    await expect(p.acquire()).rejects.toThrow(/closed/);
    held.release();
  });

  it('reports a connection failure without leaking a share', async () => {
    const p = pool({ size: 1, maxUsersPerConnection: 1, port: 1 });
    await expect(p.acquire()).rejects.toThrow(/failed/);
    await expect(p.acquire()).rejects.toThrow(/failed/);
  });

  it('fails fast on a configuration without any host trust', () => {
    expect(() => pool({ knownHostsFile: undefined })).toThrow(/known_hosts file or a pinned fingerprint/);
  });
});

describe.each([
  ['SftpDestination', () => destination({ readBackUpToBytes: 1024 * 1024 })],
  ['LocalDestination', () => new LocalDestination(sshd.remoteRoot)],
] as const)('%s: withdrawing a delivered file', (_kind, make) => {
  it('moves our file out of the clinic folder into .withdrawn, keeps it whole, and a retry finds its own move', async () => {
    const folder = `withdraw/${_kind}`;
    const content = randomBytes(20 * 1024);
    const request = await localFile(content, { folder, fileName: '066-12000201-3.pdf' });
    const dest = make();
    const { remotePath } = await dest.deliver(request);
    const withdrawal = { remotePath, sha256: request.sha256, size: request.size, withdrawalId: 'w-201-1' };
    const moved = await dest.withdraw(withdrawal);
    expect(moved).toEqual({ outcome: 'moved', movedTo: `.withdrawn/${folder}/066-12000201-3.pdf.w-201-1` });
    expect(existsSync(remote(remotePath))).toBe(false);
    expect(await listTree(remote(folder))).toEqual([]);
    expect(await sha256OfFile(remote(`.withdrawn/${folder}/066-12000201-3.pdf.w-201-1`))).toBe(request.sha256);
    expect(await dest.withdraw(withdrawal)).toEqual({ outcome: 'alreadyMoved', movedTo: moved.outcome === 'moved' ? moved.movedTo : '' });
  });

  it('leaves another file at that path alone, and says when nothing is there', async () => {
    const folder = `withdraw-other/${_kind}`;
    const ours = await localFile('the result that was sent', { folder, fileName: '066-12000202-3.pdf' });
    const dest = make();
    const { remotePath } = await dest.deliver(ours);
    // Someone put a different file under that name since (a corrected version, by hand).
    await writeFile(remote(remotePath), 'a different file');
    expect(await dest.withdraw({ remotePath, sha256: ours.sha256, size: ours.size, withdrawalId: 'w-202-1' })).toEqual({ outcome: 'notOurs' });
    expect(await readFile(remote(remotePath), 'utf8')).toBe('a different file');
    await rm(remote(remotePath));
    expect(await dest.withdraw({ remotePath, sha256: ours.sha256, size: ours.size, withdrawalId: 'w-202-2' })).toEqual({ outcome: 'notThere' });
    expect(() => withdrawnPathFor('../etc/passwd', 'w-1')).toThrow(/unsafe path/);
    expect(() => withdrawnPathFor('a/b.pdf', '../x')).toThrow(/withdrawal id/);
  });
});
