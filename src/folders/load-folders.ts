import type { EntityManager } from '@mikro-orm/postgresql';
import { FolderChange, RemoteFolder } from '../db/entities';
import { clinicFolderOf, describeRule, type ReceiptRuleLists } from './clinic-rule';
import type { RemoteFolderRow } from './remote-folder-csv';
import { NO_RULE, receiptRulesByFolder, setReceiptRule } from './receipt-rules';

export interface LoadSummary {
  added: number;
  changed: Array<{ label: string; folderTag: string; from: string; to: string }>;
  unchanged: number;
  /** Rows in the database that the CSV does not mention: kept, reported. */
  notInCsv: number;
  /** Clinic folders whose receipt rule the CSV changed (only when it has the rule columns). */
  rulesChanged: Array<{ clinicFolder: string; from: string; to: string }>;
}

/** A row in words, as the folder changes record it: `BHS 12 → viral_load/digawana`. */
export function describeFolderRow(r: RemoteFolderRow): string {
  return `${r.label} ${r.folderTag} → ${[r.basePath, r.folder].filter(Boolean).join('/')}`;
}

/**
 * Upserts one lab's table by (label, tag). Rows missing from the CSV are kept: removing a mapping is a deliberate act.
 * `rules` (the CSV's receipt rule columns, by clinic folder) are set too; without them every stored rule is kept.
 * With an `actor` (a person on the web page), each added or changed row is recorded in folder_change.
 */
export async function loadRemoteFolders(
  em: EntityManager,
  /** The lab whose table is loaded (folderTableLabId: a lab that shares another's table loads that one). */
  labId: number,
  rows: readonly RemoteFolderRow[],
  rules?: ReadonlyMap<string, ReceiptRuleLists>,
  actor: string | null = null,
): Promise<LoadSummary> {
  return em.transactional(async (tx) => {
    const existing = await tx.find(RemoteFolder, { labId });
    const byKey = new Map(existing.map((r) => [`${r.label}\u0000${r.folderTag}`, r]));
    const summary: LoadSummary = { added: 0, changed: [], unchanged: 0, notInCsv: 0, rulesChanged: [] };
    if (rules?.size) {
      const stored = await receiptRulesByFolder(tx, [...rules.keys()]);
      for (const [clinicFolder, lists] of rules) {
        const from = describeRule(stored.get(clinicFolder) ?? NO_RULE);
        if (await setReceiptRule(tx, clinicFolder, lists, actor)) summary.rulesChanged.push({ clinicFolder, from, to: describeRule(lists) });
      }
    }
    const seen = new Set<string>();
    for (const row of rows) {
      const key = `${row.label}\u0000${row.folderTag}`;
      seen.add(key);
      const current = byKey.get(key);
      if (!current) {
        tx.create(RemoteFolder, { labId, label: row.label, folderTag: row.folderTag, folder: row.folder, basePath: row.basePath });
        if (actor) tx.create(FolderChange, { labId, actor, action: 'added', label: row.label, folderTag: row.folderTag, before: null, after: describeFolderRow(row) });
        summary.added++;
      } else if (current.folder !== row.folder || current.basePath !== row.basePath) {
        summary.changed.push({ label: row.label, folderTag: row.folderTag, from: clinicFolderOf(current), to: clinicFolderOf(row) });
        if (actor) tx.create(FolderChange, { labId, actor, action: 'changed', label: row.label, folderTag: row.folderTag, before: describeFolderRow(current), after: describeFolderRow(row) });
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
