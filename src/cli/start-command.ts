import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig, type Config } from '../config/config';
import { RemoteFolder, User } from '../db/entities';
import { startEmbeddedPostgres } from '../db/embedded-postgres';
import type { Orm } from '../db/orm';
import { AesGcmPayloadCodec, createKeysFile, loadKeyRing, requirePayloadCodec } from '../temporal/payload-codec';
import { startDevServer } from '../temporal/dev-server';
import { SEARCH_ATTRIBUTE_REGISTRATIONS } from '../workflows/search-attributes';
import { addUser } from '../web/auth/users';
import { LOG_SCAN_SCHEDULE_ID } from '../workflows/names';
import { loadFoldersCsv } from './folders-load';
import { useLogFormat } from '../observability/logger';
import { createProcessMetrics } from '../observability/metrics';
import { log, requirePortFree, requireTemporalEndpoint, untilStopSignal } from './runtime';
import { standInLogPath, startStandInServerB, wantsStandIn, withStandInReceipts } from '../serverb/stand-in';
import { alertChannelsShown, openDestination, openProcessOrm, type Stopper, startWatcher, startWeb, startWorkersWithConnection, stopAll, webBaseUrl } from './process-parts';

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
  return { codec: requirePayloadCodec({ keysFile: file }, 'getresults start'), shown };
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
    const { orm, applied } = await openProcessOrm(databaseUrl, stoppers);
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
    const destination = openDestination(config, metrics, stoppers);
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


/** `getresults start`: everything in one process, on embedded defaults where nothing is configured. */
export function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description('Run everything in one process on embedded defaults: PostgreSQL and a Temporal dev server when not configured, worker, watcher and web page.')
    .action(commandStart);
}
