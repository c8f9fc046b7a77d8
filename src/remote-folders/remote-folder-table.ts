/**
 * One lab's remote-folder table, as the CLI and the web page change it: rows added, edited and deleted by hand, or
 * a CSV imported in two steps (plan, then apply the same text parsed again). Each row says where files of an
 * identifier style (`label`) with a hint (`folderTag`) go on server B; a clinic folder's receipt rule is stored
 * beside it (receipt-rules.ts). Changes made by a person are recorded in folder_change.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { ResultFile } from '../db/entities';
import { clinicFolderOf, describeRule, NO_RULE, type ReceiptRuleLists } from './clinic-rule';
import { FolderChange, RemoteFolder, type IRemoteFolder } from './entities';
import type { RemoteFolderRow } from './remote-folder-csv';
import { receiptRulesByFolder, setReceiptRule } from './receipt-rules';

export interface LoadSummary {
  added: number;
  changed: Array<{ label: string; folderTag: string; from: string; to: string }>;
  unchanged: number;
  /** Rows in the database that the CSV does not mention: kept, reported. */
  notInCsv: number;
  /** Clinic folders whose receipt rule the CSV changed (only when it has the rule columns). */
  rulesChanged: Array<{ clinicFolder: string; from: string; to: string }>;
}

/** What importing rows would do, worked out without writing: the preview a person confirms. */
export interface ImportPlan {
  added: RemoteFolderRow[];
  changed: Array<{ row: RemoteFolderRow; from: string }>;
  unchanged: number;
  /** Rows of the table that the CSV does not list: kept. */
  notInCsv: IRemoteFolder[];
  rules: Array<{ clinicFolder: string; from: string; to: string }>;
}

/** A row in words, as the folder changes record it: `BHS 12 → viral_load/digawana`. */
export function describeFolderRow(r: RemoteFolderRow): string {
  return `${r.label} ${r.folderTag} → ${clinicFolderOf(r)}`;
}

/** States of a file still on its way through a folder row: deleting the row under it is refused. */
const IN_FLIGHT = ['RECEIVED', 'SENT', 'TRANSFER_BLOCKED', 'AWAITING_ACK'] as const;

const keyOf = (r: { label: string; folderTag: string }) => `${r.label}\u0000${r.folderTag}`;

/** How `rows` compare with the table by (label, tag): the one diff both the plan and the import use. */
function diffRows(existing: readonly IRemoteFolder[], rows: readonly RemoteFolderRow[]) {
  const byKey = new Map(existing.map((r) => [keyOf(r), r]));
  const added: RemoteFolderRow[] = [];
  const changed: Array<{ row: RemoteFolderRow; current: IRemoteFolder }> = [];
  let unchanged = 0;
  const seen = new Set<string>();
  for (const row of rows) {
    seen.add(keyOf(row));
    const current = byKey.get(keyOf(row));
    if (!current) added.push(row);
    else if (current.folder !== row.folder || current.basePath !== row.basePath) changed.push({ row, current });
    else unchanged++;
  }
  return { added, changed, unchanged, notInCsv: existing.filter((r) => !seen.has(keyOf(r))) };
}

/**
 * The row's folder and base path for files of this style and hint (clinicFolderOf joins them), from the table of lab
 * `labId` (or the table it shares, lab.folders_of_lab_id; absent: the `default` lab's). Every file asks this once:
 * plain SQL, no entity to hydrate; column names come from the entity.
 */
export async function findRemoteFolder(em: EntityManager, label: string, hint: string, labId?: number): Promise<{ folder: string; basePath: string } | null> {
  const meta = em.getMetadata().get(RemoteFolder);
  const column = (property: 'label' | 'folderTag' | 'folder' | 'basePath' | 'labId') => meta.properties[property].fieldNames[0];
  const [row] = await em.execute<Array<{ folder: string; base_path: string }>>(
    `select "${column('folder')}" as folder, "${column('basePath')}" as base_path from "${meta.tableName}"
      where "${column('label')}" = ? and "${column('folderTag')}" = ?
        and "${column('labId')}" = (select coalesce(folders_of_lab_id, id) from lab where ${labId === undefined ? `name = 'default'` : 'id = ?'}) limit 1`,
    labId === undefined ? [label, hint] : [label, hint, labId],
  );
  return row ? { folder: row.folder, basePath: row.base_path } : null;
}

