/**
 * What needs a person, read from the database at each sweep (src/alerts/notifier.ts). Each condition carries its
 * dedupe key (kind, subject, period) and a summary that names no patient: files appear by their number, clinics by
 * their folder name. Held conditions (a file waiting, a clinic not fetching, the receipt scan stopped) get the lab's
 * day as their period, so they are raised again each day while they hold; an event (a rejection) is raised once.
 */
import type { EntityManager } from '@mikro-orm/postgresql';

export const ALERT_KINDS = {
  fileRejected: 'file-rejected',
  waitingForFolder: 'waiting-for-folder',
  transferBlocked: 'transfer-blocked',
  transferFailing: 'transfer-failing',
  unfetched: 'unfetched',
  receiptScanStalled: 'receipt-scan-stalled',
  dailyDigest: 'daily-digest',
} as const;

export type AlertKind = (typeof ALERT_KINDS)[keyof typeof ALERT_KINDS];

export interface AlertCondition {
  kind: AlertKind;
  /** `file:<id>`, `clinic:<lab>/<folder>`, `lab:<lab>` or `receipt-scan`. */
  subject: string;
  /** The local day (YYYY-MM-DD) for a held condition, `once` for an event. */
  period: string;
  lab: string | null;
  summary: string;
  fileIds: number[];
}

export interface ConditionOptions {
  now: Date;
  /** A transfer still failing after this many attempts is alerted (GETRESULTS_ALERT_TRANSFER_ATTEMPTS). */
  transferAttempts: number;
  /** Sent and not fetched after this many days (GETRESULTS_UNFETCHED_DAYS). */
  unfetchedAfterDays: number;
  /** Set when receipts are on: the scan interval, and how many may pass without a finished scan. */
  receiptScan?: { intervalMs: number; missedIntervals: number; watchingSince: Date };
  /** The local hour after which the day's digest goes out (0-23). */
  digestHour: number;
  /**
   * The transfer attempt a file's workflow is on, from Temporal (its pending transferFile activity), for files that
   * have been on their way a while; undefined when no transfer is pending.
   */
  transferAttemptOf(file: { id: number; workflowId: string; runId: string }): Promise<{ attempt: number } | undefined>;
}

/** YYYY-MM-DD of `at` in this process's time zone (TZ): the lab's day. */
export function localDay(at: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}`;
}

/** A rejection code as words: IDENTIFIER_NOT_IN_TEXT -> "identifier not in text". */
function codeInWords(code: string | null): string {
  return code ? code.toLowerCase().replace(/_/g, ' ') : 'see the web page';
}

/** Files that have been on their way this long are asked about their transfer (a first attempt takes a second). */
const TRANSFER_CHECK_AFTER_MS = 60_000;
/** At most this many files are asked about per sweep (oldest first): one Temporal call each. */
const TRANSFER_CHECK_LIMIT = 100;
/** Rejections older than this when the notifier first sees them are history, not news. */
const REJECTION_NEWS_MS = 24 * 3600_000;

export async function findAlertConditions(em: EntityManager, options: ConditionOptions): Promise<AlertCondition[]> {
  const { now } = options;
  const day = localDay(now);
  const sql = em.getConnection();
  const conditions: AlertCondition[] = [];

  const waiting = await sql.execute<Array<{ id: string; lab: string; state: string; rejection_code: string | null; hint: string | null; label: string | null }>>(
    `select f.id, l.name as lab, f.state, f.rejection_code, f.hint, f.label
       from result_file f join lab l on l.id = f.lab_id
      where f.state in ('NEEDS_FOLDER', 'TRANSFER_BLOCKED')
         or (f.state = 'REJECTED' and f.updated_at > ?)
      order by f.id`,
    [new Date(now.getTime() - REJECTION_NEWS_MS)],
  );
  for (const f of waiting) {
    const id = Number(f.id);
    const base = { subject: `file:${id}`, lab: f.lab, fileIds: [id] };
    if (f.state === 'REJECTED') {
      conditions.push({ ...base, kind: ALERT_KINDS.fileRejected, period: 'once', summary: `File #${id} was rejected (${codeInWords(f.rejection_code)}); it is kept in the rejected folder.` });
    } else if (f.state === 'NEEDS_FOLDER') {
      const hint = [f.label, f.hint].filter(Boolean).join(' ');
      conditions.push({ ...base, kind: ALERT_KINDS.waitingForFolder, period: day, summary: `File #${id} waits for a clinic folder mapping${hint ? ` (hint ${hint})` : ''}: add it to the folder table.` });
    } else {
      conditions.push({ ...base, kind: ALERT_KINDS.transferBlocked, period: day, summary: `File #${id} is held: server B refused its host key or the login. An operator must check server B's key or account.` });
    }
  }

  // Files routed and on their way for a while: is their transfer being retried?
  const inFlight = await sql.execute<Array<{ id: string; lab: string; workflow_id: string; run_id: string }>>(
    `select f.id, l.name as lab, f.workflow_id, f.run_id
       from result_file f join lab l on l.id = f.lab_id
      where f.state = 'RECEIVED' and f.clinic_folder is not null and f.uploaded_at < ?
      order by f.uploaded_at limit ${TRANSFER_CHECK_LIMIT}`,
    [new Date(now.getTime() - TRANSFER_CHECK_AFTER_MS)],
  );
  for (const f of inFlight) {
    const id = Number(f.id);
    const pending = await options.transferAttemptOf({ id, workflowId: f.workflow_id, runId: f.run_id });
    if (pending && pending.attempt > options.transferAttempts) {
      conditions.push({
        kind: ALERT_KINDS.transferFailing,
        subject: `file:${id}`,
        period: day,
        lab: f.lab,
        fileIds: [id],
        summary: `File #${id}: its transfer to server B has failed ${pending.attempt - 1} times and is still being retried (the Pending page shows the error).`,
      });
    }
  }

  const unfetched = await sql.execute<Array<{ lab: string; clinic_folder: string; ids: string[] }>>(
    `select l.name as lab, f.clinic_folder, array_agg(f.id order by f.id) as ids
       from result_file f join lab l on l.id = f.lab_id
      where f.state = 'AWAITING_ACK' and f.sent_at < ?
      group by l.name, f.clinic_folder order by l.name, f.clinic_folder`,
    [new Date(now.getTime() - options.unfetchedAfterDays * 86_400_000)],
  );
  for (const u of unfetched) {
    const ids = u.ids.map(Number);
    conditions.push({
      kind: ALERT_KINDS.unfetched,
      subject: `clinic:${u.lab}/${u.clinic_folder}`,
      period: day,
      lab: u.lab,
      fileIds: ids,
      summary: `Clinic folder ${u.clinic_folder}: ${ids.length} file(s) sent more than ${options.unfetchedAfterDays} day(s) ago and not fetched: #${ids.join(', #')}.`,
    });
  }

  if (options.receiptScan) {
    const { intervalMs, missedIntervals, watchingSince } = options.receiptScan;
    const [last] = await sql.execute<Array<{ finished: Date | null }>>(`select max(finished_at) as finished from log_scan_run`);
    const lastFinished = last?.finished ? new Date(last.finished) : null;
    const quietSince = lastFinished && lastFinished > watchingSince ? lastFinished : watchingSince;
    if (now.getTime() - quietSince.getTime() > intervalMs * missedIntervals) {
      conditions.push({
        kind: ALERT_KINDS.receiptScanStalled,
        subject: 'receipt-scan',
        period: day,
        lab: null,
        fileIds: [],
        summary:
          `No scan of server B's access log has finished ${lastFinished ? `since ${lastFinished.toISOString()}` : 'yet'} (${missedIntervals} scan intervals or more): ` +
          'until one does, no file is acknowledged. The Temporal UI shows the failing scan (schedule getresults-log-scan); check that the log can be read.',
      });
    }
  }

  if (now.getHours() >= options.digestHour) conditions.push(...(await dailyDigests(em, now, day, options.unfetchedAfterDays)));
  return conditions;
}

