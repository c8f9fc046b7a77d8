/**
 * A few persistent SSH connections to one server, each with one SFTP session, shared by many concurrent transfers.
 * Connection setup (not bytes) dominates small-file delivery, and several files in flight per connection roughly
 * double throughput, so connections are kept open and multiplexed rather than opened per file or leased exclusively.
 */
import { setMaxListeners } from 'node:events';
import { readFile } from 'node:fs/promises';
import { Client, ClientChannel, ConnectConfig, ServerHostKeyAlgorithm, SFTPWrapper } from 'ssh2';
import { HostKeyRejectedError, SshAuthenticationError } from './errors';
import { createHostKeyVerifier, fingerprintOf, knownHostKeyAlgorithms } from './known-hosts';

export interface SshConnectionOptions {
  host: string;
  /** Default 22. */
  port?: number;
  username: string;
  /** Path to the private key; read at each connect so a replaced key file is picked up. Its contents are never logged. */
  privateKeyFile: string;
  passphrase?: string;
  /**
   * A file holding the passphrase instead (its content up to the first line break), read at each connect like the key
   * so a rotated key and passphrase are picked up together. Never logged.
   */
  passphraseFile?: string;
  knownHostsFile?: string;
  pinnedFingerprint?: string;
  /** How long the TCP connect, key exchange and authentication may take. Default 20 s. */
  readyTimeoutMs?: number;
  /** SSH keepalive so a silently dead idle connection is noticed and replaced. Default 15 s; 0 disables. */
  keepaliveIntervalMs?: number;
}

export interface SshConnectionPoolOptions extends SshConnectionOptions {
  /** Number of SSH connections. Default 2. */
  size?: number;
  /**
   * Callers sharing one connection at a time. Default 4. Bounded because each caller may open an exec channel next to
   * the SFTP channel, and OpenSSH refuses more than `MaxSessions` (default 10) channels per connection.
   */
  maxUsersPerConnection?: number;
}

export interface ExecResult {
  /** Null when the remote process was killed by a signal or the server sent no exit status. */
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Default 10 minutes: long enough to hash a large file on a slow disk. */
  timeoutMs?: number;
}

/** One caller's share of a pooled connection. */
export interface SshSession {
  readonly sftp: SFTPWrapper;
  /**
   * Aborted when the connection is lost or the pool closes. ssh2 leaves some SFTP callbacks (notably `fastPut`'s)
   * uncalled when the connection drops mid-operation, so callers must race their SFTP calls against this signal
   * (see `sftpCall`) or they can wait forever.
   */
  readonly signal: AbortSignal;
  exec(command: string, options?: ExecOptions): Promise<ExecResult>;
}

export interface SshLease extends SshSession {
  /** Returns the share to the pool; safe to call more than once. */
  release(): void;
}

/** Output beyond this is dropped: commands we run print a line, and a runaway one must not exhaust memory. */
const MAX_CAPTURED_OUTPUT = 1024 * 1024;

/**
 * Runs one callback-style SFTP call as a promise that also rejects when `signal` aborts, because ssh2 does not
 * always call back once the connection is gone.
 */
export function sftpCall<T>(signal: AbortSignal, run: (callback: (err: Error | undefined | null, value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      run((err, value) => {
        signal.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(value);
      });
    } catch (err) {
      // ssh2 throws synchronously in some states (e.g. a closed channel).
      signal.removeEventListener('abort', onAbort);
      reject(err);
    }
  });
}

class PooledConnection {
  private readonly lifetime = new AbortController();

  constructor(
    readonly client: Client,
    readonly sftp: SFTPWrapper,
    private readonly description: string,
  ) {
    // Every in-flight SFTP request listens on this signal; hundreds at once are normal, not a leak.
    setMaxListeners(0, this.lifetime.signal);
  }

  get alive(): boolean {
    return !this.lifetime.signal.aborted;
  }

  get signal(): AbortSignal {
    return this.lifetime.signal;
  }

  /** Marks the connection unusable and fails every operation still waiting on it. */
  kill(why: string): void {
    if (!this.alive) return;
    this.lifetime.abort(new Error(`SSH connection to ${this.description} ${why}`));
  }

  exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    const timeoutMs = options.timeoutMs ?? 10 * 60_000;
    return new Promise<ExecResult>((resolve, reject) => {
      if (!this.alive) {
        reject(this.signal.reason);
        return;
      }
      const onAbort = (): void => reject(this.signal.reason);
      this.signal.addEventListener('abort', onAbort, { once: true });
      const onChannel = (err: Error | undefined, channel: ClientChannel): void => {
        if (err) {
          this.signal.removeEventListener('abort', onAbort);
          reject(err);
          return;
        }
        const stdout: Buffer[] = [];
        const stderr: Buffer[] = [];
        let captured = 0;
        const capture = (into: Buffer[]) => (chunk: Buffer) => {
          if (captured >= MAX_CAPTURED_OUTPUT) return;
          const part = chunk.subarray(0, MAX_CAPTURED_OUTPUT - captured);
          captured += part.length;
          into.push(part);
        };
        let exitCode: number | null = null;
        let exitSignal: string | null = null;
        const timer = setTimeout(() => {
          this.signal.removeEventListener('abort', onAbort);
          channel.close();
          reject(new Error(`Remote command timed out after ${timeoutMs} ms`));
        }, timeoutMs);
        channel.on('data', capture(stdout));
        channel.stderr.on('data', capture(stderr));
        channel.on('exit', (code: number | null, sig?: string) => {
          exitCode = code;
          exitSignal = sig ?? null;
        });
        // No input is ever sent; EOF keeps a command that reads stdin (or a forced internal-sftp) from waiting forever.
        channel.end();
        channel.once('close', () => {
          clearTimeout(timer);
          this.signal.removeEventListener('abort', onAbort);
          resolve({ exitCode, signal: exitSignal, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8') });
        });
      };
      try {
        this.client.exec(command, onChannel);
      } catch (err) {
        // ssh2 throws synchronously when the connection is already gone.
        this.signal.removeEventListener('abort', onAbort);
        reject(err);
      }
    });
  }
}

interface Slot {
  connection: PooledConnection | undefined;
  connecting: Promise<PooledConnection> | undefined;
  /** Callers holding or waiting for this slot's connection; counted from acquire so load spreads during connects. */
  users: number;
}

export class SshConnectionPool {
  /** Secret-free `user@host:port` for messages. */
  readonly description: string;
  private readonly host: string;
  private readonly port: number;
  private readonly maxUsersPerConnection: number;
  private readonly verifyHostKey: (key: Buffer) => boolean;
  private readonly slots: Slot[];
  private readonly waiters: Array<() => void> = [];
  private closed = false;

  constructor(private readonly options: SshConnectionPoolOptions) {
    this.host = options.host;
    this.port = options.port ?? 22;
    const size = options.size ?? 2;
    this.maxUsersPerConnection = options.maxUsersPerConnection ?? 4;
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`SSH pool size must be a positive integer, got ${size}`);
    if (!Number.isInteger(this.maxUsersPerConnection) || this.maxUsersPerConnection < 1) {
      throw new RangeError(`maxUsersPerConnection must be a positive integer, got ${this.maxUsersPerConnection}`);
    }
    // Created now so a configuration without any trust source fails at startup, not at the first delivery.
    this.verifyHostKey = createHostKeyVerifier({
      host: this.host,
      port: this.port,
      knownHostsFile: options.knownHostsFile,
      pinnedFingerprint: options.pinnedFingerprint,
    });
    this.slots = Array.from({ length: size }, () => ({ connection: undefined, connecting: undefined, users: 0 }));
    const hostForUrl = this.host.includes(':') ? `[${this.host}]` : this.host;
    this.description = `${options.username}@${hostForUrl}:${this.port}`;
  }

  /** How many connections are currently open (for tests and diagnostics). */
  get openConnections(): number {
    return this.slots.filter((slot) => slot.connection?.alive === true).length;
  }

