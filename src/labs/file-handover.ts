import type { EntityManager } from '@mikro-orm/postgresql';
import { FileHandover } from '../db/entities';

/**
 * Files between the web page and an upload host on another machine (src/db/entities/file-handover.ts). One side puts
 * a row, a small workflow on the host's queue (src/workflows/host-handover.ts) tells the other side, which takes it.
 */
export type HandoverDirection = 'to-web' | 'to-host';

export interface Handover {
  id: string;
  direction: HandoverDirection;
  resultFileId?: number;
  fileName: string;
  sha256: string;
  content: Buffer;
}

/**
 * A handover nobody took (the page gave up waiting, a host stopped half-way) is swept after this long. Longer than any
 * wait for one (HOST_ANSWER_TIMEOUT_MS plus the handover workflow's own timeout), so no live handover is swept.
 */
export const HANDOVER_TTL_MS = 10 * 60_000;

export async function putHandover(em: EntityManager, handover: Handover): Promise<void> {
  await em.insert(FileHandover, { ...handover, resultFileId: handover.resultFileId ?? null, createdAt: new Date() });
}

/**
 * An upload the host is placing: `claimed` (claimUpload) marks one it has taken, so the page that gave up waiting can
 * no longer withdraw it, and a retry of the host's activity finds it again.
 */
export type UploadStage = 'to-host' | 'claimed';

/** Reads an upload on its way to a host, without taking it. */
export async function peekUpload(em: EntityManager, id: string): Promise<(Handover & { stage: UploadStage }) | undefined> {
  const row = await em.findOne(FileHandover, { id, direction: { $in: ['to-host', 'claimed'] } }, { disableIdentityMap: true });
  return row
    ? { id: row.id, direction: 'to-host', stage: row.direction as UploadStage, fileName: row.fileName, sha256: row.sha256, content: Buffer.from(row.content) }
    : undefined;
}

/**
 * The host takes an upload before it gives it its name; the page that gave up waiting withdraws it (withdrawUpload).
 * Exactly one of the two succeeds, so an upload is placed exactly when the page can no longer say "not saved"
 * (src/web/uploads/upload-placement.ts).
 */
export async function claimUpload(em: EntityManager, id: string): Promise<boolean> {
  return (await em.nativeUpdate(FileHandover, { id, direction: 'to-host' }, { direction: 'claimed' })) === 1;
}

/** The page's side of claimUpload: true when the host had not taken it, which is now never placed. */
export async function withdrawUpload(em: EntityManager, id: string): Promise<boolean> {
  return (await em.nativeDelete(FileHandover, { id, direction: 'to-host' })) === 1;
}

/** Deletes a handover once it has done its work, or was refused. */
export async function dropHandover(em: EntityManager, id: string): Promise<void> {
  await em.nativeDelete(FileHandover, { id });
}

/** Reads and deletes a handover in one statement: a PDF handed to the page is read once. */
export async function takeHandover(em: EntityManager, id: string, direction: HandoverDirection): Promise<Handover | undefined> {
  const rows = await em
    .getConnection()
    .execute<Array<{ result_file_id: string | null; file_name: string; sha256: string; content: Buffer }>>(
      'delete from file_handover where id = ? and direction = ? returning result_file_id, file_name, sha256, content',
      [id, direction],
    );
  const row = rows[0];
  return row
    ? { id, direction, resultFileId: row.result_file_id === null ? undefined : Number(row.result_file_id), fileName: row.file_name, sha256: row.sha256, content: row.content }
    : undefined;
}

/** Removes handovers older than HANDOVER_TTL_MS; returns how many. */
export async function sweepHandovers(em: EntityManager): Promise<number> {
  return em.nativeDelete(FileHandover, { createdAt: { $lt: new Date(Date.now() - HANDOVER_TTL_MS) } });
}
