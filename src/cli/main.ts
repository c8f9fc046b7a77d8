import { IdentifierPatterns } from '../domain/identifier-patterns';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { serve } from '@hono/node-server';
import type { PayloadCodec } from '@temporalio/common';
import { Command } from 'commander';
import { loadConfig, SETTINGS_DOC, type Config } from '../config/config';
import { RemoteFolder, User } from '../db/entities';
import { startEmbeddedPostgres } from '../db/embedded-postgres';
import { migrate, openOrm, type Orm } from '../db/orm';
import { retryWaitingFiles } from '../folders/retry-waiting';
import { connectResultWorkflows, resultWorkflowsOn } from '../temporal/client';
import { AesGcmPayloadCodec, createKeysFile, loadKeyRing, requirePayloadCodec } from '../temporal/payload-codec';
import { startDevServer } from '../temporal/dev-server';
import { SEARCH_ATTRIBUTE_REGISTRATIONS } from '../workflows/search-attributes';
import type { ResultWorkflows } from '../temporal/result-workflows';
import { createDestination } from '../transfer/create-destination';
import { submitUpload } from '../trigger/submit-upload';
import { watchUploads } from '../trigger/watcher';
import { addUser } from '../web/auth/users';
import { readCodecTokens } from '../web/routes/codec';
import { createWebApp } from '../web/app';
import { fileTaskQueueFor } from '../workflows/definitions';
import { ALERT_SCHEDULE_ID, LOG_SCAN_SCHEDULE_ID } from '../workflows/names';
import { connectForWorkers, startWorkers, type RunningWorkers, type WorkerDeps } from '../workers/worker';
import { loadFoldersCsv } from './folders-load';
import { registerLabsCommands } from './labs-commands';
import { registerAlertsCommands } from './alerts-commands';
import { registerArchiveCommands } from './archive-commands';
import { registerBackupCommands } from './backup-commands';
import { registerHostsCommands } from './hosts-commands';
import { registerServerBCommands } from './serverb-commands';
import { deploymentHasSeveralLabs, registerUploadHost, registeredUploadHost } from '../labs/upload-hosts';
import { placeOnHost, type UploadPlacement } from '../web/uploads/upload-placement';
import { logger, useLogFormat } from '../observability/logger';
import { createProcessMetrics, instrumentDestination, registerFileGauges, type ProcessMetrics } from '../observability/metrics';
import { freeLoopbackPort, readMetricsTokens, serveOps } from '../observability/ops-server';
import type { HealthCheck } from '../web/health';
import type { Destination } from '../transfer/destination';
import { registerOfflineCommands } from './offline-commands';
import { registerUsersCommands } from './users-commands';
import { registerParseLogCommand } from './parse-log-command';
import { registerAuditCommands } from './audit-commands';
import { log, openMigratedOrm, requireDatabaseUrl, requirePortFree, requireTemporalAddress, requireTemporalEndpoint, untilStopSignal } from './runtime';
import { standInLogPath, startStandInServerB, wantsStandIn, withStandInReceipts } from '../serverb/stand-in';
import type { TemporalEndpoint } from '../temporal/connection-security';

type Stopper = () => Promise<void>;

/** Stops what was started, newest first, logging (not throwing) failures so every part gets its turn. */
async function stopAll(stoppers: Stopper[]): Promise<void> {
  for (const stop of stoppers.reverse()) {
    await stop().catch((err: Error) => log(`While stopping: ${err.message}`));
  }
}

