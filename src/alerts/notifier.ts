/**
 * The notifier's two steps, run by the scheduled alert sweep (src/workflows/sweep-alerts.ts):
 * 1. record: each condition found (src/alerts/conditions.ts) becomes an `alert` row unless its (kind, subject, period)
 *    is there already, with a pending delivery per channel. The database holds the dedupe, so a restart, a retried
 *    activity or two sweeps at once never raise an alert twice.
 * 2. send: each channel gets one message holding its pending alerts (oldest first, at most MAX_PER_MESSAGE); a channel
 *    that fails keeps them pending, with the attempt and the error counted, for the next try.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { executorOf } from '../db/hot-path-sql';
import type { AlertChannel, AlertMessage } from './channels';
import type { AlertCondition } from './conditions';

/** A message lists at most this many alerts; the rest follow in the next one. */
const MAX_PER_MESSAGE = 200;

export interface SendOutcome {
  channel: string;
  alerts: number;
  sent: boolean;
  error?: string;
}

/** Records the conditions not yet alerted in their period; returns how many are new. */
export async function recordAlerts(em: EntityManager, conditions: readonly AlertCondition[], channels: readonly AlertChannel[], now: Date): Promise<number> {
  if (conditions.length === 0) return 0;
  return em.transactional(async (tx) => {
    // Through the transaction's EntityManager (em.getConnection() would run outside it).
    const conn = executorOf(tx);
    const inserted = await conn.execute<Array<{ id: string }>>(
      `insert into alert (kind, subject, period, lab, summary, file_ids, raised_at)
       select c.kind, c.subject, c.period, c.lab, c.summary, c.file_ids, ?::timestamptz
         from jsonb_to_recordset(?::jsonb) as c(kind text, subject text, period text, lab text, summary text, file_ids jsonb)
       on conflict (kind, subject, period) do nothing
       returning id`,
      [now, JSON.stringify(conditions.map((c) => ({ kind: c.kind, subject: c.subject, period: c.period, lab: c.lab, summary: c.summary, file_ids: c.fileIds })))],
    );
    const ids = inserted.map((r) => Number(r.id));
    if (ids.length > 0 && channels.length > 0) {
      await conn.execute(
        `insert into alert_delivery (alert_id, channel, recipient, status, attempts)
         select a.id, ch.name, ch.recipient, 'pending', 0
           from unnest(?::bigint[]) as a(id) cross join jsonb_to_recordset(?::jsonb) as ch(name text, recipient text)`,
        [`{${ids.join(',')}}`, JSON.stringify(channels.map((c) => ({ name: c.name, recipient: c.recipient })))],
      );
    }
    return ids.length;
  });
}

interface PendingRow {
  delivery_id: string;
  alert_id: string;
  kind: string;
  subject: string;
  period: string;
  lab: string | null;
  summary: string;
  file_ids: number[];
  raised_at: Date;
}

export interface ComposeOptions {
  /** The web page as people reach it (GETRESULTS_PUBLIC_URL): each message ends with it. */
  linkBase?: string;
  /** Add the files' names to the message (GETRESULTS_ALERT_INCLUDE_FILE_NAMES): they hold patient identifiers. */
  includeFileNames: boolean;
}

