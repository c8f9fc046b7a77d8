import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createHostKeyVerifier,
  fingerprintOf,
  hostFieldMatches,
  knownHostKeyAlgorithms,
  knownHostsName,
  parseKnownHosts,
} from '../../src/transfer/known-hosts';

interface TestKey {
  type: string;
  base64: string;
  blob: Buffer;
  /** As printed by ssh-keygen, the reference implementation. */
  fingerprint: string;
}

let dir: string;
let keyA: TestKey;
let keyB: TestKey;
let rsaKey: TestKey;

function makeKey(name: string, type: string): TestKey {
  const file = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', name, '-f', file]);
  const [keyType, base64] = readFileSync(`${file}.pub`, 'utf8').trim().split(' ');
  const printed = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`]).toString();
  const fingerprint = /SHA256:[A-Za-z0-9+/]+/.exec(printed)?.[0] ?? '';
  return { type: keyType, base64, blob: Buffer.from(base64, 'base64'), fingerprint };
}

function knownHosts(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'known-hosts-test-'));
  keyA = makeKey('a', 'ed25519');
  keyB = makeKey('b', 'ed25519');
  rsaKey = makeKey('r', 'rsa');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('fingerprintOf', () => {
  it('matches ssh-keygen -lf', () => {
    expect(fingerprintOf(keyA.blob)).toBe(keyA.fingerprint);
    expect(fingerprintOf(rsaKey.blob)).toBe(rsaKey.fingerprint);
    expect(fingerprintOf(keyA.blob)).not.toContain('=');
  });
});

describe('knownHostsName', () => {
  it('uses the bare host on port 22 and [host]:port otherwise, lowercased', () => {
    expect(knownHostsName('Server.Example', 22)).toBe('server.example');
    expect(knownHostsName('127.0.0.1', 2222)).toBe('[127.0.0.1]:2222');
  });
});

describe('hostFieldMatches', () => {
  it('matches comma-separated names, wildcards and negations as OpenSSH does', () => {
    expect(hostFieldMatches('other,[127.0.0.1]:2222', '[127.0.0.1]:2222')).toBe(true);
    expect(hostFieldMatches('[127.0.0.1]:2222', '[127.0.0.1]:2223')).toBe(false);
    expect(hostFieldMatches('*.example.org', 'b.example.org')).toBe(true);
    expect(hostFieldMatches('*.example.org', 'example.org')).toBe(false);
    expect(hostFieldMatches('10.0.0.?', '10.0.0.5')).toBe(true);
    expect(hostFieldMatches('10.0.0.?', '10.0.0.15')).toBe(false);
    expect(hostFieldMatches('*.example.org,!evil.example.org', 'evil.example.org')).toBe(false);
    expect(hostFieldMatches('Server.Example', 'server.example')).toBe(true);
    // Dots are literal, not regex wildcards.
    expect(hostFieldMatches('10.0.0.1', '10a0b0c1')).toBe(false);
  });
});

describe('parseKnownHosts', () => {
  it('skips comments, blank lines, unknown markers and malformed or lying lines', () => {
    const text = [
      '# a comment',
      '',
      '   ',
      `host1 ${keyA.type} ${keyA.base64} comment words`,
      `@revoked * ${keyB.type} ${keyB.base64}`,
      `@cert-authority *.example ${keyB.type} ${keyB.base64}`,
      `@bogus host ${keyA.type} ${keyA.base64}`,
      'host2 ssh-ed25519',
      'host3 ssh-ed25519 !!!notbase64!!!',
      `host4 ssh-rsa ${keyA.base64}`,
    ].join('\n');
    const entries = parseKnownHosts(text);
    expect(entries.map((e) => [e.marker, e.hosts])).toEqual([
      [undefined, 'host1'],
      ['revoked', '*'],
      ['cert-authority', '*.example'],
    ]);
    expect(entries[0].key.equals(keyA.blob)).toBe(true);
  });
});

describe('createHostKeyVerifier', () => {
  it('accepts the key listed for [host]:port and rejects any other key', () => {
    const file = knownHosts('port', `[127.0.0.1]:2222 ${keyA.type} ${keyA.base64}\n`);
    const verify = createHostKeyVerifier({ host: '127.0.0.1', port: 2222, knownHostsFile: file });
    expect(verify(keyA.blob)).toBe(true);
    expect(verify(keyB.blob)).toBe(false);
  });

  it('does not apply a port-22 entry to another port, nor a [host]:port entry to port 22', () => {
    const file = knownHosts('port22', `127.0.0.1 ${keyA.type} ${keyA.base64}\n[10.0.0.5]:2222 ${keyB.type} ${keyB.base64}\n`);
    expect(createHostKeyVerifier({ host: '127.0.0.1', port: 22, knownHostsFile: file })(keyA.blob)).toBe(true);
    expect(createHostKeyVerifier({ host: '127.0.0.1', port: 2222, knownHostsFile: file })(keyA.blob)).toBe(false);
    expect(createHostKeyVerifier({ host: '10.0.0.5', port: 22, knownHostsFile: file })(keyB.blob)).toBe(false);
  });

  it('accepts one of several keys listed for a host (servers have one per type)', () => {
    const file = knownHosts('several', `srv ${rsaKey.type} ${rsaKey.base64}\nsrv ${keyA.type} ${keyA.base64}\n`);
    const verify = createHostKeyVerifier({ host: 'srv', port: 22, knownHostsFile: file });
    expect(verify(rsaKey.blob)).toBe(true);
    expect(verify(keyA.blob)).toBe(true);
    expect(verify(keyB.blob)).toBe(false);
  });

  it('matches entries hashed by ssh-keygen -H', () => {
    const file = knownHosts('hashed', `[127.0.0.1]:2222 ${keyA.type} ${keyA.base64}\nclinic.example ${keyB.type} ${keyB.base64}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('127.0.0.1');
    expect(text).toMatch(/^\|1\|/);
    expect(createHostKeyVerifier({ host: '127.0.0.1', port: 2222, knownHostsFile: file })(keyA.blob)).toBe(true);
    expect(createHostKeyVerifier({ host: 'CLINIC.example', port: 22, knownHostsFile: file })(keyB.blob)).toBe(true);
    expect(createHostKeyVerifier({ host: 'clinic.example', port: 22, knownHostsFile: file })(keyA.blob)).toBe(false);
    expect(createHostKeyVerifier({ host: '127.0.0.1', port: 2223, knownHostsFile: file })(keyA.blob)).toBe(false);
  });

  it('rejects a @revoked key even when another line trusts it', () => {
    const file = knownHosts('revoked', `srv ${keyA.type} ${keyA.base64}\n@revoked other-host ${keyA.type} ${keyA.base64}\n`);
    expect(createHostKeyVerifier({ host: 'srv', port: 22, knownHostsFile: file })(keyA.blob)).toBe(false);
  });

  it('never trusts through @cert-authority lines', () => {
    const file = knownHosts('ca', `@cert-authority srv ${keyA.type} ${keyA.base64}\n`);
    expect(createHostKeyVerifier({ host: 'srv', port: 22, knownHostsFile: file })(keyA.blob)).toBe(false);
  });

  it('rejects an unknown host: an empty or missing known_hosts trusts nothing', () => {
    const empty = knownHosts('empty', '');
    expect(createHostKeyVerifier({ host: 'srv', port: 22, knownHostsFile: empty })(keyA.blob)).toBe(false);
    expect(createHostKeyVerifier({ host: 'srv', port: 22, knownHostsFile: join(dir, 'missing') })(keyA.blob)).toBe(false);
  });

  it('re-reads the file, so an operator update takes effect without a restart', () => {
    const file = knownHosts('reread', '');
    const verify = createHostKeyVerifier({ host: 'srv', port: 22, knownHostsFile: file });
    expect(verify(keyA.blob)).toBe(false);
    writeFileSync(file, `srv ${keyA.type} ${keyA.base64}\n`);
    expect(verify(keyA.blob)).toBe(true);
  });

  it('accepts a pinned fingerprint (with or without base64 padding) and nothing else', () => {
    const verify = createHostKeyVerifier({ host: 'srv', port: 22, pinnedFingerprint: keyA.fingerprint });
    expect(verify(keyA.blob)).toBe(true);
    expect(verify(keyB.blob)).toBe(false);
    expect(createHostKeyVerifier({ host: 'srv', port: 22, pinnedFingerprint: `${keyA.fingerprint}=` })(keyA.blob)).toBe(true);
  });

  it('accepts either trust source when both are configured, but a revocation still wins over the pin', () => {
    const file = knownHosts('both', `srv ${keyB.type} ${keyB.base64}\n`);
    const verify = createHostKeyVerifier({ host: 'srv', port: 22, knownHostsFile: file, pinnedFingerprint: keyA.fingerprint });
    expect(verify(keyA.blob)).toBe(true);
    expect(verify(keyB.blob)).toBe(true);
    expect(verify(rsaKey.blob)).toBe(false);
    const revoked = knownHosts('both-revoked', `@revoked * ${keyA.type} ${keyA.base64}\n`);
    expect(createHostKeyVerifier({ host: 'srv', port: 22, knownHostsFile: revoked, pinnedFingerprint: keyA.fingerprint })(keyA.blob)).toBe(false);
  });

  it('refuses configurations that could never accept a key, and malformed pins', () => {
    expect(() => createHostKeyVerifier({ host: 'srv', port: 22 })).toThrow(/known_hosts file or a pinned fingerprint/);
    expect(() => createHostKeyVerifier({ host: 'srv', port: 22, pinnedFingerprint: 'MD5:aa:bb' })).toThrow(/SHA256:/);
    expect(() => createHostKeyVerifier({ host: 'srv', port: 22, pinnedFingerprint: keyA.base64 })).toThrow(/SHA256:/);
  });
});

describe('knownHostKeyAlgorithms', () => {
  it('lists the algorithms of the keys trusted for this host, expanding RSA to its SHA-2 signatures', () => {
    const file = knownHosts(
      'algorithms',
      `[srv]:2222 ${rsaKey.type} ${rsaKey.base64}\n[srv]:2222 ${keyA.type} ${keyA.base64}\nother ${keyB.type} ${keyB.base64}\n` +
        `@revoked [srv]:2222 ${keyB.type} ${keyB.base64}\n`,
    );
    expect(knownHostKeyAlgorithms({ host: 'srv', port: 2222, knownHostsFile: file })).toEqual([
      'rsa-sha2-512',
      'rsa-sha2-256',
      'ssh-rsa',
      'ssh-ed25519',
    ]);
    expect(knownHostKeyAlgorithms({ host: 'srv', port: 22, knownHostsFile: file })).toEqual([]);
    expect(knownHostKeyAlgorithms({ host: 'srv', port: 2222, pinnedFingerprint: keyA.fingerprint })).toEqual([]);
  });
});
