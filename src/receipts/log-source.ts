import { open, stat } from 'node:fs/promises';
import type { SshConnectionPool } from '../transfer/ssh-connection-pool';
import { sftpCall } from '../transfer/ssh-connection-pool';

/** Reads an access log where it lives: on this machine, or on server B over SFTP (same host-key rules as transfer). */
export interface LogSource {
  /** Secret-free name, e.g. `sftp://host:22/var/log/apache2/access.log`; also keys the cursor. */
  readonly name: string;
  /** Size in bytes, or undefined when the file does not exist. */
  size(file: string): Promise<number | undefined>;
  /** Up to `length` bytes from `offset` (fewer at the end of the file). */
  read(file: string, offset: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

export class LocalLogSource implements LogSource {
  readonly name: string;

  constructor(readonly file: string) {
    this.name = `file://${file}`;
  }

  async size(file: string): Promise<number | undefined> {
    return stat(file).then(
      (s) => s.size,
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        throw err;
      },
    );
  }

  async read(file: string, offset: number, length: number): Promise<Buffer> {
    const handle = await open(file, 'r');
    try {
      const buffer = Buffer.allocUnsafe(length);
      let filled = 0;
      while (filled < length) {
        const { bytesRead } = await handle.read(buffer, filled, length - filled, offset + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return buffer.subarray(0, filled);
    } finally {
      await handle.close();
    }
  }

  async close(): Promise<void> {}
}

export class SftpLogSource implements LogSource {
  constructor(
    private readonly pool: SshConnectionPool,
    readonly name: string,
  ) {}

  async size(file: string): Promise<number | undefined> {
    return this.pool.withSession(async ({ sftp, signal }) => {
      try {
        const attrs = await sftpCall<{ size: number }>(signal, (cb) => sftp.stat(file, cb));
        return attrs.size;
      } catch (err) {
        if ((err as { code?: number }).code === 2) return undefined; // SSH_FX_NO_SUCH_FILE
        throw err;
      }
    });
  }

  async read(file: string, offset: number, length: number): Promise<Buffer> {
    return this.pool.withSession(async ({ sftp, signal }) => {
      const handle = await sftpCall<Buffer>(signal, (cb) => sftp.open(file, 'r', cb));
      try {
        const buffer = Buffer.allocUnsafe(length);
        let filled = 0;
        // SFTP servers cap one read (OpenSSH: 256 KiB); keep asking until the window is full or the file ends.
        while (filled < length) {
          const want = Math.min(length - filled, 256 * 1024);
          const bytesRead = await sftpCall<number>(signal, (cb) =>
            sftp.read(handle, buffer, filled, want, offset + filled, (err, n) => cb(err && (err as { code?: number }).code === 1 ? null : err, n ?? 0)),
          );
          if (!bytesRead) break;
          filled += bytesRead;
        }
        return buffer.subarray(0, filled);
      } finally {
        await sftpCall<void>(signal, (cb) => sftp.close(handle, (err) => cb(err, undefined))).catch(() => undefined);
      }
    });
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