/** Sends each channel's pending alerts; records what was sent, to whom and when, or the failure. */
export async function sendPendingAlerts(em: EntityManager, channels: readonly AlertChannel[], options: ComposeOptions, now: () => Date = () => new Date()): Promise<SendOutcome[]> {
  const outcomes: SendOutcome[] = [];
  const sql = em.getConnection();
  for (const channel of channels) {
    const rows = await sql.execute<PendingRow[]>(
      `select d.id as delivery_id, a.id as alert_id, a.kind, a.subject, a.period, a.lab, a.summary, a.file_ids, a.raised_at
         from alert_delivery d join alert a on a.id = d.alert_id
        where d.channel = ? and d.status = 'pending'
        order by a.id limit ${MAX_PER_MESSAGE}`,
      [channel.name],
    );
    if (rows.length === 0) continue;
    const names = options.includeFileNames ? await fileNames(em, rows.flatMap((r) => r.file_ids)) : undefined;
    const message = composeMessage(rows, options, names, now());
    const deliveryIds = `{${rows.map((r) => r.delivery_id).join(',')}}`;
    try {
      const receipt = await channel.send(message);
      await sql.execute(`update alert_delivery set status = 'sent', attempts = attempts + 1, sent_at = ?, receipt = ?, last_error = null where id = any(?::bigint[])`, [
        now(),
        receipt.slice(0, 300),
        deliveryIds,
      ]);
      outcomes.push({ channel: channel.name, alerts: rows.length, sent: true });
    } catch (err) {
      // A mail server's or receiver's own words (a refused connection, a status); they name no file.
      const error = err instanceof Error ? err.message : String(err);
      await sql.execute(`update alert_delivery set attempts = attempts + 1, last_error = ? where id = any(?::bigint[])`, [error.slice(0, 1000), deliveryIds]);
      outcomes.push({ channel: channel.name, alerts: rows.length, sent: false, error });
    }
  }
  return outcomes;
}

async function fileNames(em: EntityManager, ids: number[]): Promise<Map<number, string>> {
  if (ids.length === 0) return new Map();
  const rows = await em.getConnection().execute<Array<{ id: string; file_name: string }>>(`select id, file_name from result_file where id = any(?::bigint[])`, [
    `{${[...new Set(ids)].join(',')}}`,
  ]);
  return new Map(rows.map((r) => [Number(r.id), r.file_name]));
}

const KIND_HEADINGS: Record<string, string> = {
  'file-rejected': 'rejected',
  'waiting-for-folder': 'waiting for a folder',
  'transfer-blocked': 'held by server B',
  'transfer-failing': 'transfer failing',
  unfetched: 'not fetched',
  'receipt-scan-stalled': 'receipt scan stopped',
  'daily-digest': 'daily digest',
};

export function composeMessage(rows: readonly PendingRow[], options: ComposeOptions, names: Map<number, string> | undefined, now: Date): AlertMessage {
  const counts = new Map<string, number>();
  for (const r of rows) counts.set(r.kind, (counts.get(r.kind) ?? 0) + 1);
  const labs = [...new Set(rows.map((r) => r.lab).filter((l): l is string => l !== null))];
  const subject = `[getresults${labs.length === 1 ? ` ${labs[0]}` : ''}] ${[...counts].map(([kind, n]) => `${n} ${KIND_HEADINGS[kind] ?? kind}`).join(', ')}`;
  const link = options.linkBase?.replace(/\/+$/, '');
  const paragraphs = rows.map((r) => {
    const named = names && r.file_ids.length > 0 ? `\n  Files: ${r.file_ids.map((id) => `#${id} ${names.get(id) ?? '?'}`).join(', ')}` : '';
    const fileLink = link && r.file_ids.length === 1 ? `\n  ${link}/files/${r.file_ids[0]}` : '';
    return `- ${r.summary}${named}${fileLink}`;
  });
  const text = [...paragraphs, '', link ? `The web page: ${link}/` : 'Details are on the web page.', `(${rows.length} alert(s), sent ${now.toISOString()})`].join('\n');
  return {
    subject,
    text,
    json: {
      version: 1,
      sentAt: now.toISOString(),
      link: link ? `${link}/` : undefined,
      alerts: rows.map((r) => ({
        id: Number(r.alert_id),
        kind: r.kind,
        lab: r.lab,
        subject: r.subject,
        period: r.period,
        raisedAt: new Date(r.raised_at).toISOString(),
        summary: r.summary,
        fileIds: r.file_ids,
        ...(names ? { fileNames: r.file_ids.map((id) => names.get(id) ?? null) } : {}),
      })),
    },
  };
}
