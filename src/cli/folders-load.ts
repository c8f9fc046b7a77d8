import { readFile } from 'node:fs/promises';
import type { EntityManager } from '@mikro-orm/postgresql';
import { FolderReceiptRule } from '../remote-folders/entities';
import { RemoteFolderTable, type LoadSummary } from '../remote-folders/remote-folder-table';
import { parseRemoteFolderCsv } from '../remote-folders/remote-folder-csv';
import { DEFAULT_LAB, folderTableLabId, labIdByName } from '../labs/upload-hosts';

/**
 * Reads, checks and loads a remote-folder CSV; throws (loading nothing) when the CSV has errors. The optional
 * `allowed_clients` / `allowed_users` columns set each clinic folder's receipt rule; the returned notes say what changed.
 */
export async function loadFoldersCsv(em: EntityManager, csvFile: string, labName = DEFAULT_LAB): Promise<{ summary: LoadSummary; warnings: string[] }> {
  const report = parseRemoteFolderCsv(await readFile(csvFile, 'utf8'));
  if (report.errors.length) {
    throw new Error(`${csvFile} was not loaded:\n  ${report.errors.join('\n  ')}`);
  }
  const labId = await labIdByName(em, labName);
  if (labId === undefined) throw new Error(`There is no lab "${labName}" (getresults labs list shows them).`);
  const table = new RemoteFolderTable(em, await folderTableLabId(em, labId));
  const summary = await table.applyImport(report.rows, report.rules, 'getresults folders load');
  // Printed as notes by the command: what the rule columns changed, per clinic folder.
  const ruleNotes = summary.rulesChanged.map((r) => `receipt rule of ${r.clinicFolder}: ${r.from} -> ${r.to}`);
  const kept = report.rules ? 0 : await em.count(FolderReceiptRule, {});
  if (kept) ruleNotes.push(`The CSV has no allowed_clients/allowed_users columns: the receipt rules of ${kept} clinic folder(s) were left as they are.`);
  return { summary, warnings: [...ruleNotes, ...report.warnings] };
}
