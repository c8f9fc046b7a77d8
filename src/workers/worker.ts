import { existsSync } from 'node:fs';
import { DefaultLogger, NativeConnection, Runtime, Worker, type LogEntry, type WorkerOptions } from '@temporalio/worker';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { PayloadCodec } from '@temporalio/common';
import { alertChannelsFrom, createAlertActivities } from '../activities/alert-activities';
import { createHostFileActivities } from '../activities/host-file-activities';
import { createFileSteps } from '../activities/file-steps';
import { createHandoverActivities } from '../activities/handover-activities';
import { createLedgerActivities } from '../activities/ledger-activities';
import { HotPathSql } from '../db/hot-path-sql';
import { createLogScanActivities } from '../activities/log-scan-activities';
import { createLogSource } from '../receipts/create-log-source';
import { explainConnectFailure, type TemporalEndpoint } from '../temporal/connection-security';
import { encryptingDataConverter } from '../temporal/data-converter';
import { ensureSearchAttributes } from '../temporal/search-attribute-registration';
import type { ResultWorkflows } from '../temporal/result-workflows';
import { logger } from '../observability/logger';
import type { ProcessMetrics } from '../observability/metrics';
import type { Config } from '../config/config';
import { IdentifierPatterns } from '../domain/identifier-patterns';
import type { Destination } from '../transfer/destination';
import { SHARED_TASK_QUEUE, fileTaskQueueFor } from '../workflows/definitions';
import { WORKFLOW_BUNDLE_PATH } from './bundle-workflows';
import { autoHeartbeat } from './auto-heartbeat';
import { registerUploadHost } from '../labs/upload-hosts';

export interface WorkerDeps {
  config: Config;
  /** From connectForWorkers; the caller closes it once the workers have stopped. */
  connection: NativeConnection;
  /** The log scan signals file workflows through these, built on `connection` (resultWorkflowsOn). */
  workflows: ResultWorkflows;
  orm: MikroORM;
  destination: Destination;
  /** Encrypts every payload sent to Temporal (requirePayloadCodec). */
  payloadCodec: PayloadCodec;
  /** Serve the file activities of this host (default true). */
  serveFiles?: boolean;
  /** This process's metrics (src/observability/metrics.ts): the receipt scan reports its lag there. */
  metrics?: ProcessMetrics;
  /** The web page's address as people reach it, for the links in alerts. */
  webBaseUrl?: string;
}

export interface RunningWorkers {
  /** Resolves when both workers have stopped (and released the connection). */
  done: Promise<void>;
  shutdown(): Promise<void>;
}

let runtimeInstalled = false;

/**
 * The SDK logs every failed activity attempt with its whole error, and our errors name files, folders and identifiers
 * (a database error even quotes the row). Such details stay in Temporal (encrypted) and in the database's file events;
 * the log gets the error's kind and the ids (workflow, run, activity) only, through the process's logger.
 */