  /**
   * A share of a connection, connecting lazily. Waits when every connection already has `maxUsersPerConnection`
   * callers. Rejects with `HostKeyRejectedError` or `SshAuthenticationError` when the server cannot be trusted or
   * refuses us.
   */
  async acquire(): Promise<SshLease> {
    for (;;) {
      if (this.closed) throw new Error(`SSH connection pool for ${this.description} is closed`);
      const slot = this.pickSlot();
      if (slot === undefined) {
        await new Promise<void>((resolve) => this.waiters.push(resolve));
        continue;
      }
      slot.users += 1;
      let connection: PooledConnection;
      try {
        connection = await this.connectionFor(slot);
        if (this.closed) throw new Error(`SSH connection pool for ${this.description} is closed`);
      } catch (err) {
        this.releaseSlot(slot);
        throw err;
      }
      let released = false;
      return {
        sftp: connection.sftp,
        signal: connection.signal,
        exec: (command, options) => connection.exec(command, options),
        release: () => {
          if (released) return;
          released = true;
          this.releaseSlot(slot);
        },
      };
    }
  }

  async withSession<T>(fn: (session: SshSession) => Promise<T>): Promise<T> {
    const lease = await this.acquire();
    try {
      return await fn(lease);
    } finally {
      lease.release();
    }
  }

  withSftp<T>(fn: (sftp: SFTPWrapper) => Promise<T>): Promise<T> {
    return this.withSession((session) => fn(session.sftp));
  }

  exec(command: string, options?: ExecOptions): Promise<ExecResult> {
    return this.withSession((session) => session.exec(command, options));
  }

