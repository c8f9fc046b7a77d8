import { IdentifierPatterns } from '../domain/identifier-patterns';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { serve } from '@hono/node-server';
import type { PayloadCodec } from '@temporalio/common';
import { type Config } from '../config/config';
import { migrate, openOrm, type Orm } from '../db/orm';
import { connectResultWorkflows, resultWorkflowsOn } from '../temporal/client';
import { AesGcmPayloadCodec } from '../temporal/payload-codec';
import type { ResultWorkflows } from '../temporal/result-workflows';
import { submitUpload } from '../trigger/submit-upload';
import { watchUploads } from '../trigger/watcher';
import { readCodecTokens } from '../web/routes/codec';
import { createWebApp } from '../web/app';
import { fileTaskQueueFor } from '../workflows/definitions';
import { connectForWorkers, startWorkers, type RunningWorkers, type WorkerDeps } from '../workers/worker';
import { deploymentHasSeveralLabs, registerUploadHost, registeredUploadHost } from '../labs/upload-hosts';
import { placeOnHost, type UploadPlacement } from '../web/uploads/upload-placement';
import { logger } from '../observability/logger';
import { instrumentDestination, registerFileGauges, type ProcessMetrics } from '../observability/metrics';
import { freeLoopbackPort, readMetricsTokens } from '../observability/ops-server';
import type { HealthCheck } from '../web/health';
import { createDestination } from '../transfer/create-destination';
import type { Destination } from '../transfer/destination';
import { log, requireTemporalEndpoint } from './runtime';
import type { TemporalEndpoint } from '../temporal/connection-security';

/**
 * The parts a long-running command composes (start, worker, watch, web): each opens what it needs once for the
 * process (one Temporal connection, the ORM, the destination) and pushes how to stop it, so the command stops them
 * in reverse order at the end.
 */
export type Stopper = () => Promise<void>;


/** Stops what was started, newest first, logging (not throwing) failures so every part gets its turn. */
export async function stopAll(stoppers: Stopper[]): Promise<void> {
  for (const stop of stoppers.reverse()) {
    await stop().catch((err: Error) => log(`While stopping: ${err.message}`));
  }
}


/**
 * The process's ORM, migrated (the names of the migrations it applied are returned for start's banner), closed after
 * every part that uses it has stopped.
 */
export async function openProcessOrm(databaseUrl: string, stoppers: Stopper[]): Promise<{ orm: Orm; applied: string[] }> {
  const orm = await openOrm(databaseUrl);
  stoppers.push(() => orm.close());
  return { orm, applied: await migrate(orm) };
}


/** The process's one destination (server B), counted in its metrics, closed at the end. */
export function openDestination(config: Config, metrics: ProcessMetrics, stoppers: Stopper[]): Destination {
  const destination = instrumentDestination(createDestination(config.destination), metrics);
  stoppers.push(() => destination.close());
  return destination;
}


/** For a process without workers: its one connection to Temporal, closed once the parts using it have stopped. */
export async function connectWorkflows(config: Config, command: string, payloadCodec: PayloadCodec, stoppers: Stopper[]): Promise<ResultWorkflows> {
  const endpoint = requireTemporalEndpoint(config, command);
  const { workflows, close } = await connectResultWorkflows({ endpoint, namespace: config.temporal.namespace, payloadCodec }, command, {
    uploadHost: { lab: config.lab, host: config.hostId },
  });
  stoppers.push(close);
  return workflows;
}


/**
 * The workers and the process's one connection to Temporal, which every other part of the process (watcher, web page,
 * log scan) uses too. It is closed once, after the workers have stopped: they hold it until then.
 */
export async function startWorkersWithConnection(
  deps: Omit<WorkerDeps, 'connection' | 'workflows'> & { temporalEndpoint: TemporalEndpoint; command: string },
  stoppers: Stopper[],
): Promise<{ workers: RunningWorkers; workflows: ResultWorkflows; sdkMetricsUrl?: string }> {
  // The SDK's own metrics, on a loopback port of their own that this process's /metrics passes on.
  const sdkMetricsAddress = deps.config.ops.sdkMetrics ? `127.0.0.1:${await freeLoopbackPort()}` : undefined;
  const connection = await connectForWorkers(deps.temporalEndpoint, deps.command, { sdkMetricsAddress });
  stoppers.push(() => connection.close());
  // A file submitted in this process can go straight to this process's worker of its host queue (eager start).
  const workflows = resultWorkflowsOn(
    connection,
    { namespace: deps.config.temporal.namespace, payloadCodec: deps.payloadCodec },
    { eagerStart: deps.serveFiles !== false, uploadHost: { lab: deps.config.lab, host: deps.config.hostId } },
  );
  const workers = await startWorkers({ ...deps, connection, workflows, webBaseUrl: deps.config.web.publicUrl ?? webBaseUrl(deps.config) });
  stoppers.push(() => workers.shutdown());
  return { workers, workflows, sdkMetricsUrl: sdkMetricsAddress && `http://${sdkMetricsAddress}/metrics` };
}


