import { fitName, splitExtension } from '../disk/name-limits';

/**
 * Where delivered files go: a clinic folder on server B over SFTP, or a local folder when no SSH destination is configured.
 * Both implementations share one contract so the transfer activity does not care which one it has.
 */

export interface DeliveryRequest {
  /** The file to send, on this host. */
  localPath: string;
  /** Expected SHA-256 (lowercase hex) of the content; the remote copy must match it before it gets its final name. */
  sha256: string;
  /** Expected size in bytes. */
  size: number;
  /** Remote folder relative to the destination root, e.g. `viral_load/digawana`; created when missing. */
  folder: string;
  /** The name the clinic will see, e.g. `066-12000001-3.pdf`. */
  fileName: string;
  /** Called now and then with bytes written so far, so long transfers can heartbeat. */
  onProgress?: (bytesWritten: number) => void;
}

export interface DeliveryResult {
  /** Path relative to the destination root where the verified file now lives, e.g. `viral_load/digawana/066-12000001-3.pdf`. */
  remotePath: string;
  /**
   * True when a different file already had the requested name: ours was given a distinguishable name
   * (`<stem>__<first 12 hex of sha256><ext>`) instead of overwriting it.
   */
  renamedBecauseOfConflict: boolean;
  /** True when a retry found the identical file already in place (an earlier attempt finished but its result was lost). */
  alreadyPresent: boolean;
  /** How the remote copy was checked: remote `sha256sum` over exec, reading it back over SFTP, or hashing a local copy. */
  verifiedBy: 'remote-sha256sum' | 'read-back' | 'local-hash';
}

/** Takes a delivered file out of its clinic folder (issue 12: a result sent to the wrong clinic, or corrected). */
export interface WithdrawRequest {
  /** Where the file was delivered (DeliveryResult.remotePath), relative to the destination root. */
  remotePath: string;
  /** The delivered content: a different file now at that path is not ours to move. */
  sha256: string;
  size: number;
  /** Names the moved-aside copy (e.g. `w-41-1`), so that a retry finds its own earlier move. */
  withdrawalId: string;
}

export type WithdrawResult =
  /** Moved from the clinic folder to `movedTo` (relative to the root), verified as ours first. */
  | { outcome: 'moved'; movedTo: string }
  /** An earlier attempt of this withdrawal moved it already. */
  | { outcome: 'alreadyMoved'; movedTo: string }
  /** Nothing at that path (the clinic or an operator removed it): nothing to move. */
  | { outcome: 'notThere' }
  /** Another file holds that path now: it is left alone. */
  | { outcome: 'notOurs' };

export interface Destination {
  /** Human-readable, secret-free description for logs and the UI, e.g. `sftp://results@10.0.0.5:22/srv/results`. */
  readonly description: string;
  deliver(request: DeliveryRequest): Promise<DeliveryResult>;
  /**
   * Moves a delivered file aside, below WITHDRAWN_FOLDER at the destination root, keeping its path: out of the
   * clinic's folder, never deleted. Only our content moves; a retry is safe.
   */
  withdraw(request: WithdrawRequest): Promise<WithdrawResult>;
  /** Resolves when the destination can be reached now (server B answers over SSH, its root is there): for /readyz. */
  checkReachable(): Promise<void>;
  close(): Promise<void>;
}

/** Where withdrawn files are kept on server B, below the destination root: not a clinic's folder, a dot name. */
export const WITHDRAWN_FOLDER = '.withdrawn';

/** `<WITHDRAWN_FOLDER>/<remote folders>/<name>.<withdrawalId>`: where a withdrawal puts the file. */
export function withdrawnPathFor(remotePath: string, withdrawalId: string): string {
  if (!/^[A-Za-z0-9_-]{1,40}$/.test(withdrawalId)) throw new Error(`Refusing withdrawal id ${JSON.stringify(withdrawalId)}`);
  const segments = remotePath.split('/').filter((s) => s !== '' && s !== '.');
  if (!segments.length || segments.some((s) => s === '..' || s.includes('\0'))) throw new Error(`Refusing unsafe path ${JSON.stringify(remotePath)}`);
  const name = segments.pop()!;
  return [WITHDRAWN_FOLDER, ...segments, fitName('', name, `.${withdrawalId}`)].join('/');
}

/**
 * The temporary name an upload is written under; deterministic so a retry after a crash overwrites (not leaks) it.
 * The name part is shortened when needed so the whole stays within NAME_MAX (the hash keeps it unique).
 */
export function temporaryNameFor(fileName: string, sha256: string): string {
  return fitName('.', fileName, `.${sha256.slice(0, 16)}.part`);
}

/**
 * The name used when a different file already holds the requested name: `<stem>__<hash12><ext>`, the stem shortened
 * when needed so the name stays within NAME_MAX; the hash and the extension are always kept.
 */
export function conflictNameFor(fileName: string, sha256: string): string {
  const { stem, ext } = splitExtension(fileName);
  return fitName('', stem, `__${sha256.slice(0, 12)}${ext}`);
}
