import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../config/config';
import { IdentifierPatterns } from '../domain/identifier-patterns';
import { clinicFolderOf } from '../remote-folders/clinic-rule';
import { parseRemoteFolderCsv } from '../remote-folders/remote-folder-csv';
import { checkNameAndSize, validateResultFile } from '../validation/validate-result-file';

/** `validate` and `folders resolve`: operator tools that need no database, Temporal or network. */
export function registerOfflineCommands(program: Command, folders: Command): void {
  program
    .command('validate')
    .description('Check result files as the pipeline would (PDF, name pattern, identifier in text); needs no database. Exit 1 if any is rejected.')
    .argument('<files...>', 'files to check')
    .option('--json', 'one JSON object per file')
    .action(async (files: string[], opts: { json?: boolean }) => {
      const config = loadConfig();
      const patterns = new IdentifierPatterns(config.patterns);
      let rejected = 0;
      for (const file of files) {
        const fileName = path.basename(file);
        const info = await stat(file).catch(() => undefined);
        const precheck = info?.isFile() ? checkNameAndSize(fileName, info.size, config.maxFileBytes, patterns) : undefined;
        const result = !info?.isFile()
          ? ({ ok: false, code: 'NOT_A_FILE', reason: `${file} is not a readable file.` } as const)
          : !precheck!.ok
            ? precheck!
            : await validateResultFile({ fileName, content: await readFile(file), maxBytes: config.maxFileBytes }, patterns);
        if (!result.ok) rejected++;
        const identification = 'identification' in result ? result.identification : undefined;
        const record = {
          file,
          ok: result.ok,
          identifier: identification?.identifier ?? null,
          label: identification?.label ?? null,
          hint: identification?.hint ?? null,
          ...(result.ok ? {} : { code: result.code, reason: result.reason }),
        };
        if (opts.json) process.stdout.write(`${JSON.stringify(record)}\n`);
        else if (result.ok) process.stdout.write(`PASS ${file}: ${record.label} identifier ${record.identifier}, hint "${record.hint}"\n`);
        else process.stdout.write(`REJECTED ${file}: [${record.code}] ${record.reason}\n`);
      }
      process.exitCode = rejected > 0 ? 1 : 0;
    });

  folders
    .command('resolve')
    .description('Show which clinic folder a file name goes to, from a remote-folder CSV (default: the configured table); needs no database. Exit 1 when nothing matches.')
    .argument('<filename>', 'a result file name, e.g. 066-12000001-3.pdf')
    .option('--csv <file>', 'remote-folder table to use (default: GETRESULTS_FOLDERS_CSV or the seed table)')
    .option('--json', 'print JSON')
    .action(async (fileName: string, opts: { csv?: string; json?: boolean }) => {
      const config = loadConfig();
      const identified = new IdentifierPatterns(config.patterns).identify(path.basename(fileName));
      const csvFile = opts.csv ?? config.foldersCsv;
      const table = parseRemoteFolderCsv(await readFile(csvFile, 'utf8'));
      if (table.errors.length) throw new Error(`${csvFile}: ${table.errors.join(' ')}`);
      const out = (value: Record<string, unknown>, text: string) =>
        process.stdout.write(opts.json ? `${JSON.stringify(value)}\n` : `${text}\n`);
      if (!identified.ok) {
        out({ file: fileName, ok: false, code: identified.code, reason: identified.reason }, `NO MATCH ${fileName}: ${identified.reason}`);
        process.exitCode = 1;
        return;
      }
      const { label, hint, identifier } = identified.identification;
      const row = table.rows.find((r) => r.label === label && r.folderTag === hint);
      if (!row) {
        out(
          { file: fileName, ok: false, label, hint, identifier, code: 'NO_FOLDER', reason: `No folder for ${label} hint "${hint}" in ${csvFile}.` },
          `NO FOLDER ${fileName}: ${label} hint "${hint}" is not in ${csvFile}`,
        );
        process.exitCode = 1;
        return;
      }
      out(
        { file: fileName, ok: true, label, hint, identifier, folder: row.folder, basePath: row.basePath, remoteFolder: clinicFolderOf(row) },
        `${fileName}: ${label} hint "${hint}" -> ${row.folder} (${clinicFolderOf(row)})`,
      );
    });
}
