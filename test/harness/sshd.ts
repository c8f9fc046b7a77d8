/**
 * A private OpenSSH sshd on loopback for integration tests: its own host key, client key, config, known_hosts and
 * delivery root, all in one temp dir, so tests exercise the real SSH/SFTP stack without touching the system sshd.
 */
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, Socket } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

const SSHD = '/usr/sbin/sshd';
const HOST = '127.0.0.1';

export interface KeyPair {
  privateKeyFile: string;
  publicKeyFile: string;
  /** The `.pub` line, e.g. `ssh-ed25519 AAAA... comment`. */
  publicKeyLine: string;
  /** As `ssh-keygen -lf` prints it: `SHA256:<base64 without padding>`. */
  fingerprint: string;
}

export interface SshdHandle {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly privateKeyFile: string;
  /** A known_hosts file trusting the host key the server had at start (not updated by `rotateHostKey`). */
  readonly knownHostsFile: string;
  /** The server's authorized_keys; tests may append keys to it (sshd re-reads it at every login). */
  readonly authorizedKeysFile: string;
  /** Fingerprint of the host key the server currently presents. */
  readonly hostKeyFingerprint: string;
  /** An empty directory on the "server" that tests deliver into. */
  readonly remoteRoot: string;
  /** Scratch space for test-local files (local sources, extra keys). */
  readonly workDir: string;
  readonly logFile: string;
  /** Gives the server a new host key and restarts it on the same port; returns the new fingerprint. */
  rotateHostKey(): Promise<string>;
  /** Stops the server and drops every open session, as a crash or reboot of server B would. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same keys. */
  start(): Promise<void>;
  cleanup(): Promise<void>;
}

/** Generates an unencrypted ed25519 key pair (or an encrypted one when `passphrase` is given). */
export async function generateKeyPair(dir: string, name: string, passphrase = ''): Promise<KeyPair> {
  const privateKeyFile = join(dir, name);
  await rm(privateKeyFile, { force: true });
  await rm(`${privateKeyFile}.pub`, { force: true });
  await execFileAsync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', name, '-f', privateKeyFile]);
  const publicKeyLine = (await readFile(`${privateKeyFile}.pub`, 'utf8')).trim();
  return { privateKeyFile, publicKeyFile: `${privateKeyFile}.pub`, publicKeyLine, fingerprint: await fingerprintOfFile(`${privateKeyFile}.pub`) };
}

/** The fingerprint as OpenSSH computes it, so tests compare our implementation against the reference one. */
export async function fingerprintOfFile(publicKeyFile: string): Promise<string> {
  const { stdout } = await execFileAsync('ssh-keygen', ['-l', '-E', 'sha256', '-f', publicKeyFile]);
  const match = /\b(SHA256:[A-Za-z0-9+/]+)/.exec(stdout);
  if (!match) throw new Error(`Unexpected ssh-keygen -l output for ${publicKeyFile}`);
  return match[1];
}

export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function sha256OfBuffer(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Lists a remote (here: local) directory tree as sorted relative paths, to assert exactly what landed. */
export async function listTree(root: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(dir: string, prefix: string): Promise<void> {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(join(dir, entry.name), rel);
      else out.push(rel);
    }
  }
  await walk(root, '');
  return out.sort();
}

async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('Could not determine a free port'));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}

/** Resolves once something on the port answers with an SSH identification line, i.e. sshd is really serving. */
async function readBanner(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ host: HOST, port });
    let data = '';
    const timer = setTimeout(() => finish(new Error('no banner within 2 s')), 2000);
    function finish(err: Error | null, banner?: string): void {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(banner ?? '');
    }
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      data += chunk;
      const newline = data.indexOf('\n');
      if (newline >= 0) {
        const line = data.slice(0, newline).trim();
        if (line.startsWith('SSH-2.0-')) finish(null, line);
        else finish(new Error(`unexpected banner ${JSON.stringify(line)}`));
      }
    });
    socket.once('error', (err) => finish(err));
    socket.once('close', () => finish(new Error('closed before banner')));
  });
}

