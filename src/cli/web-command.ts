import type { Command } from 'commander';
import { loadConfig } from '../config/config';
import { AesGcmPayloadCodec, loadKeyRing, requirePayloadCodec } from '../temporal/payload-codec';
import type { ResultWorkflows } from '../temporal/result-workflows';
import { useLogFormat } from '../observability/logger';
import { createProcessMetrics } from '../observability/metrics';
import { log, requireDatabaseUrl, untilStopSignal } from './runtime';
import { openProcessOrm, type Stopper, stopAll, startWeb, connectWorkflows } from './process-parts';

async function commandWeb(opts: { port?: string }): Promise<void> {
  const loaded = loadConfig();
  const config = opts.port === undefined ? loaded : { ...loaded, web: { ...loaded.web, port: Number(opts.port) } };
  useLogFormat('web', config.logFormat ?? 'json');
  const stoppers: Stopper[] = [];
  try {
    const { orm } = await openProcessOrm(requireDatabaseUrl(config, 'getresults web'), stoppers);
    // With TEMPORAL_ADDRESS the key is required; without it, a configured key still serves /codec.
    let payloadCodec: AesGcmPayloadCodec | undefined;
    let workflows: ResultWorkflows | undefined;
    if (config.temporal.address) {
      payloadCodec = requirePayloadCodec(config.payloadKeys, 'getresults web (with TEMPORAL_ADDRESS)');
      workflows = await connectWorkflows(config, 'getresults web', payloadCodec, stoppers);
    } else if (loadKeyRing(config.payloadKeys)) {
      payloadCodec = requirePayloadCodec(config.payloadKeys, 'getresults web');
    }
    const url = await startWeb(config, orm, { uiUrl: config.temporal.uiUrl, workflows, payloadCodec }, { metrics: createProcessMetrics('web'), logRequests: true }, stoppers);
    log(`Web page at ${url}`);
    await untilStopSignal();
  } finally {
    await stopAll(stoppers);
  }
}


/** `getresults web`: the technicians' web page. */
export function registerWebCommand(program: Command): void {
  program
    .command('web')
    .description('Serve the web page. Needs DATABASE_URL.')
    .option('--port <port>', 'port to listen on (default GETRESULTS_WEB_PORT or 3000)')
    .action(commandWeb);
}
