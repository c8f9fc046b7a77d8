import type { Command } from 'commander';
import { loadConfig } from '../config/config';
import { retryWaitingFiles } from '../temporal/retry-waiting';
import { log, withOrm, withWorkflows } from './runtime';

async function commandRetry(opts: { state: string[] }): Promise<void> {
  const config = loadConfig();
  const command = 'getresults retry';
  await withWorkflows(config, command, (workflows) =>
    // Not migrated: retrying only reads which files wait.
    withOrm(config, command, async (orm) => {
      const states = opts.state.map((s) => s.toUpperCase()) as Array<'NEEDS_FOLDER' | 'TRANSFER_BLOCKED'>;
      const { signalled, failed } = await retryWaitingFiles(orm.em.fork(), workflows, states);
      log(`Asked ${signalled} waiting file(s) to try again${failed ? ` (${failed} could not be reached)` : ''}.`);
    }, { migrate: false }),
  );
}


/** `getresults retry`: wakes files waiting for a folder mapping or a fixed host key. */
export function registerRetryCommand(program: Command): void {
  program
    .command('retry')
    .description('Ask waiting files to try again now (after a folder mapping was added or a host key fixed).')
    .option('--state <state...>', 'which waiting states', ['NEEDS_FOLDER', 'TRANSFER_BLOCKED'])
    .action(commandRetry);
}
