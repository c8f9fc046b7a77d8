import { rename, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { loadConfig } from '../config/config';
import { RemoteFolder } from '../db/entities';
import { clinicFolderOf } from '../remote-folders/clinic-rule';
import { receiptRulesByFolder } from '../remote-folders/receipt-rules';
import { folderTableLabId, labIdByName } from '../labs/upload-hosts';
import { ApacheConfigRefused, renderApacheConfig, type UnruledAccess } from '../serverb/apache-config';
import { log, withOrm } from './runtime';

/** `getresults serverb ...`: what server B needs from us (docs/deployment.md, "Server B"). */
export function registerServerBCommands(program: Command): void {
  const serverb = program.command('serverb').description('Server B\'s side: the Apache configuration that serves each clinic its own folder. Needs DATABASE_URL.');
  serverb
    .command('apache-config')
    .description('Write server B\'s Apache configuration from the folder table and the clinics\' receipt rules: one <Directory> per clinic folder, no listings, the log format the scan reads.')
    .option('--out <file>', 'write it to this file (atomically) instead of standard output')
    .option('--lab <name>', 'only the clinic folders of this lab\'s folder table (default: every lab\'s)')
    .option('--document-root <dir>', 'server B\'s folder holding the clinic folders (default: the SFTP destination\'s base path)')
    .option('--access-log <file>', 'where Apache writes the access log (default: GETRESULTS_ACCESS_LOG\'s path, else /var/log/apache2/getresults-access.log)')
    .option('--htpasswd <file>', 'the clinics\' HTTP basic credentials, made with htpasswd -B', '/etc/apache2/getresults.htpasswd')
    .option('--unruled <deny|open>', 'what a clinic folder without a receipt rule gets: nobody (deny) or anyone (open)', 'deny')
    .action(async (opts: { out?: string; lab?: string; documentRoot?: string; accessLog?: string; htpasswd: string; unruled: string }) => {
      const config = loadConfig();
      if (opts.unruled !== 'deny' && opts.unruled !== 'open') throw new ApacheConfigRefused(`--unruled takes deny or open, not "${opts.unruled}".`);
      await withOrm(config, 'getresults serverb apache-config', async (orm) => {
        const em = orm.em.fork();
        let labFilter = {};
        if (opts.lab) {
          const labId = await labIdByName(em, opts.lab);
          if (labId === undefined) throw new ApacheConfigRefused(`There is no lab "${opts.lab}" (getresults labs list shows them).`);
          labFilter = { labId: await folderTableLabId(em, labId) };
        }
        const rows = await em.find(RemoteFolder, labFilter, { orderBy: { basePath: 'asc', folder: 'asc' } });
        const clinicFolders = [...new Set(rows.map((r) => clinicFolderOf(r)))];
        const rules = await receiptRulesByFolder(em, clinicFolders);
        const logLocation = config.accessLog.location?.replace(/^sftp:/, '');
        const { text, foldersWithoutRule } = renderApacheConfig({
          folders: clinicFolders.map((clinicFolder) => ({ clinicFolder, rule: rules.get(clinicFolder) })),
          documentRoot: opts.documentRoot ?? config.destination.basePath,
          urlPrefix: config.accessLog.urlPrefix,
          accessLog: opts.accessLog ?? (logLocation?.startsWith('/') ? logLocation : '/var/log/apache2/getresults-access.log'),
          logFormat: config.accessLog.format,
          authUserFile: opts.htpasswd,
          unruled: opts.unruled as UnruledAccess,
          generatedAt: new Date(),
        });
        if (opts.out) {
          await writeFile(`${opts.out}.tmp`, text, { mode: 0o644 });
          await rename(`${opts.out}.tmp`, opts.out);
          log(`Wrote ${opts.out}: ${clinicFolders.length} clinic folder(s). Check it with apachectl configtest, then reload Apache.`);
        } else {
          process.stdout.write(text);
        }
        if (foldersWithoutRule.length) {
          process.stderr.write(
            `${foldersWithoutRule.length} clinic folder(s) have no receipt rule, so ${opts.unruled === 'deny' ? 'nobody may fetch from them' : 'anyone may fetch from them, and every fetch counts as the clinic\'s'}: ${foldersWithoutRule.join(', ')}. ` +
              `Give each allowed_clients or allowed_users (Remote folders page, or the CSV), then write this again.\n`,
          );
        }
      });
    });
}
