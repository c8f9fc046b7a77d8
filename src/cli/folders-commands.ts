import type { Command } from 'commander';
import { loadConfig } from '../config/config';
import { retryWaitingFiles } from '../temporal/retry-waiting';
import { loadFoldersCsv } from './folders-load';
import { log, withOrm, withWorkflows } from './runtime';

async function commandFoldersLoad(csv: string, opts: { lab?: string }): Promise<void> {
  const config = loadConfig();
  const command = 'getresults folders load';
  await withOrm(config, command, async (orm) => {
    const { summary, warnings } = await loadFoldersCsv(orm.em.fork(), csv, opts.lab ?? config.lab);
    log(`Remote folders: ${summary.added} added, ${summary.changed.length} changed, ${summary.unchanged} unchanged, ${summary.notInCsv} kept that the CSV does not list.`);
    for (const c of summary.changed) log(`  changed ${c.label} ${c.folderTag}: ${c.from} -> ${c.to}`);
    for (const w of warnings) log(`  note: ${w}`);
    if (config.temporal.address) {
      await withWorkflows(config, command, async (workflows) => {
        const { signalled, failed } = await retryWaitingFiles(orm.em.fork(), workflows, ['NEEDS_FOLDER']);
        log(`Asked ${signalled} file(s) waiting for a folder to try again${failed ? ` (${failed} could not be reached)` : ''}.`);
      }, `${command} (with TEMPORAL_ADDRESS)`);
    } else {
      log('TEMPORAL_ADDRESS is not set: files waiting for a folder were not told to retry.');
    }
  });
}


/** `getresults folders ...`: the remote-folder table; `load` here, the offline `resolve` in offline-commands.ts. */
export function registerFoldersCommands(program: Command): Command {
  const folders = program.command('folders').description('The remote-folder table (clinic hint -> folder on server B).');
  folders
    .command('load')
    .description('Load a remote-folder CSV (base_path,folder,folder_tag,label) into the database, report near-duplicates, and wake files waiting for a folder.')
    .argument('<csv>', 'the CSV file')
    .option('--lab <name>', 'the lab whose table is loaded (default GETRESULTS_LAB)')
    .action(commandFoldersLoad);
  return folders;
}
