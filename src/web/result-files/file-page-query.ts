import type { EntityManager } from '@mikro-orm/postgresql';
import { FileEvent, ForeignFetch, Receipt, ResultFile, UnknownFetch, WebUpload } from '../../db/entities';

/**
 * What a file's page shows: the row, its timeline, the clinic's fetches (counted and not), uploads of the same content
 * through the web page and other rows with the same content. `labId`: the viewer's lab (undefined: every lab). One function, so bench/search.mjs times the page's own queries.
 */
export async function loadFilePage(em: EntityManager, id: number, labId?: number) {
  const row = await em.findOne(ResultFile, labId === undefined ? { id } : { id, labId });
  if (!row) return undefined;
  // Related rows (copies, versions, uploads) of this file's own lab only, whoever looks.
  const sameLab = { labId: row.labId };
  const [events, receipts, foreign, uploads, copies, afterWithdrawal, versions] = await Promise.all([
    em.find(FileEvent, { resultFileId: id }, { orderBy: { at: 'asc', id: 'asc' } }),
    em.find(Receipt, { resultFileId: id }, { orderBy: { accessedAt: 'asc' } }),
    em.find(ForeignFetch, { resultFileId: id }, { orderBy: { accessedAt: 'asc', id: 'asc' } }),
    em.find(WebUpload, { ...sameLab, sha256: row.sha256 }, { orderBy: { uploadedAt: 'asc' } }),
    em.find(ResultFile, { ...sameLab, sha256: row.sha256, id: { $ne: id } }, { orderBy: { id: 'asc' }, limit: 50 }),
    // A withdrawn file's path may still be asked for: the scan keeps those as unknown fetches; shown here.
    row.state === 'WITHDRAWN' && row.remotePath
      ? em.find(UnknownFetch, { remotePath: row.remotePath, accessedAt: { $gte: row.updatedAt } }, { orderBy: { accessedAt: 'asc' }, limit: 50 })
      : Promise.resolve([]),
    // Other results for the same identifier: an earlier version it replaced, or a later one that replaced it.
    row.identifier ? em.find(ResultFile, { ...sameLab, identifier: row.identifier, id: { $ne: id } }, { orderBy: { id: 'asc' }, limit: 20 }) : Promise.resolve([]),
  ]);
  return { row, events, receipts, foreign, uploads, copies, afterWithdrawal, versions };
}