/** Starts the watcher; says how it notices uploads (kernel events, or polling when inotifywait is missing). */
export async function startWatcher(config: Config, workflows: ResultWorkflows, metrics: ProcessMetrics, stoppers: Stopper[]): Promise<string> {
  const watcher = watchUploads({
    uploadDir: config.uploadDir,
    stableMs: config.watcher.stableMs,
    detection: config.watcher.detection,
    concurrency: config.watcher.concurrency,
    log,
    submit: async (file) => {
      const submitted = await submitUpload(file, {
        workflows,
        fileTaskQueue: fileTaskQueueFor(config.hostId),
        ackTimeout: config.ackTimeout,
        blockedRetryInterval: config.blockedRetryInterval,
      });
      metrics.filesSubmitted.inc();
      return submitted;
    },
  });
  stoppers.push(() => watcher.close());
  await watcher.ready;
  return watcher.detection() === 'inotify'
    ? 'kernel events (inotifywait)'
    : `size polling, ${config.watcher.stableMs} ms per file (apt-get install inotify-tools for kernel events)`;
}


export async function startWeb(
  config: Config,
  orm: Orm,
  temporal: { uiUrl?: string; workflows?: ResultWorkflows; payloadCodec?: AesGcmPayloadCodec },
  observed: { metrics: ProcessMetrics; sdkMetricsUrl?: string; destination?: Destination; logRequests: boolean },
  stoppers: Stopper[],
) {
  const checks: Record<string, HealthCheck> = {
    database: async () => void (await orm.em.fork().getConnection().execute('select 1')),
  };
  const { workflows } = temporal;
  if (workflows) checks.temporal = () => workflows.checkHealth();
  // The web page's processes report what the database knows (files by state, waiting ages) for the deployment.
  registerFileGauges(observed.metrics, orm, { unfetchedAfterDays: config.ops.unfetchedAfterDays });
  const destination = observed.destination;
  const readiness: Record<string, HealthCheck> = { ...checks, ...(destination ? { 'server B': () => destination.checkReachable() } : {}) };
  await mkdir(config.uploadDir, { recursive: true });
  // The web page writes uploads into this host's upload folder: they are its lab's files (src/labs/upload-hosts.ts).
  const uploadHost = await registerUploadHost(orm.em.fork(), config.hostId, config.lab);
  // ... unless GETRESULTS_WEB_UPLOAD_HOST names another host: its worker then takes them into its folder.
  let uploadPlacement: UploadPlacement | undefined;
  if (config.web.uploadHost && config.web.uploadHost !== config.hostId) {
    if (!workflows) throw new Error('GETRESULTS_WEB_UPLOAD_HOST names another host, which the page reaches through Temporal: set TEMPORAL_ADDRESS too.');
    const stagingDir = path.join(config.dataDir, 'web-uploads');
    await mkdir(stagingDir, { recursive: true });
    uploadPlacement = placeOnHost({ workflows, host: await registeredUploadHost(orm.em.fork(), config.web.uploadHost), stagingDir });
  }
  const app = createWebApp({
    healthChecks: checks,
    orm,
    uploadDir: config.uploadDir,
    maxFileBytes: config.maxFileBytes,
    workflows,
    temporalNamespace: config.temporal.namespace,
    temporalUiUrl: temporal.uiUrl,
    pdfRoots: [config.archiveDir, config.rejectedDir, config.duplicatesDir],
    patterns: new IdentifierPatterns(config.patterns),
    trustProxy: config.web.trustProxy,
    publicOrigin: config.web.publicUrl && new URL(config.web.publicUrl).origin,
    sessionIdleMs: config.web.sessionIdleMs,
    maxConcurrentUploads: config.web.maxConcurrentUploads,
    fileTaskQueue: fileTaskQueueFor(config.hostId),
    uploadHost,
    uploadPlacement,
    // One line per request, with its id (also the X-Request-Id header), route pattern, status and time: for a log
    // collector, not for start's terminal, where the open pages' live updates would bury everything else.
    requestLog: observed.logRequests ? logger() : undefined,
    ops: { readiness, metrics: observed.metrics, sdkMetricsUrl: observed.sdkMetricsUrl, metricsTokens: readMetricsTokens(config.ops.tokenFile), behindProxy: config.web.trustProxy },
    codec: temporal.payloadCodec && {
      severalLabs: () => deploymentHasSeveralLabs(orm.em.fork()),
      codec: temporal.payloadCodec.forDisplay(),
      namespace: config.temporal.namespace,
      allowedOrigins: temporal.uiUrl ? [new URL(temporal.uiUrl).origin] : [],
      tokens: config.codecTokenFile ? readCodecTokens(config.codecTokenFile) : undefined,
    },
  });
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: config.web.port, hostname: config.web.host }, () => resolve(s));
    s.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(`The web page cannot listen on ${config.web.host}:${config.web.port} (${err.code}); set GETRESULTS_WEB_PORT.`)),
    );
  });
  stoppers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.web.port;
  return webBaseUrl(config, port);
}


/** The web page's address as a browser on this host reaches it (a wildcard bind is reached on loopback). */
export function webBaseUrl(config: Config, port = config.web.port): string {
  const host = config.web.host === '0.0.0.0' || config.web.host === '::' ? '127.0.0.1' : config.web.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}


/** Where alerts go, for the start banner and `getresults schedule`. */
export function alertChannelsShown(config: Config): string {
  const channels = [
    ...(config.alerts.email ? [`e-mail to ${config.alerts.email.to.join(', ')}`] : []),
    ...(config.alerts.webhook ? [`webhook ${new URL(config.alerts.webhook.url).origin}`] : []),
  ];
  return channels.length > 0 ? channels.join(' and ') : 'recorded only: set GETRESULTS_ALERT_SMTP_URL and GETRESULTS_ALERT_EMAIL_TO, or GETRESULTS_ALERT_WEBHOOK_URL';
}