/** Every descendant of `pid` (per-connection sshd processes and their sessions), found through /proc. */
async function descendantsOf(pid: number): Promise<number[]> {
  const parentOf = new Map<number, number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      // The command name is in parentheses and may contain spaces; the ppid is the 2nd field after it.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parentOf.set(Number(entry), Number(fields[1]));
    } catch {
      // The process exited while we were looking.
    }
  }
  const result: number[] = [];
  const frontier = [pid];
  while (frontier.length > 0) {
    const parent = frontier.pop() as number;
    for (const [child, ppid] of parentOf) {
      if (ppid === parent) {
        result.push(child);
        frontier.push(child);
      }
    }
  }
  return result;
}

function sshdConfig(dir: string, port: number, hostKeyFile: string, authorizedKeysFile: string): string {
  return [
    `Port ${port}`,
    `ListenAddress ${HOST}`,
    `HostKey ${hostKeyFile}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${authorizedKeysFile}`,
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'StrictModes no',
    'Subsystem sftp internal-sftp',
    'LogLevel VERBOSE',
    '',
  ].join('\n');
}

export async function startSshd(): Promise<SshdHandle> {
  const dir = await mkdtemp(join(tmpdir(), 'sshd-harness-'));
  const workDir = join(dir, 'work');
  const remoteRoot = join(dir, 'remote-root');
  await mkdir(workDir);
  await mkdir(remoteRoot);
  // Privilege separation needs this directory; as non-root it cannot be created, and sshd then runs unprivileged anyway.
  await mkdir('/run/sshd', { recursive: true }).catch(() => undefined);

  const port = await freeLoopbackPort();
  let hostKey = await generateKeyPair(dir, 'ssh_host_ed25519_key');
  const client = await generateKeyPair(dir, 'client_ed25519');
  const authorizedKeysFile = join(dir, 'authorized_keys');
  await writeFile(authorizedKeysFile, `${client.publicKeyLine}\n`, { mode: 0o600 });
  const configFile = join(dir, 'sshd_config');
  await writeFile(configFile, sshdConfig(dir, port, hostKey.privateKeyFile, authorizedKeysFile));
  const knownHostsFile = join(dir, 'known_hosts');
  const [keyType, keyBase64] = hostKey.publicKeyLine.split(' ');
  await writeFile(knownHostsFile, `[${HOST}]:${port} ${keyType} ${keyBase64}\n`);
  const logFile = join(dir, 'sshd.log');

  let child: ChildProcess | undefined;

  async function start(): Promise<void> {
    if (child) throw new Error('sshd is already running');
    const proc = spawn(SSHD, ['-D', '-f', configFile, '-E', logFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    let exited = false;
    proc.once('exit', () => (exited = true));
    child = proc;
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (exited) {
        child = undefined;
        const log = await readFile(logFile, 'utf8').catch(() => '');
        throw new Error(`sshd exited during start: ${stderr}\n${log.split('\n').slice(-20).join('\n')}`);
      }
      try {
        await readBanner(port);
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`sshd did not come up on port ${port}: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  async function stop(): Promise<void> {
    const proc = child;
    if (!proc || proc.pid === undefined) return;
    child = undefined;
    // sshd -D does not take its per-connection children down with it; a server crash would, so we do.
    const victims = await descendantsOf(proc.pid);
    const exited = new Promise<void>((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) resolve();
      else proc.once('exit', () => resolve());
    });
    proc.kill('SIGTERM');
    for (const pid of victims) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // Already gone.
      }
    }
    await exited;
  }

  await start();

  const handle: SshdHandle = {
    host: HOST,
    port,
    username: userInfo().username,
    privateKeyFile: client.privateKeyFile,
    knownHostsFile,
    authorizedKeysFile,
    get hostKeyFingerprint() {
      return hostKey.fingerprint;
    },
    remoteRoot,
    workDir,
    logFile,
    async rotateHostKey() {
      await stop();
      hostKey = await generateKeyPair(dir, 'ssh_host_ed25519_key');
      await start();
      return hostKey.fingerprint;
    },
    stop,
    start,
    async cleanup() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return handle;
}
