/**
 * Delivers files into a folder tree on server B over SFTP: upload under a temporary name, prove the remote bytes
 * match, then give the file its final name with a rename that never replaces an existing file. A clinic therefore
 * only ever sees complete, verified files, and never loses one of its files to a name clash.
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { Stats, TransferOptions } from 'ssh2';
import { conflictNameFor, DeliveryRequest, DeliveryResult, Destination, temporaryNameFor, withdrawnPathFor, type WithdrawRequest, type WithdrawResult } from './destination';
import { VerificationFailedError } from './errors';
import { ExecResult, sftpCall, SshConnectionPool, type SshConnectionOptions, SshSession } from './ssh-connection-pool';

export interface SftpDestinationOptions extends SshConnectionOptions {
  /** Remote root directory; must already exist (a missing root is a configuration error, not something to create). */
  basePath: string;
  /** SSH connections kept open. Default 2. */
  poolSize?: number;
  /** Deliveries sharing one connection at a time. Default 4. */
  maxDeliveriesPerConnection?: number;
  /**
   * Hash remotely with `sha256sum` over exec (fast for large files); otherwise read the file back over SFTP. Default
   * true. Files up to `readBackUpToBytes` are read back either way.
   */
  useRemoteSha256sum?: boolean;
  /**
   * Files up to this size are verified by reading them back over the SFTP channel that wrote them, which costs server
   * B less than starting `sha256sum` (a shell and a process per file) and proves the same: the SHA-256 of the bytes
   * server B holds. They are also uploaded without first looking for their final name: the rename that never replaces
   * finds a name clash, and only then are the names looked at. Default SMALL_FILE_BYTES.
   */
  readBackUpToBytes?: number;
  /** fastPut requests in flight per file. Default 64; low values are catastrophically slow (1 gives ~1 MB/s). */
  uploadConcurrency?: number;
}

/** SFTP status codes (draft-ietf-secsh-filexfer-02), as ssh2 puts them on `err.code`. */
const SFTP_NO_SUCH_FILE = 2;

/** Result PDFs are about 100 KB; 1 MiB keeps a read-back cheaper than a remote process (measured in bench/). */
export const SMALL_FILE_BYTES = 1024 * 1024;

/** How often the final name may be taken from under us between deciding and renaming before we give up. */
const MAX_RENAME_ATTEMPTS = 5;

type VerifiedBy = DeliveryResult['verifiedBy'];

interface RemoteDigest {
  sha256: string;
  verifiedBy: VerifiedBy;
  /** How many bytes were read, when the file was read back. */
  bytes?: number;
}

type NameDecision =
  | { kind: 'free'; name: string; renamedBecauseOfConflict: boolean }
  | { kind: 'alreadyPresent'; name: string; renamedBecauseOfConflict: boolean; verifiedBy: VerifiedBy };

function isNoSuchFile(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === SFTP_NO_SUCH_FILE;
}

/** Promise wrappers over one session's SFTP channel that fail, rather than hang, when the connection drops. */
function remoteFs(session: SshSession) {
  const { sftp, signal } = session;
  const done = (cb: (err: Error | undefined | null, value: undefined) => void) => (err?: Error | null) => cb(err, undefined);
  return {
    stat: (path: string) => sftpCall<Stats>(signal, (cb) => sftp.stat(path, cb)),
    mkdir: (path: string) => sftpCall<undefined>(signal, (cb) => sftp.mkdir(path, done(cb))),
    rename: (from: string, to: string) => sftpCall<undefined>(signal, (cb) => sftp.rename(from, to, done(cb))),
    /** Best effort: a failure (e.g. the connection is gone) is ignored because a retry overwrites the same temp name. */
    unlinkQuietly: (path: string) => sftpCall<undefined>(signal, (cb) => sftp.unlink(path, done(cb))).catch(() => undefined),
    fastPut: (localPath: string, remotePath: string, options: TransferOptions) =>
      sftpCall<undefined>(signal, (cb) => sftp.fastPut(localPath, remotePath, options, done(cb))),
    openForReading: (path: string) => sftpCall<Buffer>(signal, (cb) => sftp.open(path, 'r', cb)),
    read: (handle: Buffer, position: number, length: number) =>
      sftpCall<Buffer>(signal, (cb) =>
        sftp.read(handle, Buffer.alloc(length), 0, length, position, (err, bytesRead, buffer) => cb(err, buffer?.subarray(0, bytesRead))),
      ),
    close: (handle: Buffer) => sftpCall<undefined>(signal, (cb) => sftp.close(handle, done(cb))),
  };
}