/** One digest per lab and day: the last 24 hours in numbers, and what waits now. Numbers only; the page has the rest. */
async function dailyDigests(em: EntityManager, now: Date, day: string, unfetchedAfterDays: number): Promise<AlertCondition[]> {
  const since = new Date(now.getTime() - 86_400_000);
  const rows = await em.getConnection().execute<
    Array<{ lab: string; received: number; sent: number; acknowledged: number; rejected: number; needs_folder: number; blocked: number; awaiting: number; unfetched: number }>
  >(
    `select l.name as lab,
            count(f.id) filter (where f.uploaded_at > ?)::int as received,
            count(f.id) filter (where f.sent_at > ?)::int as sent,
            count(f.id) filter (where f.acknowledged_at > ?)::int as acknowledged,
            count(f.id) filter (where f.state = 'REJECTED' and f.uploaded_at > ?)::int as rejected,
            count(f.id) filter (where f.state = 'NEEDS_FOLDER')::int as needs_folder,
            count(f.id) filter (where f.state = 'TRANSFER_BLOCKED')::int as blocked,
            count(f.id) filter (where f.state = 'AWAITING_ACK')::int as awaiting,
            count(f.id) filter (where f.state = 'AWAITING_ACK' and f.sent_at < ?)::int as unfetched
       from lab l left join result_file f on f.lab_id = l.id
      group by l.name order by l.name`,
    [since, since, since, since, new Date(now.getTime() - unfetchedAfterDays * 86_400_000)],
  );
  return rows
    .filter((r) => r.received + r.sent + r.acknowledged + r.needs_folder + r.blocked + r.awaiting > 0)
    .map((r) => ({
      kind: ALERT_KINDS.dailyDigest,
      subject: `lab:${r.lab}`,
      period: day,
      lab: r.lab,
      fileIds: [],
      summary:
        `Lab ${r.lab}, last 24 hours: ${r.received} received, ${r.sent} sent, ${r.acknowledged} fetched by their clinic, ${r.rejected} rejected. ` +
        `Waiting now: ${r.needs_folder} for a folder mapping, ${r.blocked} held by server B, ${r.awaiting} for their clinic to fetch (${r.unfetched} for more than ${unfetchedAfterDays} day(s)).`,
    }));
}
