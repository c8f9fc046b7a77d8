/**
 * Prometheus metrics (issue 14), through prom-client. One registry per process, passed to what records into it: no
 * module-level state. What a process can count itself (transfers, the scan's lag, files handed to Temporal) it
 * counts; what the database knows (files by state, waiting ages) is read when Prometheus scrapes, by the processes
 * that serve the web page (`start`, `web`), so it is not reported once per worker. No label carries a file name, an
 * identifier or a path: labs and states only.
 */
import type { MikroORM } from '@mikro-orm/postgresql';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { FILE_STATES } from '../domain/file-state';
import type { Destination } from '../transfer/destination';

export interface ProcessMetrics {
  registry: Registry;
  transferBytes: Counter<'outcome'>;
  transferSeconds: Histogram<'outcome'>;
  /** Bytes of server B's access log the receipt scan has not read yet, after its last scan in this process. */
  scanLagBytes: Gauge;
  filesSubmitted: Counter;
}

/** The metrics every process has: the process's own (CPU, memory, event loop) and the counters it may record. */
export function createProcessMetrics(processName: string): ProcessMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ process: processName });
  collectDefaultMetrics({ register: registry, prefix: 'getresults_' });
  return {
    registry,
    transferBytes: new Counter({ name: 'getresults_transfer_bytes_total', help: 'Bytes delivered to server B (verified copies).', labelNames: ['outcome'], registers: [registry] }),
    transferSeconds: new Histogram({
      name: 'getresults_transfer_duration_seconds',
      help: 'Time of one delivery to server B, from connect to verified rename.',
      labelNames: ['outcome'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [registry],
    }),
    scanLagBytes: new Gauge({ name: 'getresults_receipt_scan_lag_bytes', help: 'Bytes of server B\'s access log not yet read by the receipt scan (after its last scan here).', registers: [registry] }),
    filesSubmitted: new Counter({ name: 'getresults_files_submitted_total', help: 'Uploads this watcher handed to Temporal.', registers: [registry] }),
  };
}

/** Counts each delivery's bytes and time; everything else passes through. */
export function instrumentDestination(destination: Destination, metrics: ProcessMetrics): Destination {
  return {
    description: destination.description,
    async deliver(request) {
      const stop = metrics.transferSeconds.startTimer();
      try {
        const result = await destination.deliver(request);
        stop({ outcome: 'delivered' });
        metrics.transferBytes.inc({ outcome: 'delivered' }, request.size);
        return result;
      } catch (err) {
        stop({ outcome: 'failed' });
        throw err;
      }
    },
    withdraw: (request) => destination.withdraw(request),
    checkReachable: () => destination.checkReachable(),
    close: () => destination.close(),
  };
}

/** States in which a file waits for something (a folder, a host key, its transfer, its clinic's fetch). */
const WAITING_STATES = ['RECEIVED', 'NEEDS_FOLDER', 'TRANSFER_BLOCKED', 'SENT', 'AWAITING_ACK'] as const;

interface FileSnapshot {
  byLabAndState: Array<{ lab: string; state: string; files: number; oldestSeconds: number }>;
  unfetched: Array<{ lab: string; files: number }>;
  lastScanFinished: number | null;
}

/**
 * The database's view, read at each scrape (one round trip for all four gauges; two scrapes within a second share it):
 * files by lab and state, the oldest waiting file's age by state, files sent and not fetched after
 * `unfetchedAfterDays`, and when the last receipt scan finished.
 */
export function registerFileGauges(metrics: ProcessMetrics, orm: MikroORM, options: { unfetchedAfterDays: number }): void {
  let last: { at: number; snapshot: Promise<FileSnapshot> } | undefined;
  const snapshot = () => {
    if (!last || Date.now() - last.at > 1000) {
      const read = (async (): Promise<FileSnapshot> => {
        const [row] = await orm.em.fork().getConnection().execute<Array<{ states: FileSnapshot['byLabAndState'] | null; unfetched: FileSnapshot['unfetched'] | null; last_scan: string | null }>>(
          `select
             (select json_agg(s) from (select l.name as lab, f.state, count(*)::int as files,
                     extract(epoch from now() - min(f.uploaded_at))::float8 as "oldestSeconds"
                from result_file f join lab l on l.id = f.lab_id group by l.name, f.state) s) as states,
             (select json_agg(u) from (select l.name as lab, count(*)::int as files
                from result_file f join lab l on l.id = f.lab_id
               where f.state = 'AWAITING_ACK' and f.sent_at < now() - make_interval(days => ?)
               group by l.name) u) as unfetched,
             (select extract(epoch from max(finished_at))::text from log_scan_run) as last_scan`,
          [options.unfetchedAfterDays],
        );
        return { byLabAndState: row?.states ?? [], unfetched: row?.unfetched ?? [], lastScanFinished: row?.last_scan == null ? null : Number(row.last_scan) };
      })();
      last = { at: Date.now(), snapshot: read };
      read.catch(() => (last = undefined));
    }
    return last.snapshot;
  };
  const registers = [metrics.registry];
  new Gauge({
    name: 'getresults_files',
    help: 'Files by lab and state.',
    labelNames: ['lab', 'state'],
    registers,
    async collect() {
      this.reset();
      for (const r of (await snapshot()).byLabAndState) if ((FILE_STATES as readonly string[]).includes(r.state)) this.set({ lab: r.lab, state: r.state }, r.files);
    },
  });
  new Gauge({
    name: 'getresults_oldest_waiting_file_age_seconds',
    help: 'Age (since upload) of the oldest file waiting in each state, by lab.',
    labelNames: ['lab', 'state'],
    registers,
    async collect() {
      this.reset();
      for (const r of (await snapshot()).byLabAndState) if ((WAITING_STATES as readonly string[]).includes(r.state)) this.set({ lab: r.lab, state: r.state }, r.oldestSeconds);
    },
  });
  new Gauge({
    name: 'getresults_files_unfetched',
    help: `Files sent to their clinic folder and not fetched after ${options.unfetchedAfterDays} day(s), by lab.`,
    labelNames: ['lab'],
    registers,
    async collect() {
      this.reset();
      for (const r of (await snapshot()).unfetched) this.set({ lab: r.lab }, r.files);
    },
  });
  new Gauge({
    name: 'getresults_receipt_scan_last_finished_timestamp_seconds',
    help: 'When the last receipt scan of server B\'s access log finished (Unix time); 0 if none has.',
    registers,
    async collect() {
      this.set((await snapshot()).lastScanFinished ?? 0);
    },
  });
}

/**
 * The text a /metrics endpoint answers: this process's registry, then the Temporal SDK's own runtime metrics when the
 * process runs workers (its Prometheus exporter listens on `sdkMetricsUrl`, a loopback port only we read).
 */
export async function metricsText(metrics: ProcessMetrics, sdkMetricsUrl?: string): Promise<string> {
  const ours = await metrics.registry.metrics();
  if (!sdkMetricsUrl) return ours;
  const sdk = await fetch(sdkMetricsUrl, { signal: AbortSignal.timeout(2000) })
    .then((r) => (r.ok ? r.text() : ''))
    .catch(() => '');
  return sdk ? `${ours}\n# The Temporal SDK's runtime metrics (its Prometheus exporter)\n${sdk}` : ours;
}