type RemoteFs = ReturnType<typeof remoteFs>;

async function statOrUndefined(fs: RemoteFs, path: string): Promise<Stats | undefined> {
  try {
    return await fs.stat(path);
  } catch (err) {
    if (isNoSuchFile(err)) return undefined;
    throw err;
  }
}

/** POSIX single-quoting: safe for any byte except NUL, which cannot occur in a path anyway. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Splits `folder` into safe path segments; `..` is refused so a request cannot escape the destination root. */
function folderSegments(folder: string): string[] {
  const segments = folder.split('/').filter((s) => s !== '' && s !== '.');
  for (const segment of segments) {
    if (segment === '..' || segment.includes('\0')) throw new Error(`Refusing unsafe delivery folder ${JSON.stringify(folder)}`);
  }
  return segments;
}

function assertSafeFileName(fileName: string): void {
  if (fileName === '' || fileName === '.' || fileName === '..' || fileName.includes('/') || fileName.includes('\0')) {
    throw new Error(`Refusing unsafe delivery file name ${JSON.stringify(fileName)}`);
  }
}

/** Reads a remote file with many requests in flight, because one-at-a-time SFTP reads are latency-bound. */
async function sha256OverSftp(fs: RemoteFs, path: string, size: number): Promise<{ sha256: string; bytes: number }> {
  const chunkSize = 64 * 1024;
  const depth = 16;
  const hash = createHash('sha256');
  let bytes = 0;
  const add = (data: Buffer): void => {
    hash.update(data);
    bytes += data.length;
  };
  const handle = await fs.openForReading(path);
  try {
    const readAt = (position: number, length: number): Promise<Buffer> => fs.read(handle, position, length);
    const inFlight: Array<{ position: number; length: number; data: Promise<Buffer> }> = [];
    let next = 0;
    const fill = (): void => {
      while (inFlight.length < depth && next < size) {
        const length = Math.min(chunkSize, size - next);
        const data = readAt(next, length);
        // Marked handled now: if an earlier chunk fails we stop awaiting these, and their rejections must not crash us.
        data.catch(() => undefined);
        inFlight.push({ position: next, length, data });
        next += length;
      }
    };
    fill();
    while (inFlight.length > 0) {
      const head = inFlight.shift() as { position: number; length: number; data: Promise<Buffer> };
      let data = await head.data;
      let position = head.position + data.length;
      add(data);
      // Servers may return short reads; finish this chunk before hashing later ones so bytes stay in order.
      while (data.length > 0 && position < head.position + head.length) {
        data = await readAt(position, head.position + head.length - position);
        add(data);
        position += data.length;
      }
      if (data.length === 0 && position < head.position + head.length) break; // shrank under us; the hash will differ
      fill();
    }
    // Drain stragglers so their callbacks do not outlive the handle.
    await Promise.allSettled(inFlight.map((r) => r.data));
    // Anything past the stat'd size is part of the file too.
    for (let position = size; ; ) {
      const extra = await readAt(position, chunkSize);
      if (extra.length === 0) break;
      add(extra);
      position += extra.length;
    }
  } finally {
    await fs.close(handle).catch(() => undefined);
  }
  return { sha256: hash.digest('hex'), bytes };
}

export class SftpDestination implements Destination {
  readonly description: string;
  private readonly pool: SshConnectionPool;
  private readonly basePath: string;
  private readonly uploadConcurrency: number;
  private useRemoteSha256sum: boolean;
  private readonly readBackUpToBytes: number;
  /**
   * Clinic folders this process has found or made on server B, so that a delivery does not look for its folder every
   * time. A delivery that fails forgets its folder: the next attempt looks again (someone may have removed it).
   */
  private readonly knownFolders = new Set<string>();
  /** Deliveries of the same content under the same name share a temp file, so they take turns. */
  private readonly inProgress = new Map<string, Promise<unknown>>();