/** For a process without workers: its one connection to Temporal, closed once the parts using it have stopped. */
async function connectWorkflows(config: Config, command: string, payloadCodec: PayloadCodec, stoppers: Stopper[]): Promise<ResultWorkflows> {
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
async function startWorkersWithConnection(
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
async function startWatcher(config: Config, workflows: ResultWorkflows, metrics: ProcessMetrics, stoppers: Stopper[]): Promise<string> {
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

async function startWeb(
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
function webBaseUrl(config: Config, port = config.web.port): string {
  const host = config.web.host === '0.0.0.0' || config.web.host === '::' ? '127.0.0.1' : config.web.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

async function seedFoldersIfEmpty(orm: Orm, config: Config): Promise<void> {
  const em = orm.em.fork();
  if ((await em.count(RemoteFolder, {})) > 0) return;
  const { summary, warnings } = await loadFoldersCsv(em, config.foldersCsv, config.lab);
  log(`Loaded ${summary.added} remote folders from ${config.foldersCsv} (the table was empty).`);
  for (const w of warnings) log(`  note: ${w}`);
}

/**
 * On a fresh install there is nobody to log in as: create `admin` with a random password, kept in a file readable by
 * this user only (never printed, so it cannot end up in a log).
 */
async function ensureFirstAdmin(orm: Orm, config: Config): Promise<string | undefined> {
  const em = orm.em.fork();
  if ((await em.count(User, {})) > 0) return undefined;
  const password = randomBytes(15).toString('base64url');
  const file = path.join(config.dataDir, 'initial-admin-password');
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  await addUser(em, 'admin', password, 'admin');
  return file;
}

/**
 * Nothing reaches Temporal unencrypted, not even the embedded dev server: with no key configured, `start` makes one
 * (DATA/payload-keys.json, readable by this user only) on first run and keeps using it.
 */
async function startPayloadCodec(config: Config): Promise<{ codec: AesGcmPayloadCodec; shown: string }> {
  if (loadKeyRing(config.payloadKeys)) {
    return { codec: requirePayloadCodec(config.payloadKeys, 'getresults start'), shown: config.payloadKeys.keysFile ?? 'GETRESULTS_PAYLOAD_KEY' };
  }
  const file = path.join(config.dataDir, 'payload-keys.json');
  let shown = `${file} (other processes need GETRESULTS_PAYLOAD_KEYS_FILE=${file})`;
  if (!existsSync(file)) {
    await createKeysFile(file);
    shown = `${file} (new; back it up: without it Temporal's stored data cannot be read)`;
  }
  config.payloadKeys = { keysFile: file };
  return { codec: requirePayloadCodec(config.payloadKeys, 'getresults start'), shown };
}

/** The ports `start` listens on, checked before anything starts (a taken one names its setting). */
async function requirePortsFree(config: Config, standIn: boolean): Promise<void> {
  if (!config.databaseUrl) await requirePortFree('127.0.0.1', config.embeddedPostgresPort, 'the embedded PostgreSQL', 'GETRESULTS_EMBEDDED_PG_PORT');
  if (!config.temporal.address) {
    await requirePortFree('127.0.0.1', config.temporal.devServerPort, 'the Temporal dev server', 'GETRESULTS_TEMPORAL_PORT');
    await requirePortFree('127.0.0.1', config.temporal.devServerUiPort, 'the Temporal UI', 'GETRESULTS_TEMPORAL_UI_PORT');
  }
  await requirePortFree(config.web.host, config.web.port, 'the web page', 'GETRESULTS_WEB_PORT');
  if (standIn) await requirePortFree('127.0.0.1', config.standIn.port, 'the stand-in server B', 'GETRESULTS_STANDIN_PORT', 'GETRESULTS_STANDIN=off');
}

async function commandStart(): Promise<void> {
  const loaded = loadConfig();
  useLogFormat('start', loaded.logFormat ?? 'text');
  // On its embedded default (a local destination folder, no server B), start also stands in for server B's web
  // server, so the receipts can be seen working (src/serverb/stand-in.ts).
  const standIn = wantsStandIn(loaded);
  const config = standIn ? withStandInReceipts(loaded) : loaded;
  const stoppers: Stopper[] = [];
  try {
    await requirePortsFree(config, standIn);
    const payloadKeys = await startPayloadCodec(config);
    log(`Folders under ${config.dataDir}: upload, archive, rejected, duplicates${config.destination.kind === 'local' ? ', destination' : ''}.`);
    for (const dir of [config.uploadDir, config.archiveDir, config.rejectedDir, config.duplicatesDir]) await mkdir(dir, { recursive: true });
    if (config.destination.kind === 'local') await mkdir(config.destination.basePath, { recursive: true });

    let databaseUrl = config.databaseUrl;
    let databaseShown = 'DATABASE_URL';
    if (!databaseUrl) {
      log(`Starting the embedded PostgreSQL on 127.0.0.1:${config.embeddedPostgresPort} (the first start creates it, which takes a few seconds)…`);
      const pg = await startEmbeddedPostgres(config.dataDir, config.embeddedPostgresPort, () => undefined);
      stoppers.push(() => pg.stop());
      databaseUrl = pg.url;
      databaseShown = `${pg.displayUrl} (embedded, files in ${pg.clusterDir}; password in ${path.join(config.dataDir, 'postgres', 'password')})`;
    }
    const orm = await openOrm(databaseUrl);
    stoppers.push(() => orm.close());
    const applied = await migrate(orm);
    log(applied.length > 0 ? `Database migrations applied: ${applied.join(', ')}.` : 'Database schema is up to date.');
    await seedFoldersIfEmpty(orm, config);
    const firstAdminFile = await ensureFirstAdmin(orm, config);

    let temporalEndpoint = config.temporal.address ? requireTemporalEndpoint(config, 'getresults start') : undefined;
    let temporalUi = config.temporal.uiUrl;
    if (!temporalEndpoint) {
      log(`Starting the Temporal dev server on 127.0.0.1:${config.temporal.devServerPort} (UI on ${config.temporal.devServerUiPort})…`);
      const dev = await startDevServer({
        cliPath: config.temporal.cliPath,
        port: config.temporal.devServerPort,
        uiPort: config.temporal.devServerUiPort,
        dbFile: path.join(config.dataDir, 'temporal', 'temporal.db'),
        logFile: path.join(config.dataDir, 'logs', 'temporal.log'),
        namespace: config.temporal.namespace,
        // The web page starts later on this address; its /codec lets a signed-in user read payloads in the UI.
        uiCodecEndpoint: `${webBaseUrl(config)}/codec`,
        // Lab, host, state and file id, for filtering in the Temporal UI (src/workflows/search-attributes.ts).
        searchAttributes: SEARCH_ATTRIBUTE_REGISTRATIONS,
      });
      stoppers.push(() => dev.stop());
      // The embedded dev server listens on loopback only, in plain gRPC: the TLS settings are for a real cluster.
      temporalEndpoint = { address: dev.address, tls: false };
      temporalUi ??= dev.uiUrl;
    }
    const serverB = standIn
      ? await startStandInServerB({ root: config.destination.basePath, port: config.standIn.port, logPath: standInLogPath(config) })
      : undefined;
    if (serverB) stoppers.push(() => serverB.stop());

    log('Starting the workers, the watcher and the web page…');
    const metrics = createProcessMetrics('start');
    const destination = instrumentDestination(createDestination(config.destination), metrics);
    stoppers.push(() => destination.close());
    const { workers, workflows, sdkMetricsUrl } = await startWorkersWithConnection(
      { config, temporalEndpoint, command: 'getresults start', orm, destination, payloadCodec: payloadKeys.codec, metrics },
      stoppers,
    );
    const detection = await startWatcher(config, workflows, metrics, stoppers);
    await workflows.ensureAlertSchedule(config.alerts.interval);
    let receipts = 'off (set GETRESULTS_ACCESS_LOG to server B\'s Apache access log)';
    if (config.accessLog.location) {
      await workflows.ensureLogScanSchedule(config.accessLog.scanInterval);
      receipts = `${config.accessLog.location} every ${config.accessLog.scanInterval} (${serverB ? 'the stand-in\'s log; ' : ''}Temporal Schedule ${LOG_SCAN_SCHEDULE_ID})`;
    }
    const webUrl = await startWeb(config, orm, { uiUrl: temporalUi, workflows, payloadCodec: payloadKeys.codec }, { metrics, sdkMetricsUrl, destination, logRequests: config.logFormat === 'json' }, stoppers);

    const lines = [
      'getresults-distribute is running.',
      `  Upload folder:   ${config.uploadDir}   (drop result PDFs here)`,
      `  Noticed by:      ${detection}`,
      `  Destination:     ${destination.description}`,
      `  Archive:         ${config.archiveDir}`,
      `  Rejected files:  ${config.rejectedDir}`,
      ...(serverB
        ? [`  Server B:        stand-in at ${serverB.url} serving ${config.destination.basePath} (open ${serverB.url}<folder>/<file name> as a clinic would: the file turns fetched at the next scan)`]
        : []),
      `  Receipt scan:    ${receipts}`,
      `  Alerts:          ${alertChannelsShown(config)} (getresults alerts list)`,
      `  Web page:        ${webUrl}   (health: ${webUrl}/healthz, ${webUrl}/readyz; metrics: ${webUrl}/metrics)`,
      ...(firstAdminFile
        ? [`  First login:     user "admin", password in ${firstAdminFile} (change it: getresults users passwd admin)`]
        : []),
      `  Temporal UI:     ${temporalUi ?? '(set TEMPORAL_UI_URL to show it here)'}`,
      `  Temporal:        ${temporalEndpoint.address}${temporalEndpoint.tls ? ' (TLS)' : ''} namespace ${config.temporal.namespace}`,
      `  Payload key:     ${payloadKeys.shown}`,
      `  Database:        ${databaseShown}`,
      `  Back up:         getresults backup --to DIR (database, folders, payload keys${config.temporal.address ? '' : ', the embedded Temporal'}; docs/deployment.md)`,
      'Press Ctrl+C to stop.',
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    const signal = await Promise.race([untilStopSignal(), workers.done.then(() => 'workers stopped' as const)]);
    log(`Stopping (${signal})…`);
  } finally {
    await stopAll(stoppers);
  }
}

async function commandWorker(opts: { files: boolean }): Promise<void> {
  const config = loadConfig();
  useLogFormat('worker', config.logFormat ?? 'json');
  const temporalEndpoint = requireTemporalEndpoint(config, 'getresults worker');
  const payloadCodec = requirePayloadCodec(config.payloadKeys, 'getresults worker');
  const stoppers: Stopper[] = [];
  try {
    const orm = await openMigratedOrm(requireDatabaseUrl(config, 'getresults worker'));
    stoppers.push(() => orm.close());
    const metrics = createProcessMetrics('worker');
    const destination = instrumentDestination(createDestination(config.destination), metrics);
    stoppers.push(() => destination.close());
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

async function commandWeb(opts: { port?: string }): Promise<void> {
  const config = loadConfig();
  useLogFormat('web', config.logFormat ?? 'json');
  if (opts.port !== undefined) config.web.port = Number(opts.port);
  const stoppers: Stopper[] = [];
  try {
    const orm = await openMigratedOrm(requireDatabaseUrl(config, 'getresults web'));
    stoppers.push(() => orm.close());
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

async function commandMigrate(): Promise<void> {
  const config = loadConfig();
  const orm = await openOrm(requireDatabaseUrl(config, 'getresults migrate'));
  try {
    const applied = await migrate(orm);
    log(applied.length ? `Applied migrations: ${applied.join(', ')}` : 'The database is up to date.');
  } finally {
    await orm.close();
  }
}

async function commandFoldersLoad(csv: string, opts: { lab?: string }): Promise<void> {
  const config = loadConfig();
  const orm = await openMigratedOrm(requireDatabaseUrl(config, 'getresults folders load'));
  try {
    const { summary, warnings } = await loadFoldersCsv(orm.em.fork(), csv, opts.lab ?? config.lab);
    log(`Remote folders: ${summary.added} added, ${summary.changed.length} changed, ${summary.unchanged} unchanged, ${summary.notInCsv} kept that the CSV does not list.`);
    for (const c of summary.changed) log(`  changed ${c.label} ${c.folderTag}: ${c.from} -> ${c.to}`);
    for (const w of warnings) log(`  note: ${w}`);
    if (config.temporal.address) {
      const command = 'getresults folders load';
      const { workflows, close } = await connectResultWorkflows(
        {
          endpoint: requireTemporalEndpoint(config, command),
          namespace: config.temporal.namespace,
          payloadCodec: requirePayloadCodec(config.payloadKeys, `${command} (with TEMPORAL_ADDRESS)`),
        },
        command,
      );
      try {
        const { signalled, failed } = await retryWaitingFiles(orm.em.fork(), workflows, ['NEEDS_FOLDER']);
        log(`Asked ${signalled} file(s) waiting for a folder to try again${failed ? ` (${failed} could not be reached)` : ''}.`);
      } finally {
        await close();
      }
    } else {
      log('TEMPORAL_ADDRESS is not set: files waiting for a folder were not told to retry.');
    }
  } finally {
    await orm.close();
  }
}

async function commandSchedule(): Promise<void> {
  const config = loadConfig();
  const { workflows, close } = await connectResultWorkflows(
    {
      endpoint: requireTemporalEndpoint(config, 'getresults schedule'),
      namespace: config.temporal.namespace,
      payloadCodec: requirePayloadCodec(config.payloadKeys, 'getresults schedule'),
    },
    'getresults schedule',
  );
  try {
    if (config.accessLog.location) {
      const outcome = await workflows.ensureLogScanSchedule(config.accessLog.scanInterval);
      log(`Schedule ${LOG_SCAN_SCHEDULE_ID} ${outcome}: scans ${config.accessLog.location} every ${config.accessLog.scanInterval} (overlaps skipped).`);
    } else {
      log(`GETRESULTS_ACCESS_LOG is not set: no receipt scan scheduled (${LOG_SCAN_SCHEDULE_ID}).`);
    }
    const alerts = await workflows.ensureAlertSchedule(config.alerts.interval);
    log(`Schedule ${ALERT_SCHEDULE_ID} ${alerts}: looks for what needs a person every ${config.alerts.interval} (${alertChannelsShown(config)}).`);
  } finally {
    await close();
  }
}

/** Where alerts go, for the start banner and `getresults schedule`. */
function alertChannelsShown(config: Config): string {
  const channels = [
    ...(config.alerts.email ? [`e-mail to ${config.alerts.email.to.join(', ')}`] : []),
    ...(config.alerts.webhook ? [`webhook ${new URL(config.alerts.webhook.url).origin}`] : []),
  ];
  return channels.length > 0 ? channels.join(' and ') : 'recorded only: set GETRESULTS_ALERT_SMTP_URL and GETRESULTS_ALERT_EMAIL_TO, or GETRESULTS_ALERT_WEBHOOK_URL';
}

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

export function buildProgram(): Command {
  const program = new Command('getresults')
    .description('Delivers laboratory result PDFs to clinic folders over SSH, one durable Temporal workflow per file, and proves receipt.')
    .showHelpAfterError()
    .addHelpText(
      'after',
      `\nConfiguration comes from environment variables (see README):\n${SETTINGS_DOC.map((s) => `  ${s.name}`).join('\n')}`,
    );
  program
    .command('start')
    .description('Run everything in one process on embedded defaults: PostgreSQL and a Temporal dev server when not configured, worker, watcher and web page.')
    .action(commandStart);
  program
    .command('worker')
    .description('Run the Temporal worker (workflows, database activities, and this host\'s file activities). Needs DATABASE_URL and TEMPORAL_ADDRESS.')
    .option('--no-files', 'do not serve this host\'s file activities (a database-only worker)')
    .action(commandWorker);
  program.command('watch').description('Watch the upload folder and start one workflow per complete file. Needs TEMPORAL_ADDRESS.').action(commandWatch);
  program
    .command('web')
    .description('Serve the web page. Needs DATABASE_URL.')
    .option('--port <port>', 'port to listen on (default GETRESULTS_WEB_PORT or 3000)')
    .action(commandWeb);
  program.command('migrate').description('Apply database migrations. Needs DATABASE_URL.').action(commandMigrate);
  program
    .command('schedule')
    .description('Create or update the Temporal Schedules: the scan of server B\'s access log for proof of receipt (when GETRESULTS_ACCESS_LOG is set) and the alert sweep. Needs TEMPORAL_ADDRESS.')
    .action(commandSchedule);
  program
    .command('retry')
    .description('Ask waiting files to try again now (after a folder mapping was added or a host key fixed).')
    .option('--state <state...>', 'which waiting states', ['NEEDS_FOLDER', 'TRANSFER_BLOCKED'])
    .action(commandRetry);
  const folders = program.command('folders').description('The remote-folder table (clinic hint -> folder on server B).');
  folders
    .command('load')
    .description('Load a remote-folder CSV (base_path,folder,folder_tag,label) into the database, report near-duplicates, and wake files waiting for a folder.')
    .argument('<csv>', 'the CSV file')
    .option('--lab <name>', 'the lab whose table is loaded (default GETRESULTS_LAB)')
    .action(commandFoldersLoad);
  registerOfflineCommands(program, folders);
  registerUsersCommands(program);
  registerLabsCommands(program);
  registerHostsCommands(program);
  registerAlertsCommands(program);
  registerBackupCommands(program);
  registerArchiveCommands(program);
  registerServerBCommands(program);
  registerParseLogCommand(program);
  registerAuditCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  // An explicit GETRESULTS_LOG_FORMAT applies to every command (the long-running ones set their own default).
  const format = process.env.GETRESULTS_LOG_FORMAT;
  if (format === 'json' || format === 'text') useLogFormat(argv[2] ?? 'getresults', format);
  await buildProgram().parseAsync(argv);
}
