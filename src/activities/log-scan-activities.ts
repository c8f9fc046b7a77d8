import { Context } from '@temporalio/activity';
import type { MikroORM } from '@mikro-orm/postgresql';
import { LogScanner } from '../access-log/log-scanner';
import type { Config } from '../config/config';
import { LogScanRun } from '../db/entities';
import { loadCursor, planRead, readPlanned, saveCursor } from '../receipts/log-cursor';
import type { LogSource } from '../receipts/log-source';
import { recordFetches, scannedHit, type ScannedHit } from '../receipts/record-fetches';
import type { ResultWorkflows } from '../temporal/result-workflows';
import type { ProcessMetrics } from '../observability/metrics';

export interface LogScanActivityDeps {
  orm: MikroORM;
  workflows: ResultWorkflows;
  config: Config['accessLog'];
  /** Undefined when no access log is configured. */
  source?: LogSource;
  /** Where the scan's lag (bytes of the log not yet read) is reported for /metrics. */
  metrics?: Pick<ProcessMetrics, 'scanLagBytes'>;
}

export interface ScanSummary {
  source: string | null;
  bytesRead: number;
  linesRead: number;
  hits: number;
  acknowledged: number;
  unknownHits: number;
  /** Fetches of delivered files that the clinic folder's receipt rule does not accept (not acknowledgements). */
  foreignHits: number;
  parseErrors: number;
  notes: string[];
}

/**
 * Reads what is new in server B's access log, records every receipt-grade fetch and wakes the file workflows.
 * The cursor moves only after a chunk's hits are recorded, so a crash re-reads (harmlessly) rather than skips.
 */
export function createLogScanActivities(deps: LogScanActivityDeps) {
  return {
    async scanAccessLogOnce(input: { workflowId: string; runId: string }): Promise<ScanSummary> {
      const summary: ScanSummary = { source: deps.source?.name ?? null, bytesRead: 0, linesRead: 0, hits: 0, acknowledged: 0, unknownHits: 0, foreignHits: 0, parseErrors: 0, notes: [] };
      const { source, config } = deps;
      if (!source || !config.location) {
        summary.notes.push('No access log is configured (GETRESULTS_ACCESS_LOG); nothing to scan.');
        return summary;
      }
      const location = config.location.replace(/^sftp:/, '');
      const rotated = config.rotatedLocation?.replace(/^sftp:/, '');
      const started = Date.now();
      const em = deps.orm.em.fork();
      const run =
        (await em.findOne(LogScanRun, { runId: input.runId })) ??
        em.create(LogScanRun, { workflowId: input.workflowId, runId: input.runId, source: source.name, startedAt: new Date() });
      await em.flush();

      const plan = await planRead(source, location, rotated, await loadCursor(deps.orm, source));
      summary.notes.push(...plan.notes);
      const errorSamples: Array<{ offset: number; line: string }> = [];

      for (const part of plan.parts) {
        const pending: ScannedHit[] = [];
        const scanner = new LogScanner({
          format: config.format,
          pattern: config.pattern,
          startOffset: part.from,
          probeLines: part.from === 0 ? 1000 : 0,
          onHit: (hit, lineOffset) => pending.push(scannedHit(hit, part.fileIdentity, lineOffset)),
        });
        let before = { lines: 0, parseErrors: 0 };
        for await (const segment of readPlanned(source, { parts: [part], notes: [] }, config.chunkBytes)) {
          scanner.push(segment.data);
          summary.bytesRead += segment.data.length;
          const counts = await recordFetches({ orm: deps.orm, workflows: deps.workflows, urlPrefix: config.urlPrefix }, pending.splice(0));
          summary.hits += counts.hits;
          summary.acknowledged += counts.matched;
          summary.unknownHits += counts.unknownHits;
          summary.foreignHits += counts.foreignHits;
          const stats = scanner.stats();
          summary.linesRead += stats.lines - before.lines;
          summary.parseErrors += stats.parseErrors - before.parseErrors;
          before = { lines: stats.lines, parseErrors: stats.parseErrors };
          for (const sample of stats.errorSamples) if (errorSamples.length < 10 && !errorSamples.some((s) => s.offset === sample.offset)) errorSamples.push(sample);
          await saveCursor(deps.orm, source, part.file, part.fileIdentity, stats.resumeOffset);
          Context.current().heartbeat({ file: part.file, offset: stats.resumeOffset });
        }
      }

      Object.assign(run, {
        finishedAt: new Date(),
        bytesRead: summary.bytesRead,
        linesRead: summary.linesRead,
        hits: summary.hits,
        acknowledged: summary.acknowledged,
        unknownHits: summary.unknownHits,
        foreignHits: summary.foreignHits,
        parseErrors: summary.parseErrors,
        errorSamples: errorSamples.length ? errorSamples : null,
        notes: summary.notes.length ? summary.notes : null,
        durationMs: Date.now() - started,
      });
      await em.flush();
      if (deps.metrics) {
        // Behind = the log's size now minus where the cursor stands (0 when the log is gone or was just rotated).
        const [size, after] = await Promise.all([source.size(location), loadCursor(deps.orm, source)]);
        deps.metrics.scanLagBytes.set(Math.max(0, (size ?? 0) - (after?.offset ?? 0)));
      }
      return summary;
    },
  };
}

export type LogScanActivities = ReturnType<typeof createLogScanActivities>;
