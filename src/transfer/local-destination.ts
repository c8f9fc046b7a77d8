import { copyFile, link, mkdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { sha256OfFile } from '../disk/hash';
import { VerificationFailedError } from './errors';
import {
  conflictNameFor,
  temporaryNameFor,
  withdrawnPathFor,
  type DeliveryRequest,
  type DeliveryResult,
  type Destination,
  type WithdrawRequest,
  type WithdrawResult,
} from './destination';

/**
 * A destination folder on this machine: what `getresults start` uses when no SSH server is configured. Same rules as
 * the SFTP destination: temporary name, verify, no-clobber rename, never overwrite a different file.
 */
export class LocalDestination implements Destination {
  readonly description: string;

  constructor(private readonly basePath: string) {
    this.description = `file://${path.resolve(basePath)}`;
  }

  async checkReachable(): Promise<void> {
    await mkdir(this.basePath, { recursive: true });
  }

  async deliver(request: DeliveryRequest): Promise<DeliveryResult> {
    const folder = path.join(this.basePath, request.folder);
    await mkdir(folder, { recursive: true });
    const names = [request.fileName, conflictNameFor(request.fileName, request.sha256)];
    for (const [i, name] of names.entries()) {
      const target = path.join(folder, name);
      const existing = await stat(target).catch(() => undefined);
      if (existing) {
        if (existing.size === request.size && (await sha256OfFile(target)) === request.sha256) {
          return this.result(request.folder, name, i > 0, true);
        }
        continue;
      }
      const temp = path.join(folder, temporaryNameFor(request.fileName, request.sha256));
      await copyFile(request.localPath, temp);
      request.onProgress?.(request.size);
      if ((await sha256OfFile(temp)) !== request.sha256) {
        await unlink(temp);
        throw new VerificationFailedError(`The copy of ${request.fileName} in ${folder} does not match the original; it was removed.`);
      }
      try {
        await link(temp, target); // no-clobber: fails if a file took the name meanwhile
      } catch (err) {
        await unlink(temp);
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw err;
      }
      await unlink(temp);
      return this.result(request.folder, name, i > 0, false);
    }
    throw new Error(`Both ${names.join(' and ')} in ${folder} hold other files; nothing was delivered.`);
  }

  /** As the SFTP destination's: verified as ours, then linked aside (no-clobber) and unlinked from the clinic folder. */
  async withdraw(request: WithdrawRequest): Promise<WithdrawResult> {
    const movedTo = withdrawnPathFor(request.remotePath, request.withdrawalId);
    const source = path.join(this.basePath, ...request.remotePath.split('/'));
    const target = path.join(this.basePath, ...movedTo.split('/'));
    const here = await stat(source).catch(() => undefined);
    const ours = here?.isFile() && here.size === request.size && (await sha256OfFile(source)) === request.sha256;
    if (!here) return (await stat(target).catch(() => undefined)) ? { outcome: 'alreadyMoved', movedTo } : { outcome: 'notThere' };
    if (!ours) return { outcome: 'notOurs' };
    await mkdir(path.dirname(target), { recursive: true });
    try {
      await link(source, target);
    } catch (err) {
      // A retry after the link and before the unlink: the copy aside is already ours.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || (await sha256OfFile(target)) !== request.sha256) throw err;
    }
    await unlink(source);
    return { outcome: 'moved', movedTo };
  }

  private result(folder: string, name: string, renamed: boolean, alreadyPresent: boolean): DeliveryResult {
    return {
      remotePath: path.posix.join(folder.split(path.sep).join('/'), name),
      renamedBecauseOfConflict: renamed,
      alreadyPresent,
      verifiedBy: 'local-hash',
    };
  }

  async close(): Promise<void> {}
}
