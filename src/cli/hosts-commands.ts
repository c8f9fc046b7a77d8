import type { Command } from 'commander';
import { msToNumber } from '@temporalio/common/lib/time';
import { loadConfig } from '../config/config';
import { reinstateUploadHost, retireUploadHost } from '../labs/retire-host';
import { log, withOrm } from './runtime';

/** `getresults hosts ...`: the life of an upload host (docs/deployment.md, "Retiring an upload host"). */
export function registerHostsCommands(program: Command): void {
  const hosts = program.command('hosts').description('Upload hosts: retire one that is being switched off. Needs DATABASE_URL.');
  hosts
    .command('retire')
    .description('Retire an upload host: refused while it holds files not yet at their clinic; says what its delivered files still need from it.')
    .argument('<name>', 'the host\'s GETRESULTS_HOST_ID')
    .option('--undo', 'take the host back into service')
    .action(async (name: string, opts: { undo?: boolean }) => {
      const config = loadConfig();
      await withOrm(config, 'getresults hosts retire', async (orm) => {
        const em = orm.em.fork();
        if (opts.undo) {
          log((await reinstateUploadHost(em, name)) ? `The upload host ${name} is in service again.` : `The upload host ${name} was not retired; nothing changed.`);
          return;
        }
        const outcome = await retireUploadHost(em, name);
        if (!outcome.retired) {
          const ids = outcome.notYetDelivered.map((f) => `#${f.id} (${f.state})`);
          log(
            `Not retired: ${name} holds ${ids.length} file(s) that have not reached their clinic, and only it has them: ${ids.slice(0, 20).join(', ')}${ids.length > 20 ? ', ...' : ''}. ` +
              `Let it send them first (a file waiting for a folder needs its mapping, a blocked one the host key or login fixed; the Files page shows why each waits), then retire it again.`,
          );
          process.exitCode = 2;
          return;
        }
        log(`${outcome.already ? 'Already retired' : 'Retired'} ${name} (${outcome.retiredAt.toISOString()}): the web page sends it no more uploads. Stop its watcher; files dropped in its upload folder would still be taken.`);
        if (outcome.awaitingFetch && outcome.newestSentAt) {
          const lastDeadline = new Date(outcome.newestSentAt.getTime() + msToNumber(config.ackTimeout as Parameters<typeof msToNumber>[0]));
          log(
            `${outcome.awaitingFetch} of its file(s) wait for their clinic's fetch; the receipt scan marks them fetched without ${name}. Their waits end ` +
              `(unacknowledged after GETRESULTS_ACK_TIMEOUT) by ${lastDeadline.toISOString()} and need a worker on its queue, not its disk: keep its worker ` +
              `running, or run "getresults worker" with GETRESULTS_HOST_ID=${name} on any host with database access until then. Their PDFs, Resend and ` +
              `Withdraw need its archive: back up its archive folder before the machine goes (docs/deployment.md, "Retiring an upload host").`,
          );
        } else {
          log(`None of its files waits for anything: its worker can be stopped. Keep its archive folder (back it up): the PDFs of its files are there.`);
        }
      });
    });
}
