import type { Command } from 'commander';
import { loadConfig } from '../config/config';
import { openOrm } from '../db/orm';
import { retryWaitingFiles } from '../temporal/retry-waiting';
import { connectResultWorkflows } from '../temporal/client';
import { requirePayloadCodec } from '../temporal/payload-codec';
import { log, requireDatabaseUrl, requireTemporalEndpoint } from './runtime';

async function commandRetry(opts: { state: string[] }): Promise<void> {
  const config = loadConfig();
  const payloadCodec = requirePayloadCodec(config.payloadKeys, 'getresults retry');
  const orm = await openOrm(requireDatabaseUrl(config, 'getresults retry'));
  const { workflows, close } = await connectResultWorkflows(
    { endpoint: requireTemporalEndpoint(config, 'getresults retry'), namespace: config.temporal.namespace, payloadCodec },
    'getresults retry',
  );
  try {
    const states = opts.state.map((s) => s.toUpperCase()) as Array<'NEEDS_FOLDER' | 'TRANSFER_BLOCKED'>;
    const { signalled, failed } = await retryWaitingFiles(orm.em.fork(), workflows, states);
    log(`Asked ${signalled} waiting file(s) to try again${failed ? ` (${failed} could not be reached)` : ''}.`);
  } finally {
    await close();
    await orm.close();
  }
}


/** `getresults retry`: wakes files waiting for a folder mapping or a fixed host key. */
export function registerRetryCommand(program: Command): void {
  program
    .command('retry')
    .description('Ask waiting files to try again now (after a folder mapping was added or a host key fixed).')
    .option('--state <state...>', 'which waiting states', ['NEEDS_FOLDER', 'TRANSFER_BLOCKED'])
    .action(commandRetry);
}
