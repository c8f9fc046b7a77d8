import type { Command } from 'commander';
import { loadConfig } from '../config/config';
import { requirePayloadCodec } from '../temporal/payload-codec';
import { useLogFormat } from '../observability/logger';
import { createProcessMetrics } from '../observability/metrics';
import { serveOps } from '../observability/ops-server';
import { log, requireDatabaseUrl, requireTemporalEndpoint, untilStopSignal } from './runtime';
import { openDestination, openProcessOrm, type Stopper, stopAll, startWorkersWithConnection } from './process-parts';

async function commandWorker(opts: { files: boolean }): Promise<void> {
  const config = loadConfig();
  useLogFormat('worker', config.logFormat ?? 'json');
  const temporalEndpoint = requireTemporalEndpoint(config, 'getresults worker');
  const payloadCodec = requirePayloadCodec(config.payloadKeys, 'getresults worker');
  const stoppers: Stopper[] = [];
  try {
    const { orm } = await openProcessOrm(requireDatabaseUrl(config, 'getresults worker'), stoppers);
    const metrics = createProcessMetrics('worker');
    const destination = openDestination(config, metrics, stoppers);
    const { workers, workflows, sdkMetricsUrl } = await startWorkersWithConnection(
      { config, temporalEndpoint, command: 'getresults worker', orm, destination, payloadCodec, serveFiles: opts.files, metrics },
      stoppers,
    );
    const ops = await serveOps(config.ops, {
      metrics,
      sdkMetricsUrl,
      readiness: {
        database: async () => void (await orm.em.fork().getConnection().execute('select 1')),
        temporal: () => workflows.checkHealth(),
        ...(opts.files ? { 'server B': () => destination.checkReachable() } : {}),
      },
    });
    if (ops) stoppers.push(() => ops.stop());
    log(`Worker running (host ${config.hostId}, destination ${destination.description}${ops ? `; metrics and health at ${ops.url}` : ''}).`);
    await Promise.race([untilStopSignal(), workers.done]);
  } finally {
    await stopAll(stoppers);
  }
}


/** `getresults worker`: the production worker of one upload host (or a database-only one). */
export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('Run the Temporal worker (workflows, database activities, and this host\'s file activities). Needs DATABASE_URL and TEMPORAL_ADDRESS.')
    .option('--no-files', 'do not serve this host\'s file activities (a database-only worker)')
    .action(commandWorker);
}