function logWithoutErrorDetails(entry: LogEntry): void {
  const fields = Object.fromEntries(
    Object.entries(entry.meta ?? {}).map(([key, value]) => {
      const detailed = value instanceof Error || (['error', 'failure', 'err', 'cause'].includes(key) && typeof value === 'object' && value !== null);
      if (!detailed) return [key, value];
      const type = (value as { type?: unknown }).type;
      // eslint-disable-next-line @typescript-eslint/no-base-to-string, @typescript-eslint/restrict-template-expressions -- Errors and Temporal failures name themselves with a string
      return [key, `${(value as { name?: unknown }).name ?? 'failure'}${typeof type === 'string' ? ` (${type})` : ''}: details withheld from the log`];
    }),
  );
  const level = ({ TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const)[entry.level];
  logger()[level](fields, entry.message);
}

/**
 * The connection a process with workers opens. The SDK's Runtime (our log filter) must be installed before the first
 * NativeConnection exists, so everything that connects for workers comes here. Clients may share it (resultWorkflowsOn),
 * which keeps such a process at one connection.
 */
export async function connectForWorkers(endpoint: TemporalEndpoint, command: string, options: { sdkMetricsAddress?: string } = {}): Promise<NativeConnection> {
  if (!runtimeInstalled) {
    // Our own log lines say what matters; the SDK's per-poll chatter at INFO only buries them. Its runtime metrics
    // (polls, task latencies, slots) go to a Prometheus exporter on loopback, which our /metrics passes on.
    Runtime.install({
      logger: new DefaultLogger('WARN', logWithoutErrorDetails),
      telemetryOptions: {
        logging: { filter: 'ERROR', forward: {} },
        ...(options.sdkMetricsAddress ? { metrics: { prometheus: { bindAddress: options.sdkMetricsAddress } } } : {}),
      },
    });
    runtimeInstalled = true;
  }
  // A Temporal server that has just opened its port may still answer "Frontend is not healthy yet" (the dev server
  // that `start` launches, or a cluster restarting beside this worker): keep trying for a while rather than fail.
  const deadline = Date.now() + CONNECT_PATIENCE_MS;
  for (let delay = 200; ; delay = Math.min(delay * 2, 2_000)) {
    try {
      return await NativeConnection.connect({ address: endpoint.address, tls: endpoint.tls, apiKey: endpoint.apiKey });
    } catch (err) {
      // A refused certificate or key will not get better by waiting: only a server still starting up is waited for.
      const explained = await explainConnectFailure(err, endpoint, command);
      if (Date.now() + delay > deadline || explained.tlsProblem) throw explained;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** How long connecting to Temporal is retried before a worker process gives up (and its supervisor restarts it). */
const CONNECT_PATIENCE_MS = 30_000;

/**
 * Two workers in one process, on two queues, so several labs' upload hosts can feed one Temporal cluster:
 * - the shared queue runs the log scan, the alert sweep, resends, and the distributeFile (v1) runs still under way, with their database
 *   (local) activities;
 * - this host's queue runs the distributeFileV2/V3 workflows of the files in its upload folder, with their checking,
 *   archiving and database steps as local activities, and every activity that touches the files here (transfers,
 *   and v1's file activities). A host's worker therefore needs the database too (docs/deployment.md).
 */
export async function startWorkers(deps: WorkerDeps): Promise<RunningWorkers> {
  const { config, connection } = deps;
  const dataConverter = encryptingDataConverter(deps.payloadCodec);
  const logSource = createLogSource(config);
  const workflowCode: Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> = existsSync(WORKFLOW_BUNDLE_PATH)
    ? { workflowBundle: { codePath: WORKFLOW_BUNDLE_PATH } }
    : { workflowsPath: require.resolve('../workflows') };
  // Each file's ledger writes go through a pool of their own (src/db/hot-path-sql.ts), beside the ORM's.
  const hotPath = HotPathSql.forOrm(deps.orm);
  // A host's worker records its host and lab on every file it receives; it registers first (and refuses to start in
  // a lab the host does not belong to). A database-only worker holds no files.
  const host = deps.serveFiles !== false ? await registerUploadHost(deps.orm.em.fork(), config.hostId, config.lab) : undefined;
  const ledgerActivities = createLedgerActivities({ orm: deps.orm, hotPath, host });
  const alertChannels = alertChannelsFrom(config.alerts);
  const workers: Worker[] = [
    await Worker.create({
      connection,
      namespace: config.temporal.namespace,
      dataConverter,
      taskQueue: SHARED_TASK_QUEUE,
      ...workflowCode,
      maxCachedWorkflows: config.workflowCache,
      activities: {
        ...ledgerActivities,
        ...createLogScanActivities({ orm: deps.orm, workflows: deps.workflows, config: config.accessLog, source: logSource, metrics: deps.metrics }),
        ...createAlertActivities({
          orm: deps.orm,
          workflows: deps.workflows,
          alerts: config.alerts,
          unfetchedAfterDays: config.ops.unfetchedAfterDays,
          receiptScanInterval: config.accessLog.location ? config.accessLog.scanInterval : undefined,
          linkBase: deps.webBaseUrl,
          channels: alertChannels,
        }),
      },
    }),
  ];
  if (deps.serveFiles !== false) {
    // The file workflows this host's watcher starts carry our search attributes; an unknown one would refuse them all.
    await ensureSearchAttributes(connection, config.temporal.namespace);
    const fileActivities = createHostFileActivities({
      uploadDir: config.uploadDir,
      patterns: new IdentifierPatterns(config.patterns),
      destination: deps.destination,
      maxFileBytes: config.maxFileBytes,
      archiveDir: config.archiveDir,
      rejectedDir: config.rejectedDir,
      duplicatesDir: config.duplicatesDir,
    });
    workers.push(
      await Worker.create({
        connection,
        namespace: config.temporal.namespace,
        dataConverter,
        taskQueue: fileTaskQueueFor(config.hostId),
        ...workflowCode,
        // Not the SDK's default (sized from the heap, thousands): a backlog of 10,000 files then held each waiting run
        // in memory (1.35 GB of RSS measured); a run waiting for its receipt has nothing to do until it comes.
        maxCachedWorkflows: config.workflowCache,
        activities: {
          ...fileActivities,
          ...ledgerActivities,
          ...createFileSteps({ files: fileActivities, ledger: ledgerActivities, quickSendMaxBytes: config.quickSendMaxBytes }),
          // The web page reaches this host's files through these (src/workflows/host-handover.ts).
          ...createHandoverActivities({
            orm: deps.orm,
            host: host!,
            keptFileRoots: [config.archiveDir, config.rejectedDir, config.duplicatesDir],
            uploadDir: config.uploadDir,
            maxFileBytes: config.maxFileBytes,
          }),
        },
        // Transfers are network-bound: several at once keep the SSH pool busy without loading the CPU.
        maxConcurrentActivityTaskExecutions: 32,
        // The quick file activities have a short heartbeat timeout (see distribute-file.ts): a crashed worker's are retried soon.
        interceptors: { activity: [autoHeartbeat({ except: ['transferFile'] })] },
      }),
    );
  }
  const closeLogSource = async () => {
    for (const channel of alertChannels) channel.close();
    await logSource?.close();
    await hotPath.close();
  };
  const done = Promise.all(workers.map((w) => w.run())).then(closeLogSource, async (err) => {
    await closeLogSource();
    throw err;
  });
  return {
    done,
    async shutdown() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await done;
    },
  };
}