  constructor(options: SftpDestinationOptions) {
    const port = options.port ?? 22;
    // Normalized without a trailing slash so joined paths and the description read cleanly.
    const normalized = posix.normalize(options.basePath === '' ? '.' : options.basePath);
    this.basePath = normalized.length > 1 ? normalized.replace(/\/+$/, '') : normalized;
    this.useRemoteSha256sum = options.useRemoteSha256sum ?? true;
    this.readBackUpToBytes = options.readBackUpToBytes ?? SMALL_FILE_BYTES;
    this.uploadConcurrency = options.uploadConcurrency ?? 64;
    this.pool = new SshConnectionPool({
      host: options.host,
      port,
      username: options.username,
      privateKeyFile: options.privateKeyFile,
      passphrase: options.passphrase,
      passphraseFile: options.passphraseFile,
      knownHostsFile: options.knownHostsFile,
      pinnedFingerprint: options.pinnedFingerprint,
      readyTimeoutMs: options.readyTimeoutMs,
      keepaliveIntervalMs: options.keepaliveIntervalMs,
      size: options.poolSize ?? 2,
      maxUsersPerConnection: options.maxDeliveriesPerConnection ?? 4,
    });
    const hostForUrl = options.host.includes(':') ? `[${options.host}]` : options.host;
    const pathForUrl = this.basePath.startsWith('/') ? this.basePath : `/~/${this.basePath}`;
    this.description = `sftp://${options.username}@${hostForUrl}:${port}${pathForUrl}`;
  }

  async deliver(request: DeliveryRequest): Promise<DeliveryResult> {
    assertSafeFileName(request.fileName);
    const segments = folderSegments(request.folder);
    const sha256 = request.sha256.toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error('DeliveryRequest.sha256 must be 64 hex characters');
    const key = `${segments.join('/')}\0${request.fileName}\0${sha256}`;

    const previous = this.inProgress.get(key) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(() => this.pool.withSession((session) => this.deliverWith(session, request, segments, sha256)));
    this.inProgress.set(key, run);
    try {
      return await run;
    } finally {
      if (this.inProgress.get(key) === run) this.inProgress.delete(key);
    }
  }

  /**
   * Moves a delivered file out of its clinic folder into WITHDRAWN_FOLDER (same server, one SFTP rename: nothing is
   * copied or deleted), after checking that the file at that path is still ours by its SHA-256. A retry finds its
   * own earlier move.
   */
  async checkReachable(): Promise<void> {
    // A share of a pooled connection (a new one only when none is open), and one SFTP stat of the root.
    await this.pool.withSession((session) => remoteFs(session).stat(this.basePath));
  }

