import type { Command } from 'commander';
import { loadConfig } from '../config/config';
import { createLab, listLabs } from '../labs/upload-hosts';
import { log, withOrm } from './runtime';

/** `getresults labs ...`: the labs this deployment serves, and their upload hosts. */
export function registerLabsCommands(program: Command): void {
  const labs = program.command('labs').description('The labs this deployment serves and their upload hosts. Needs DATABASE_URL.');
  labs
    .command('add')
    .description('Add a lab. Its upload hosts join it with GETRESULTS_LAB=<name>; its users with "users add --lab <name>".')
    .argument('<name>', 'short name: lower-case letters, digits and dashes')
    .requiredOption('--title <title>', 'the name people read on the web page')
    .option('--shares-folders-of <lab>', 'use that lab\'s remote-folder table instead of a table of its own')
    .action(async (name: string, opts: { title: string; sharesFoldersOf?: string }) => {
      await withOrm(loadConfig(), 'getresults labs add', async (orm) => {
        await createLab(orm.em.fork(), { name, title: opts.title, foldersOf: opts.sharesFoldersOf });
        log(`Added lab ${name}${opts.sharesFoldersOf ? `, sharing the folder table of ${opts.sharesFoldersOf}` : ''}.`);
      });
    });
  labs
    .command('list')
    .description('List labs and the upload hosts that registered in each.')
    .action(async () => {
      await withOrm(loadConfig(), 'getresults labs list', async (orm) => {
        for (const lab of await listLabs(orm.em.fork())) {
          process.stdout.write(`${lab.name}\t${lab.title}${lab.foldersOf ? `\t(folders of ${lab.foldersOf})` : ''}\n`);
          for (const h of lab.hosts) {
            process.stdout.write(`  host ${h.name}\tlast started ${h.lastStartedAt.toISOString()}${h.retiredAt ? `\tretired ${h.retiredAt.toISOString()}` : ''}\n`);
          }
        }
      });
    });
}