export class RemoteFolderTable {
  /** `labId`: the lab whose table this is (folderTableLabId: a lab that shares another's table uses that one). */
  constructor(
    private readonly em: EntityManager,
    readonly labId: number,
  ) {}

  /** Every row, by label and tag. */
  rows(): Promise<IRemoteFolder[]> {
    return this.em.find(RemoteFolder, { labId: this.labId }, { orderBy: { label: 'asc', folderTag: 'asc' } });
  }

  row(id: number): Promise<IRemoteFolder | null> {
    return this.em.findOne(RemoteFolder, { id, labId: this.labId });
  }

  /** Whether another row (not `exceptId`) already maps this style and tag. */
  async isMapped(label: string, folderTag: string, exceptId?: number): Promise<boolean> {
    return (await this.em.count(RemoteFolder, { labId: this.labId, label, folderTag, ...(exceptId === undefined ? {} : { id: { $ne: exceptId } }) })) > 0;
  }

  /** The rows that send files to `clinicFolder` (and so share its receipt rule), in words: `BHS 12`. */
  async rowsOfFolder(clinicFolder: string): Promise<string[]> {
    return (await this.rows()).filter((r) => clinicFolderOf(r) === clinicFolder).map((r) => `${r.label} ${r.folderTag}`);
  }

  /** Files routed by this row (its style and hint) that are not done yet: while there are any it cannot go. */
  filesInFlight(row: RemoteFolderRow): Promise<number> {
    return this.em.count(ResultFile, { label: row.label, hint: row.folderTag, state: { $in: [...IN_FLIGHT] } });
  }

  /**
   * Adds a row. A rule with entries is set on its clinic folder; empty lists keep the folder's rule (set on another
   * row): clearing it is done by {@link update}.
   */
  async add(row: RemoteFolderRow, rule: ReceiptRuleLists, actor: string): Promise<void> {
    await this.em.transactional(async (tx) => {
      tx.create(RemoteFolder, { labId: this.labId, label: row.label, folderTag: row.folderTag, folder: row.folder, basePath: row.basePath });
      await tx.flush();
      await recordChange(tx, this.labId, actor, 'added', row, null);
      if (rule.allowedClients.length || rule.allowedUsers.length) await setReceiptRule(tx, clinicFolderOf(row), rule, actor);
    });
  }

  /** Changes row `id` to `next`; `rule`, when given, becomes the rule of next's clinic folder (empty lists remove it). */
  async update(id: number, next: RemoteFolderRow, rule: ReceiptRuleLists | undefined, actor: string): Promise<void> {
    await this.em.transactional(async (tx) => {
      const mine = await tx.findOneOrFail(RemoteFolder, { id, labId: this.labId });
      const before = { label: mine.label, folderTag: mine.folderTag, folder: mine.folder, basePath: mine.basePath };
      tx.assign(mine, { label: next.label, folderTag: next.folderTag, folder: next.folder, basePath: next.basePath });
      await tx.flush();
      if (describeFolderRow(before) !== describeFolderRow(next)) await recordChange(tx, this.labId, actor, 'changed', next, before);
      if (rule) await setReceiptRule(tx, clinicFolderOf(next), rule, actor);
    });
  }

  /** Deletes row `id` and records it; the clinic folder's receipt rule is kept. */
  async remove(id: number, gone: RemoteFolderRow, actor: string): Promise<void> {
    await this.em.transactional(async (tx) => {
      await tx.nativeDelete(RemoteFolder, { id, labId: this.labId });
      await recordChange(tx, this.labId, actor, 'deleted', gone, gone);
    });
  }

