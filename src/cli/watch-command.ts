import type { Command } from 'commander';
import { loadConfig } from '../config/config';
import { requirePayloadCodec } from '../temporal/payload-codec';
import { useLogFormat } from '../observability/logger';
import { createProcessMetrics } from '../observability/metrics';
import { serveOps } from '../observability/ops-server';
import { log, requireTemporalAddress, untilStopSignal } from './runtime';
import { type Stopper, stopAll, startWatcher, connectWorkflows } from './process-parts';

async function commandWatch(): Promise<void> {
  const config = loadConfig();
  useLogFormat('watch', config.logFormat ?? 'json');
  requireTemporalAddress(config, 'getresults watch');
  const payloadCodec = requirePayloadCodec(config.payloadKeys, 'getresults watch');
  const stoppers: Stopper[] = [];
  try {
    const metrics = createProcessMetrics('watch');
    const workflows = await connectWorkflows(config, 'getresults watch', payloadCodec, stoppers);
    const detection = await startWatcher(config, workflows, metrics, stoppers);
    const ops = await serveOps(config.ops, { metrics, readiness: { temporal: () => workflows.checkHealth() } });
    if (ops) stoppers.push(() => ops.stop());
    log(`Watching ${config.uploadDir} (host ${config.hostId}; ${detection}${ops ? `; metrics and health at ${ops.url}` : ''}).`);
    await untilStopSignal();
  } finally {
    await stopAll(stoppers);
  }
}


/** `getresults watch`: the upload folder's watcher of one upload host. */
export function registerWatchCommand(program: Command): void {
  program.command('watch').description('Watch the upload folder and start one workflow per complete file. Needs TEMPORAL_ADDRESS.').action(commandWatch);
}
