import type { EntityManager } from '@mikro-orm/postgresql';
import { RemoteFolder } from '../db/entities';
import type { RemoteFolderRow } from './remote-folder-csv';

export interface LoadSummary {
  added: number;
  changed: Array<{ label: string; folderTag: string; from: string; to: string }>;
  unchanged: number;
  /** Rows in the database that the CSV does not mention: kept, reported. */
  notInCsv: number;
}

/** Upserts the table by (label, tag). Rows missing from the CSV are kept: removing a mapping is a deliberate act. */
export async function loadRemoteFolders(em: EntityManager, rows: readonly RemoteFolderRow[]): Promise<LoadSummary> {
  return em.transactional(async (tx) => {
    const existing = await tx.find(RemoteFolder, {});
    const byKey = new Map(existing.map((r) => [`${r.label}\u0000${r.folderTag}`, r]));
    const summary: LoadSummary = { added: 0, changed: [], unchanged: 0, notInCsv: 0 };
    const seen = new Set<string>();
    for (const row of rows) {
      const key = `${row.label}\u0000${row.folderTag}`;
      seen.add(key);
      const current = byKey.get(key);
      if (!current) {
        tx.create(RemoteFolder, { label: row.label, folderTag: row.folderTag, folder: row.folder, basePath: row.basePath } as never);
        summary.added++;
      } else if (current.folder !== row.folder || current.basePath !== row.basePath) {
        summary.changed.push({ label: row.label, folderTag: row.folderTag, from: `${current.basePath}/${current.folder}`, to: `${row.basePath}/${row.folder}` });
        current.folder = row.folder;
        current.basePath = row.basePath;
      } else {
        summary.unchanged++;
      }
    }
    summary.notInCsv = existing.filter((r) => !seen.has(`${r.label}\u0000${r.folderTag}`)).length;
    return summary;
  });
}
