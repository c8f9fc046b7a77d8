import type { EntityManager } from '@mikro-orm/postgresql';

/**
 * The figure a lab manager reports (issue 12): for each clinic folder, of the files sent in a period, how many the
 * clinic fetched, how long it took from sending to the first fetch (median and 90th percentile), and how many are
 * still not fetched. Computed by PostgreSQL from `result_file.sent_at` and `acknowledged_at` (the first counted fetch).
 * Withdrawn files are left out.
 */
export interface ClinicTurnaround {
  clinicFolder: string;
  sent: number;
  fetched: number;
  notFetched: number;
  /** Seconds from sending to the first fetch, over the fetched files; null when none was fetched. */
  medianSeconds: number | null;
  p90Seconds: number | null;
}

export interface TurnaroundPeriod {
  /** Files sent at or after this instant... */
  from: Date;
  /** ...and before this one. */
  to: Date;
  /** Part of a clinic folder's name, as in the file list's filter. */
  clinic?: string;
}

interface Row {
  clinic_folder: string;
  sent: string;
  fetched: string;
  median_s: number | null;
  p90_s: number | null;
}

const AGGREGATES = `count(*) as sent,
       count(acknowledged_at) as fetched,
       percentile_cont(0.5) within group (order by extract(epoch from acknowledged_at - sent_at)) filter (where acknowledged_at is not null) as median_s,
       percentile_cont(0.9) within group (order by extract(epoch from acknowledged_at - sent_at)) filter (where acknowledged_at is not null) as p90_s`;

function toTurnaround(r: Row): ClinicTurnaround {
  const sent = Number(r.sent);
  const fetched = Number(r.fetched);
  const seconds = (v: number | null) => (v === null ? null : Math.round(Number(v)));
  return { clinicFolder: r.clinic_folder, sent, fetched, notFetched: sent - fetched, medianSeconds: seconds(r.median_s), p90Seconds: seconds(r.p90_s) };
}

/** Every clinic folder with a file sent in the period, by name, and the same figures over all of them. */
/** `labId`: one lab's files (undefined: every lab's). */
export async function turnaroundByClinic(em: EntityManager, period: TurnaroundPeriod, labId?: number): Promise<{ clinics: ClinicTurnaround[]; all: ClinicTurnaround }> {
  // A withdrawn result is no delivery any more (a corrected version replaced it, or it went to the wrong clinic).
  const where = `sent_at >= ? and sent_at < ? and clinic_folder is not null and state <> 'WITHDRAWN'${labId === undefined ? '' : ' and lab_id = ?'}${period.clinic ? ` and clinic_folder ilike ? escape '\\'` : ''}`;
  const params: unknown[] = [period.from, period.to];
  if (labId !== undefined) params.push(labId);
  if (period.clinic) params.push(`%${period.clinic.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`);
  const connection = em.getConnection();
  const [rows, [total]] = await Promise.all([
    connection.execute<Row[]>(`select clinic_folder, ${AGGREGATES} from result_file where ${where} group by clinic_folder order by clinic_folder`, params),
    connection.execute<Row[]>(`select 'All clinics' as clinic_folder, ${AGGREGATES} from result_file where ${where}`, params),
  ]);
  return { clinics: rows.map(toTurnaround), all: toTurnaround(total!) };
}

/** A duration in the words a report uses: `45 min`, `6.5 h`, `2.3 days`. */
export function formatDuration(seconds: number | null): string {
  if (seconds === null) return '—';
  if (seconds < 60) return 'under 1 min';
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 2 * 86400) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} days`;
}
