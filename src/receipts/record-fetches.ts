import { posix } from 'node:path';
import type { MikroORM } from '@mikro-orm/postgresql';
import { ResultFile } from '../db/entities';
import { FileLedger } from '../db/file-ledger';
import { compiledRules } from '../remote-folders/receipt-rules';
import type { ResultWorkflows } from '../temporal/result-workflows';
import type { FetchEvidence } from '../workflows/definitions';
import type { LogHit } from '../access-log/hit-rule';

/** A hit as the log scan read it: the hit, and the identity of its line in the log. */
export interface ScannedHit {
  hit: LogHit;
  /** Stable identity of the log line (file identity + byte offset). */
  evidenceKey: string;
  requestLine: string;
}

/** The hit whose line starts at byte `lineOffset` of the log file with identity `fileIdentity` (log-cursor.ts). */
export function scannedHit(hit: LogHit, fileIdentity: string, lineOffset: number): ScannedHit {
  return { hit, evidenceKey: `${fileIdentity.slice(0, 24)}:${lineOffset}`, requestLine: `GET ${hit.target}` };
}

export interface RecordCounts {
  hits: number;
  /** Receipts: hits of a delivered file (first fetch or later ones) that its clinic folder's rule accepts. */
  matched: number;
  /** Hits of no delivered file: kept as unknown fetches. */
  unknownHits: number;
  /** Hits of a delivered file that its clinic folder's receipt rule does not accept: kept as foreign fetches. */
  foreignHits: number;
}

/** States in which a file is at the clinic and a fetch of it counts. */
const DELIVERED_STATES = ['SENT', 'AWAITING_ACK', 'ACKNOWLEDGED', 'UNACKNOWLEDGED'] as const;

/** `/results/viral_load/x.pdf` under prefix `/results/` -> `viral_load/x.pdf`; null when outside the prefix. */
export function remotePathOf(urlPath: string, urlPrefix: string): string | null {
  const prefix = urlPrefix.endsWith('/') ? urlPrefix : `${urlPrefix}/`;
  const normalised = urlPath.startsWith('/') ? urlPath : `/${urlPath}`;
  if (!normalised.startsWith(prefix)) return null;
  return normalised.slice(prefix.length);
}

/** The folder a delivered file is in, as its clinic folder's receipt rule is keyed. */
function clinicFolderOfFile(row: { clinicFolder?: string | null; remotePath?: string | null }): string {
  return row.clinicFolder ?? posix.dirname(row.remotePath ?? '');
}

/**
 * Records each hit as a fetch, judged against the file delivered at that exact path: a receipt of that file (and its
 * workflow is woken), a foreign fetch when the file's clinic folder has a receipt rule (src/remote-folders/clinic-rule.ts)
 * that the hit's client and user do not satisfy (kept with the reason; acknowledges nothing), or an unknown fetch
 * when no delivered file is at that path. The database write comes first and is idempotent by evidence key, so a
 * re-read log line or a workflow that already closed loses nothing and duplicates nothing; the signal only moves a
 * waiting workflow on, and the workflow checks it against this record.
 */
export async function recordFetches(
  deps: { orm: MikroORM; workflows: ResultWorkflows; urlPrefix: string },
  pending: readonly ScannedHit[],
): Promise<RecordCounts> {
  const counts: RecordCounts = { hits: pending.length, matched: 0, unknownHits: 0, foreignHits: 0 };
  if (!pending.length) return counts;
  const em = deps.orm.em.fork();
  const ledger = new FileLedger(em);
  const withPaths = pending.map((p) => ({ ...p, remotePath: remotePathOf(p.hit.path, deps.urlPrefix) }));
  const paths = [...new Set(withPaths.map((p) => p.remotePath).filter((p): p is string => p !== null))];
  const rows = paths.length
    ? await em.find(ResultFile, { remotePath: { $in: paths }, state: { $in: [...DELIVERED_STATES] } }, { orderBy: { id: 'desc' } })
    : [];
  // The newest delivery at a path is the one a fetch can have seen.
  const byPath = new Map<string, (typeof rows)[number]>();
  for (const row of rows) if (row.remotePath && !byPath.has(row.remotePath)) byPath.set(row.remotePath, row);
  // The rule in force now (at scan time) decides, for every fetch this scan reads.
  const rules = await compiledRules(em, [...new Set([...byPath.values()].map(clinicFolderOfFile))]);

  const toSignal = new Map<string, { workflowId: string; runId: string; evidence: FetchEvidence[] }>();
  for (const p of withPaths) {
    const evidence: FetchEvidence = {
      evidenceKey: p.evidenceKey,
      accessedAt: new Date(p.hit.time ?? Date.now()).toISOString(),
      client: p.hit.client,
      requestLine: p.requestLine,
      status: p.hit.status,
      bytes: p.hit.bytes ?? undefined,
      user: p.hit.user ?? undefined,
      remotePath: p.remotePath ?? p.hit.path,
    };
    const row = p.remotePath ? byPath.get(p.remotePath) : undefined;
    if (!row) {
      counts.unknownHits++;
      await ledger.recordUnknownFetch({ ...evidence, remotePath: evidence.remotePath! });
      continue;
    }
    const clinicFolder = clinicFolderOfFile(row);
    const verdict = rules.get(clinicFolder)!.check(p.hit.client, p.hit.user);
    if (!verdict.counts) {
      counts.foreignHits++;
      await ledger.recordForeignFetch(row.id, {
        ...evidence,
        remotePath: evidence.remotePath!,
        clinicFolder,
        reason: verdict.reason,
      });
      continue;
    }
    counts.matched++;
    // Read before recording: recording the first fetch moves the row itself to ACKNOWLEDGED.
    const workflowWaiting = row.state === 'SENT' || row.state === 'AWAITING_ACK' || toSignal.has(row.runId);
    await ledger.recordReceipts(row.id, [evidence]);
    if (workflowWaiting) {
      const entry = toSignal.get(row.runId) ?? { workflowId: row.workflowId, runId: row.runId, evidence: [] };
      entry.evidence.push(evidence);
      toSignal.set(row.runId, entry);
    }
  }
  for (const { evidence, ...run } of toSignal.values()) {
    // A workflow already closed (e.g. timed out as UNACKNOWLEDGED) is no loss: the database record above is the
    // acknowledgement.
    for (const e of evidence) await deps.workflows.deliverReceipt(run, e);
  }
  return counts;
}