  async withdraw(request: WithdrawRequest): Promise<WithdrawResult> {
    const movedTo = withdrawnPathFor(request.remotePath, request.withdrawalId);
    const sourceSegments = folderSegments(request.remotePath);
    const targetSegments = folderSegments(movedTo);
    const source = posix.join(this.basePath, ...sourceSegments);
    const target = posix.join(this.basePath, ...targetSegments);
    return this.pool.withSession(async (session) => {
      const fs = remoteFs(session);
      const here = await statOrUndefined(fs, source);
      if (!here) return (await statOrUndefined(fs, target)) ? { outcome: 'alreadyMoved', movedTo } : { outcome: 'notThere' };
      if (!here.isFile() || here.size !== request.size || (await this.remoteSha256(session, fs, source, request.size)).sha256 !== request.sha256) {
        return { outcome: 'notOurs' };
      }
      await this.ensureFolder(fs, targetSegments.slice(0, -1));
      // Plain SFTP v3 rename never replaces an existing file.
      await fs.rename(source, target);
      return { outcome: 'moved', movedTo };
    });
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  private async deliverWith(session: SshSession, request: DeliveryRequest, segments: string[], sha256: string): Promise<DeliveryResult> {
    const folder = posix.join(this.basePath, ...segments);
    const known = this.knownFolders.has(folder);
    try {
      return await this.deliverInto(folder, session, request, segments, sha256);
    } catch (err) {
      this.knownFolders.delete(folder);
      // The folder we remembered is gone (someone removed it on server B): make it again and go on, rather than fail
      // this attempt and wait for the retry.
      if (known && isNoSuchFile(err)) return this.deliverInto(folder, session, request, segments, sha256);
      throw err;
    }
  }

  private async deliverInto(folder: string, session: SshSession, request: DeliveryRequest, segments: string[], sha256: string): Promise<DeliveryResult> {
    const fs = remoteFs(session);
    if (!this.knownFolders.has(folder)) {
      await this.ensureFolder(fs, segments);
      this.knownFolders.add(folder);
    }
    const relative = (name: string): string => [...segments, name].join('/');

    // A large file is worth a look first: a retry whose earlier attempt finished finds it there and sends nothing.
    let decision: NameDecision = { kind: 'free', name: request.fileName, renamedBecauseOfConflict: false };
    if (request.size > this.readBackUpToBytes) decision = await this.decideName(session, fs, folder, request.fileName, sha256, request.size);
    if (decision.kind === 'alreadyPresent') {
      return { remotePath: relative(decision.name), renamedBecauseOfConflict: decision.renamedBecauseOfConflict, alreadyPresent: true, verifiedBy: decision.verifiedBy };
    }

    const temporaryPath = posix.join(folder, temporaryNameFor(request.fileName, sha256));
    let verifiedBy: VerifiedBy;
    try {
      await fs.fastPut(request.localPath, temporaryPath, {
        concurrency: this.uploadConcurrency,
        step: (written) => request.onProgress?.(written),
      });
      verifiedBy = await this.verify(session, fs, temporaryPath, sha256, request.size);
    } catch (err) {
      await fs.unlinkQuietly(temporaryPath);
      throw err;
    }

    for (let attempt = 1; ; attempt += 1) {
      const finalPath = posix.join(folder, decision.name);
      try {
        // Plain SFTP v3 rename: OpenSSH's server links then unlinks, so it fails instead of replacing an existing file.
        await fs.rename(temporaryPath, finalPath);
        return { remotePath: relative(decision.name), renamedBecauseOfConflict: decision.renamedBecauseOfConflict, alreadyPresent: false, verifiedBy };
      } catch (renameError) {
        // Most likely someone else took the name since we decided; look again before concluding anything.
        const again = await this.decideName(session, fs, folder, request.fileName, sha256, request.size);
        const nameStillFree = again.kind === 'free' && again.name === decision.name;
        if (again.kind === 'alreadyPresent' || nameStillFree || attempt >= MAX_RENAME_ATTEMPTS) {
          await fs.unlinkQuietly(temporaryPath);
        }
        if (again.kind === 'alreadyPresent') {
          return { remotePath: relative(again.name), renamedBecauseOfConflict: again.renamedBecauseOfConflict, alreadyPresent: true, verifiedBy: again.verifiedBy };
        }
        if (nameStillFree || attempt >= MAX_RENAME_ATTEMPTS) {
          throw new Error(`Could not rename ${temporaryPath} to ${finalPath} on ${this.description}: ${(renameError as Error).message}`, {
            cause: renameError,
          });
        }
        decision = again;
      }
    }
  }

  /** mkdir -p below the root, tolerating directories created concurrently by other deliveries. */
  private async ensureFolder(fs: RemoteFs, segments: string[]): Promise<string> {
    const target = posix.join(this.basePath, ...segments);
    const existing = await statOrUndefined(fs, target);
    if (existing?.isDirectory()) return target;
    const root = await statOrUndefined(fs, this.basePath);
    if (!root?.isDirectory()) throw new Error(`The destination root ${this.basePath} does not exist on ${this.description}`);
    let path = this.basePath;
    for (const segment of segments) {
      path = posix.join(path, segment);
      try {
        await fs.mkdir(path);
      } catch (mkdirError) {
        // SFTP v3 reports "already exists" as a generic failure, so the only reliable check is to look.
        const stats = await statOrUndefined(fs, path);
        if (!stats?.isDirectory()) {
          throw new Error(`Cannot create folder ${path} on ${this.description}: ${(mkdirError as Error).message}`, { cause: mkdirError });
        }
      }
    }
    return target;
  }

  /**
   * The name our file should get: the requested one if free; "already there" if it holds identical content; else the
   * conflict name, under the same rules. Never a name holding different content.
   */
  private async decideName(
    session: SshSession,
    fs: RemoteFs,
    folder: string,
    fileName: string,
    sha256: string,
    size: number,
  ): Promise<NameDecision> {
    const candidates: Array<{ name: string; renamedBecauseOfConflict: boolean }> = [
      { name: fileName, renamedBecauseOfConflict: false },
      { name: conflictNameFor(fileName, sha256), renamedBecauseOfConflict: true },
    ];
    for (const candidate of candidates) {
      const path = posix.join(folder, candidate.name);
      const stats = await statOrUndefined(fs, path);
      if (stats === undefined) return { kind: 'free', ...candidate };
      if (stats.isFile() && stats.size === size) {
        const digest = await this.remoteSha256(session, fs, path, size);
        if (digest.sha256 === sha256) return { kind: 'alreadyPresent', ...candidate, verifiedBy: digest.verifiedBy };
      }
    }
    // Only reachable if someone put a different file under our content-derived conflict name.
    throw new Error(
      `Both ${fileName} and ${conflictNameFor(fileName, sha256)} already exist in ${folder} on ${this.description} with different ` +
        `content; refusing to overwrite either.`,
    );
  }

  /** On failure the caller removes the temp file. A file read back is counted as it is read; otherwise stat'd first. */
  private async verify(session: SshSession, fs: RemoteFs, path: string, sha256: string, size: number): Promise<VerifiedBy> {
    const readBack = !this.useRemoteSha256sum || size <= this.readBackUpToBytes;
    const stored = readBack ? undefined : (await fs.stat(path)).size;
    const digest = await this.remoteSha256(session, fs, path, size);
    const bytes = digest.bytes ?? stored;
    if (bytes !== undefined && bytes !== size) {
      throw new VerificationFailedError(`Uploaded ${path} on ${this.description} has ${bytes} bytes, expected ${size}; removing it.`);
    }
    if (digest.sha256 !== sha256) {
      throw new VerificationFailedError(
        `Uploaded ${path} on ${this.description} has SHA-256 ${digest.sha256}, expected ${sha256} (checked by ${digest.verifiedBy}); removing it.`,
      );
    }
    return digest.verifiedBy;
  }

  private async remoteSha256(session: SshSession, fs: RemoteFs, path: string, size: number): Promise<RemoteDigest> {
    if (this.useRemoteSha256sum && size > this.readBackUpToBytes) {
      const viaExec = await this.sha256sumOverExec(session, path);
      if (viaExec !== undefined) return { sha256: viaExec, verifiedBy: 'remote-sha256sum' };
    }
    return { ...(await sha256OverSftp(fs, path, size)), verifiedBy: 'read-back' };
  }

  /** The remote `sha256sum` of `path`, or undefined when the server cannot give one (we then read the file back). */
  private async sha256sumOverExec(session: SshSession, path: string): Promise<string | undefined> {
    let result: ExecResult;
    try {
      result = await session.exec(`sha256sum -- ${shellQuote(path)}`);
    } catch (err) {
      // The server refused to run commands for this account: that will not change, so stop asking.
      if (/Unable to exec/i.test((err as Error).message)) {
        this.useRemoteSha256sum = false;
        return undefined;
      }
      throw err;
    }
    // GNU prefixes the line with a backslash when it had to escape the file name.
    const match = /^\\?([0-9a-f]{64}) /.exec(result.stdout);
    if (result.exitCode === 0 && match) return match[1];
    // No such command, or success without a hash (a forced command such as internal-sftp ran instead): stop asking.
    // Other failures may be transient, so only this verification falls back.
    if (result.exitCode === 126 || result.exitCode === 127 || result.exitCode === 0) this.useRemoteSha256sum = false;
    return undefined;
  }
}
