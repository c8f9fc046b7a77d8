import path from 'node:path';
import type { Command } from 'commander';
import { backUp } from '../backup/backup';
import { readManifest, restore, verifyBackup } from '../backup/restore';
import { loadConfig } from '../config/config';
import { log, withDatabase } from './runtime';

/** `getresults backup` and `getresults restore` (docs/deployment.md, "Backups and restore"). */
export function registerBackupCommands(program: Command): void {
  program
    .command('backup')
    .description('Back up this system while it runs: the database (one snapshot), this host\'s upload, archive, rejected and duplicates folders (and a local destination), the payload keys, and the embedded Temporal\'s database.')
    .requiredOption('--to <dir>', 'a new folder for the backup')
    .action(async (opts: { to: string }) => {
      const config = loadConfig();
      const dir = path.resolve(opts.to);
      const { manifest } = await withDatabase(config, (url) => backUp(config, url, dir));
      const files = manifest.folders.reduce((n, f) => n + f.files.length, 0);
      log(
        `Backed up to ${dir}: ${manifest.tables.reduce((n, t) => n + t.rows, 0)} rows of ${manifest.tables.length} tables, ${files} file(s), ` +
          `${manifest.payloadKeys ? 'the payload keys' : 'no payload keys file (keep GETRESULTS_PAYLOAD_KEY yourself)'}, ` +
          `${manifest.temporal.kind === 'embedded' ? 'the embedded Temporal\'s database' : `not Temporal (${manifest.temporal.address}: back up its own database, docs/deployment.md)`}. ` +
          'It holds patient data and the keys to Temporal\'s: keep it as safe as the system.',
      );
    });
  program
    .command('restore')
    .description('Restore a backup onto a fresh system at the same paths (empty folders and database, no Temporal database yet). Checks every file of the backup first.')
    .requiredOption('--from <dir>', 'the backup folder')
    .option('--check', 'only check the backup (every file against its manifest) and change nothing')
    .action(async (opts: { from: string; check?: boolean }) => {
      const config = loadConfig();
      const dir = path.resolve(opts.from);
      if (opts.check) {
        const manifest = await readManifest(dir);
        const { files } = await verifyBackup(dir, manifest);
        log(`The backup in ${dir} (${manifest.createdAt}) is whole: ${files} file(s) match its manifest.`);
        return;
      }
      const outcome = await withDatabase(config, (url) => restore(config, url, dir));
      log(
        `Restored from ${dir}: ${outcome.rows} rows of ${outcome.tables} tables and ${outcome.files} file(s)` +
          `${outcome.migratedAfter.length > 0 ? `, then migrated (${outcome.migratedAfter.join(', ')})` : ''}. Start getresults; files waiting carry on from where they were.`,
      );
    });
}
