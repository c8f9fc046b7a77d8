import type { EntityManager } from '@mikro-orm/postgresql';
import { ResultFile, UploadHost } from '../db/entities';
import type { FileState } from '../domain/file-state';
import { HostRegistrationRefused } from './upload-hosts';

/** States in which a file's original is still only on its upload host: not yet at the clinic, not archived. */
export const NOT_YET_DELIVERED: readonly FileState[] = ['RECEIVED', 'NEEDS_FOLDER', 'TRANSFER_BLOCKED', 'SENT'];

export type RetireOutcome =
  /** Nothing done: these files have not reached their clinic, and only the host holds them. */
  | { retired: false; notYetDelivered: Array<{ id: number; state: FileState }> }
  | {
      retired: true;
      /** Already retired before this call: nothing changed. */
      already: boolean;
      retiredAt: Date;
      /** Files delivered and waiting for their clinic's fetch; the last of them sent at `newestSentAt`. */
      awaitingFetch: number;
      newestSentAt?: Date;
    };

/**
 * Retires an upload host (issue 13, docs/deployment.md "Retiring an upload host"): it takes no more web uploads and
 * is shown as retired. Refused while the host holds files that have not reached their clinic, since only it has them.
 * Files already delivered stay as they are: the receipt scan marks them fetched without the host, while ending their
 * wait (UNACKNOWLEDGED), showing their PDF, resending and withdrawing still need the host's worker and archive.
 */
export async function retireUploadHost(em: EntityManager, name: string): Promise<RetireOutcome> {
  const host = await em.findOne(UploadHost, { name });
  if (!host) throw new HostRegistrationRefused(`There is no upload host "${name}" (getresults labs list shows them).`);
  const held = await em.find(ResultFile, { uploadHost: name, state: { $in: [...NOT_YET_DELIVERED] } }, { fields: ['id', 'state'], orderBy: { id: 'asc' } });
  if (held.length) return { retired: false, notYetDelivered: held.map((f) => ({ id: f.id, state: f.state })) };
  const awaiting = await em.find(ResultFile, { uploadHost: name, state: 'AWAITING_ACK' }, { fields: ['sentAt'], orderBy: { sentAt: 'desc' } });
  const already = host.retiredAt != null;
  if (!already) {
    host.retiredAt = new Date();
    await em.flush();
  }
  return { retired: true, already, retiredAt: host.retiredAt!, awaitingFetch: awaiting.length, newestSentAt: awaiting[0]?.sentAt ?? undefined };
}

/** Undoes a retirement: the host takes web uploads again. */
export async function reinstateUploadHost(em: EntityManager, name: string): Promise<boolean> {
  const host = await em.findOne(UploadHost, { name });
  if (!host) throw new HostRegistrationRefused(`There is no upload host "${name}" (getresults labs list shows them).`);
  if (host.retiredAt == null) return false;
  host.retiredAt = null;
  await em.flush();
  return true;
}
