import { readFile } from 'node:fs/promises';
import type { EntityManager } from '@mikro-orm/postgresql';
import { loadRemoteFolders, type LoadSummary } from '../folders/load-folders';
import { parseRemoteFolderCsv } from '../folders/remote-folder-csv';

/** Reads, checks and loads a remote-folder CSV; throws (loading nothing) when the CSV has errors. */
export async function loadFoldersCsv(em: EntityManager, csvFile: string): Promise<{ summary: LoadSummary; warnings: string[] }> {
  const report = parseRemoteFolderCsv(await readFile(csvFile, 'utf8'));
  if (report.errors.length) {
    throw new Error(`${csvFile} was not loaded:\n  ${report.errors.join('\n  ')}`);
  }
  return { summary: await loadRemoteFolders(em, report.rows), warnings: report.warnings };
}
