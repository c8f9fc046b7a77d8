/**
 * Host-key trust for outgoing SSH connections: an OpenSSH known_hosts file and/or a pinned SHA-256 fingerprint.
 * Nothing is ever trusted on first use: a server we have no record of is rejected like an impostor, because
 * result PDFs must only ever reach the clinic server we were told about.
 */
import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';

export interface HostKeyVerifierOptions {
  host: string;
  port: number;
  /** OpenSSH known_hosts file; read on every verification so an operator's update takes effect without a restart. */
  knownHostsFile?: string;
  /** `SHA256:<base64 without padding>`, exactly as `ssh-keygen -lf` prints it. */
  pinnedFingerprint?: string;
}

export interface KnownHostsEntry {
  marker: 'revoked' | 'cert-authority' | undefined;
  /** The raw host field: comma-separated patterns, or one `|1|salt|hash` hashed name. */
  hosts: string;
  keyType: string;
  /** The public key blob in SSH wire format (what the server presents during key exchange). */
  key: Buffer;
}

/** `SHA256:<base64 without padding>` of a public key blob, the form OpenSSH shows users. */
export function fingerprintOf(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** The name OpenSSH looks a server up by: bare host on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  const lower = host.toLowerCase();
  return port === 22 ? lower : `[${lower}]:${port}`;
}

/** The key type embedded at the start of a key blob; used to drop lines whose declared type lies about the key. */
function blobKeyType(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const length = blob.readUInt32BE(0);
  if (length === 0 || 4 + length > blob.length) return undefined;
  return blob.subarray(4, 4 + length).toString('latin1');
}

/** Parses known_hosts text; malformed lines are skipped (as OpenSSH does) rather than failing every connection. */
export function parseKnownHosts(text: string): KnownHostsEntry[] {
  const entries: KnownHostsEntry[] = [];
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let marker: KnownHostsEntry['marker'];
    if (fields[0].startsWith('@')) {
      const name = fields.shift();
      if (name === '@revoked') marker = 'revoked';
      else if (name === '@cert-authority') marker = 'cert-authority';
      else continue;
    }
    if (fields.length < 3) continue;
    const [hosts, keyType, keyBase64] = fields;
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(keyBase64)) continue;
    const key = Buffer.from(keyBase64, 'base64');
    if (blobKeyType(key) !== keyType) continue;
    entries.push({ marker, hosts, keyType, key });
  }
  return entries;
}

/** OpenSSH wildcard matching: `*` is any run of characters, `?` exactly one; nothing else is special. */
function globMatches(pattern: string, name: string): boolean {
  const regex = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${regex}$`, 's').test(name);
}

function hashedNameMatches(field: string, name: string): boolean {
  // |1|<base64 salt>|<base64 HMAC-SHA1(salt, name)>
  const parts = field.split('|');
  if (parts.length !== 4 || parts[0] !== '' || parts[1] !== '1') return false;
  const salt = Buffer.from(parts[2], 'base64');
  const expected = Buffer.from(parts[3], 'base64');
  const actual = createHmac('sha1', salt).update(name).digest();
  return expected.length === actual.length && expected.equals(actual);
}

/**
 * Whether a known_hosts host field applies to `name` (from `knownHostsName`). As in OpenSSH, a matching negated
 * pattern (`!pattern`) vetoes the line even when another pattern on it matches.
 */
export function hostFieldMatches(field: string, name: string): boolean {
  if (field.startsWith('|')) return hashedNameMatches(field, name);
  let matched = false;
  for (const rawPattern of field.split(',')) {
    const negated = rawPattern.startsWith('!');
    const pattern = (negated ? rawPattern.slice(1) : rawPattern).toLowerCase();
    if (pattern === '' || !globMatches(pattern, name)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

/** A pin in the form `ssh-keygen -lf` prints; trailing base64 padding is tolerated because some tools keep it. */
function normalizePin(pin: string): string {
  const trimmed = pin.trim();
  if (!/^SHA256:[A-Za-z0-9+/]{43}=?$/.test(trimmed)) {
    throw new TypeError(`Pinned host key fingerprint must look like SHA256:<43 base64 characters> (as printed by ssh-keygen -lf)`);
  }
  return trimmed.replace(/=+$/, '');
}

function readKnownHosts(file: string): KnownHostsEntry[] {
  try {
    return parseKnownHosts(readFileSync(file, 'utf8'));
  } catch {
    // An unreadable file trusts nothing; the resulting rejection names the fingerprint so an operator can fix it.
    return [];
  }
}

/**
 * Host-key algorithms (as negotiated in SSH) for which known_hosts holds a trusted key for this server. A client
 * should prefer these: otherwise a server with several host keys may present one we have no record of and be
 * rejected although we do trust one of its keys. Empty when only a pin is configured (its key type is unknown).
 */
export function knownHostKeyAlgorithms(options: HostKeyVerifierOptions): string[] {
  if (options.knownHostsFile === undefined) return [];
  const name = knownHostsName(options.host, options.port);
  const algorithms: string[] = [];
  for (const entry of readKnownHosts(options.knownHostsFile)) {
    if (entry.marker !== undefined || !hostFieldMatches(entry.hosts, name)) continue;
    // An RSA key can sign with any of these; the SHA-2 variants are preferred because servers refuse plain ssh-rsa.
    const forType = entry.keyType === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [entry.keyType];
    for (const algorithm of forType) if (!algorithms.includes(algorithm)) algorithms.push(algorithm);
  }
  return algorithms;
}

/**
 * Returns a synchronous verifier for ssh2's `hostVerifier` (which passes the raw key blob). A key is accepted when
 * it matches the pin or a known_hosts line for this host and port, and is not listed as `@revoked` anywhere in the
 * file. `@cert-authority` lines never vouch for a key: ssh2 does not verify host certificates.
 * Throws when neither trust source is configured, since such a verifier could only ever refuse.
 */
export function createHostKeyVerifier(options: HostKeyVerifierOptions): (key: Buffer) => boolean {
  const pin = options.pinnedFingerprint === undefined ? undefined : normalizePin(options.pinnedFingerprint);
  const knownHostsFile = options.knownHostsFile;
  if (pin === undefined && knownHostsFile === undefined) {
    throw new TypeError('Host key verification needs a known_hosts file or a pinned fingerprint; unknown hosts are never trusted');
  }
  const name = knownHostsName(options.host, options.port);

  return (key: Buffer): boolean => {
    const entries = knownHostsFile === undefined ? [] : readKnownHosts(knownHostsFile);
    // Revocation is checked regardless of host pattern: a key declared compromised is compromised for every name.
    if (entries.some((entry) => entry.marker === 'revoked' && entry.key.equals(key))) return false;
    if (pin !== undefined && fingerprintOf(key) === pin) return true;
    return entries.some((entry) => entry.marker === undefined && hostFieldMatches(entry.hosts, name) && entry.key.equals(key));
  };
}