  /** What importing `rows` (and the CSV's rules, when it has the rule columns) would change. Writes nothing. */
  async planImport(rows: readonly RemoteFolderRow[], csvRules: ReadonlyMap<string, ReceiptRuleLists> | undefined): Promise<ImportPlan> {
    const diff = diffRows(await this.rows(), rows);
    const storedRules = await receiptRulesByFolder(this.em);
    const rules: ImportPlan['rules'] = [];
    for (const [clinicFolder, rule] of csvRules ?? []) {
      const from = describeRule(storedRules.get(clinicFolder) ?? NO_RULE);
      const to = describeRule(rule);
      if (from !== to) rules.push({ clinicFolder, from, to });
    }
    return {
      added: diff.added,
      changed: diff.changed.map(({ row, current }) => ({ row, from: clinicFolderOf(current) })),
      unchanged: diff.unchanged,
      notInCsv: diff.notInCsv,
      rules,
    };
  }

  /**
   * Upserts the rows by (label, tag). Rows missing from the CSV are kept: removing a mapping is a deliberate act.
   * `rules` (the CSV's receipt rule columns, by clinic folder) are set too; without them every stored rule is kept.
   * With an `actor` (a person on the web page), each added or changed row is recorded in folder_change.
   */
  async applyImport(rows: readonly RemoteFolderRow[], rules?: ReadonlyMap<string, ReceiptRuleLists>, actor: string | null = null): Promise<LoadSummary> {
    return this.em.transactional(async (tx) => {
      const existing = await tx.find(RemoteFolder, { labId: this.labId });
      const summary: LoadSummary = { added: 0, changed: [], unchanged: 0, notInCsv: 0, rulesChanged: [] };
      if (rules?.size) {
        const stored = await receiptRulesByFolder(tx, [...rules.keys()]);
        for (const [clinicFolder, lists] of rules) {
          const from = describeRule(stored.get(clinicFolder) ?? NO_RULE);
          if (await setReceiptRule(tx, clinicFolder, lists, actor)) summary.rulesChanged.push({ clinicFolder, from, to: describeRule(lists) });
        }
      }
      const diff = diffRows(existing, rows);
      const added = new Set(diff.added);
      const changed = new Map(diff.changed.map((c) => [c.row, c.current]));
      // In the CSV's order, so folder_change reads as the file does.
      for (const row of rows) {
        const current = changed.get(row);
        if (added.has(row)) {
          tx.create(RemoteFolder, { labId: this.labId, label: row.label, folderTag: row.folderTag, folder: row.folder, basePath: row.basePath });
          if (actor) tx.create(FolderChange, { labId: this.labId, actor, action: 'added', label: row.label, folderTag: row.folderTag, before: null, after: describeFolderRow(row) });
          summary.added++;
        } else if (current) {
          summary.changed.push({ label: row.label, folderTag: row.folderTag, from: clinicFolderOf(current), to: clinicFolderOf(row) });
          if (actor) tx.create(FolderChange, { labId: this.labId, actor, action: 'changed', label: row.label, folderTag: row.folderTag, before: describeFolderRow(current), after: describeFolderRow(row) });
          current.folder = row.folder;
          current.basePath = row.basePath;
        }
      }
      summary.unchanged = diff.unchanged;
      summary.notInCsv = diff.notInCsv.length;
      return summary;
    });
  }

  /** The last changes people made to this table, newest first. */
  recentChanges(limit: number) {
    return this.em.find(FolderChange, { labId: this.labId }, { orderBy: { at: 'desc', id: 'desc' }, limit });
  }
}

async function recordChange(em: EntityManager, labId: number, actor: string, action: 'added' | 'changed' | 'deleted', row: RemoteFolderRow, before: RemoteFolderRow | null) {
  em.create(FolderChange, { labId, actor, action, label: row.label, folderTag: row.folderTag, before: before && describeFolderRow(before), after: action === 'deleted' ? null : describeFolderRow(row) });
  await em.flush();
}