  /** Ends every connection; callers still waiting for a share are rejected. */
  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.waiters.splice(0)) wake();
    await Promise.all(
      this.slots.map(async (slot) => {
        const connection = slot.connection ?? (await slot.connecting?.catch(() => undefined));
        slot.connection = undefined;
        if (connection) await endConnection(connection);
      }),
    );
  }

  /** The least-busy slot with room; among equals, one already connected, so extra connections open only when needed. */
  private pickSlot(): Slot | undefined {
    let best: Slot | undefined;
    for (const slot of this.slots) {
      if (slot.users >= this.maxUsersPerConnection) continue;
      if (best === undefined || slot.users < best.users) {
        best = slot;
      } else if (slot.users === best.users && slot.connection?.alive && !best.connection?.alive) {
        best = slot;
      }
    }
    return best;
  }

  private releaseSlot(slot: Slot): void {
    slot.users -= 1;
    this.waiters.shift()?.();
  }

  private connectionFor(slot: Slot): Promise<PooledConnection> {
    if (slot.connection?.alive) return Promise.resolve(slot.connection);
    slot.connection = undefined;
    if (slot.connecting === undefined) {
      slot.connecting = this.connect((dead) => {
        // Replace on next use rather than reconnecting eagerly: an idle pool should not keep hammering a down server.
        if (slot.connection === dead) slot.connection = undefined;
      })
        .then((connection) => {
          slot.connection = connection;
          return connection;
        })
        .finally(() => {
          slot.connecting = undefined;
        });
    }
    return slot.connecting;
  }

  private async connect(onDead: (connection: PooledConnection) => void): Promise<PooledConnection> {
    const privateKey = await readFile(this.options.privateKeyFile).catch((err: NodeJS.ErrnoException) => {
      throw new Error(`Cannot read SSH private key file ${this.options.privateKeyFile} (${err.code ?? err.message})`);
    });
    const passphrase = this.options.passphraseFile ? await readPassphrase(this.options.passphraseFile) : this.options.passphrase;
    let rejectedFingerprint: string | undefined;
    const preferredHostKeys = knownHostKeyAlgorithms({
      host: this.host,
      port: this.port,
      knownHostsFile: this.options.knownHostsFile,
    }).filter(isSupportedHostKeyAlgorithm);
    const config: ConnectConfig = {
      host: this.host,
      port: this.port,
      username: this.options.username,
      privateKey,
      passphrase,
      readyTimeout: this.options.readyTimeoutMs ?? 20_000,
      keepaliveInterval: this.options.keepaliveIntervalMs ?? 15_000,
      keepaliveCountMax: 3,
      hostVerifier: (key: Buffer) => {
        const trusted = this.verifyHostKey(key);
        if (!trusted) rejectedFingerprint = fingerprintOf(key);
        return trusted;
      },
      // Without this ssh2 could negotiate a host key type we hold no record of and reject a server we do trust.
      // (An exact list, because ssh2's `prepend` does not move algorithms that are already in its default list.)
      ...(preferredHostKeys.length > 0
        ? {
            algorithms: {
              serverHostKey: [...preferredHostKeys, ...SUPPORTED_HOST_KEY_ALGORITHMS.filter((a) => !preferredHostKeys.includes(a))],
            },
          }
        : {}),
    };

    return new Promise<PooledConnection>((resolve, reject) => {
      const client = new Client();
      let settled = false;
      let connection: PooledConnection | undefined;
      const fail = (err: Error): void => {
        if (settled) return;
        settled = true;
        client.end();
        reject(err);
      };
      const markDead = (why: string): void => {
        if (connection === undefined || !connection.alive) return;
        connection.kill(why);
        onDead(connection);
        client.end();
      };

      // Errors after `ready` arrive here too and must be handled, or Node would crash on an unhandled 'error' event.
      client.on('error', (err: Error & { level?: string }) => {
        if (settled) {
          markDead(`failed: ${err.message}`);
          return;
        }
        fail(this.describeConnectError(err, rejectedFingerprint));
      });
      client.on('close', () => {
        markDead('was closed');
        fail(
          rejectedFingerprint === undefined
            ? new Error(`SSH connection to ${this.description} closed before it was ready`)
            : new HostKeyRejectedError(this.hostLabel(), rejectedFingerprint),
        );
      });
      client.once('ready', () => {
        client.sftp((err, sftp) => {
          if (err) {
            fail(new Error(`SSH server ${this.description} refused an SFTP session: ${err.message}`, { cause: err }));
            return;
          }
          connection = new PooledConnection(client, sftp, this.description);
          sftp.on('close', () => markDead('lost its SFTP session'));
          sftp.on('error', (sftpError: Error) => markDead(`lost its SFTP session: ${sftpError.message}`));
          settled = true;
          resolve(connection);
        });
      });

      try {
        client.connect(config);
      } catch (err) {
        // ssh2 throws synchronously for an unparsable key or a wrong passphrase; its message never contains key material.
        fail(new Error(`Cannot use SSH private key ${this.options.privateKeyFile}: ${(err as Error).message}`));
      }
    });
  }

  private hostLabel(): string {
    return this.port === 22 ? this.host : `${this.host}:${this.port}`;
  }

  private describeConnectError(err: Error & { level?: string }, rejectedFingerprint: string | undefined): Error {
    if (rejectedFingerprint !== undefined) return new HostKeyRejectedError(this.hostLabel(), rejectedFingerprint);
    if (err.level === 'client-authentication') return new SshAuthenticationError(this.hostLabel(), this.options.username);
    if (err.level === 'client-timeout') {
      return new Error(`SSH connection to ${this.description} timed out before it was ready`, { cause: err });
    }
    return new Error(`SSH connection to ${this.description} failed: ${err.message}`, { cause: err });
  }
}

/**
 * ssh2's default host key algorithms in its order. Anything else in known_hosts (e.g. security-key types) would make
 * ssh2 throw, and plain DSA is deliberately left out as OpenSSH itself dropped it.
 */
const SUPPORTED_HOST_KEY_ALGORITHMS: readonly ServerHostKeyAlgorithm[] = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];

function isSupportedHostKeyAlgorithm(algorithm: string): algorithm is ServerHostKeyAlgorithm {
  return (SUPPORTED_HOST_KEY_ALGORITHMS as readonly string[]).includes(algorithm);
}

function endConnection(connection: PooledConnection): Promise<void> {
  return new Promise<void>((resolve) => {
    connection.kill('was closed by the pool');
    const timer = setTimeout(() => {
      // A server that never acknowledges the disconnect must not hang shutdown.
      connection.client.destroy();
      resolve();
    }, 2_000);
    connection.client.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    connection.client.end();
  });
}

/** The first line of a passphrase file (editors and `echo` add a line break that is not part of the passphrase). */
async function readPassphrase(file: string): Promise<string> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new Error(`Cannot read SSH key passphrase file ${file} (${err.code ?? err.message})`);
  });
  return text.split(/\r?\n/, 1)[0]!;
}
