import type { EntityManager } from '@mikro-orm/postgresql';
import { z } from 'zod';
import { FILE_STATES, type FileState } from '../../domain/file-state';

/** A real calendar day, YYYY-MM-DD, in years PostgreSQL and a person would use. */
const day = (label: string) =>
  z
    .string()
    .trim()
    .transform((v) => v || undefined)
    .refine((v) => v === undefined || isCalendarDay(v), { message: `The ${label} date must be a real day, written YYYY-MM-DD.` })
    .optional();

function isCalendarDay(value: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  return y >= 1900 && y <= 2999 && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d;
}

/** Free text: trimmed, bounded, and without control characters (PostgreSQL refuses NUL; a newline has no place in a filter). */
const text = (label: string, max: number) =>
  z
    .string()
    .trim()
    .max(max, { message: `The ${label} filter is longer than ${max} characters.` })
    .refine((v) => !/[\u0000-\u001f\u007f]/.test(v), { message: `The ${label} filter holds a character that cannot be searched for.` })
    .transform((v) => v || undefined)
    .optional();

/**
 * The list's filters, from the query string. A value that cannot be a filter (a date that is no day, a state that
 * does not exist, a control character) is refused with a plain message and a 400, never passed to the database.
 */
export const fileFiltersSchema = z.object({
  state: z
    .string()
    .transform((v) => v || undefined)
    .refine((v) => v === undefined || (FILE_STATES as readonly string[]).includes(v), { message: 'There is no such state.' })
    .transform((v) => v as FileState | undefined)
    .optional(),
  clinic: text('clinic', 255),
  from: day('from'),
  to: day('to'),
  by: text('uploaded-by', 64),
  q: text('search', 200),
  page: z
    .string()
    .transform((v) => v || undefined)
    .refine((v) => v === undefined || (/^\d{1,6}$/.test(v) && Number(v) >= 1 && Number(v) <= 100_000), { message: 'The page must be a number from 1 to 100,000.' })
    .transform((v) => (v === undefined ? undefined : Number(v)))
    .optional(),
});

/** The filters, or the first reason they cannot be used, in words for the page. */
export function parseFileFilters(query: Record<string, string>): { ok: true; filters: FileFilters } | { ok: false; problem: string } {
  const parsed = fileFiltersSchema.safeParse(query);
  return parsed.success ? { ok: true, filters: parsed.data } : { ok: false, problem: parsed.error.issues[0]?.message ?? 'A filter could not be read.' };
}

export type FileFilters = z.infer<typeof fileFiltersSchema>;

export interface FileListRow {
  id: number;
  fileName: string;
  identifier: string | null;
  clinicFolder: string | null;
  state: FileState;
  stateReason: string | null;
  uploadedAt: Date;
  uploader: string | null;
}

export const PAGE_SIZE = 50;

/** `contains` as a LIKE pattern, with LIKE's own wildcards taken literally. */
function contains(value: string): string {
  return `%${value.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
}

function localDay(value: string, plusDays = 0): Date {
  const [y, m, d] = value.split('-').map(Number) as [number, number, number];
  return new Date(y, m - 1, d + plusDays);
}

/** The total is counted exactly up to this many matches; beyond it the page says "more than 10,000". */
export const COUNT_CAP = 10_000;

export interface FileListPage {
  rows: FileListRow[];
  /** The page shown: the one asked for, or the last page when that one is past the end. */
  page: number;
  /** Matching files: exact unless `moreThan`, which says more than COUNT_CAP match (and `total` is COUNT_CAP). */
  total: number;
  moreThan: boolean;
  /** Whether an older page follows this one. */
  hasNext: boolean;
}

/**
 * One page of files, newest first, filtered in SQL. Search is `contains` over file name and identifier, the clinic
 * filter `contains` over the clinic folder names (resolved to the folders that match, then served by a btree). "Uploaded by" also
 * matches uploads made through this page, which the workflow does not know about yet (web_upload, by content).
 *
 * The total is exact up to COUNT_CAP and "more than" that beyond: counting every match of a million rows on every page
 * cost 100-420 ms, a capped count stops at COUNT_CAP + 1 (bench/search.mjs). A page that is not full tells the total
 * without counting. `labId` limits the list to one lab's files (undefined: every lab's). A page past the end (an old link, fewer files since) is counted exactly once and shows the last page.
 */
export async function listFiles(em: EntityManager, filters: FileFilters, labId?: number): Promise<FileListPage> {
  const where: string[] = [];
  const params: unknown[] = [];
  // One lab's files only, unless the user administers the whole deployment (src/web/auth/lab-scope.ts).
  if (labId !== undefined) {
    where.push('r.lab_id = ?');
    params.push(labId);
  }
  if (filters.state) {
    where.push('r.state = ?');
    params.push(filters.state);
  }
  const connection = em.getConnection();
  if (filters.clinic) {
    // "Contains" over a few dozen folder names, not over every row: the distinct folders (a skip scan of the btree, one
    // probe per folder) that match, then the rows of those folders by (clinic_folder, uploaded_at, id).
    const folders = (await connection.execute(
      `with recursive f(folder) as (
         (select clinic_folder from result_file where clinic_folder is not null order by clinic_folder limit 1)
         union all
         select (select r.clinic_folder from result_file r where r.clinic_folder > f.folder order by r.clinic_folder limit 1)
           from f where f.folder is not null)
       select folder from f where folder ilike ?`,
      [contains(filters.clinic)],
    )) as Array<{ folder: string }>;
    if (folders.length) {
      where.push(`r.clinic_folder in (${folders.map(() => '?').join(', ')})`);
      params.push(...folders.map((f) => f.folder));
    } else {
      where.push('false');
    }
  }
  if (filters.from) {
    where.push('r.uploaded_at >= ?');
    params.push(localDay(filters.from));
  }
  if (filters.to) {
    where.push('r.uploaded_at < ?');
    params.push(localDay(filters.to, 1));
  }
  if (filters.by) {
    where.push('(r.uploaded_by = ? or exists (select 1 from web_upload w where w.sha256 = r.sha256 and w.username = ?))');
    params.push(filters.by.toLowerCase(), filters.by.toLowerCase());
  }
  if (filters.q) {
    where.push('(r.file_name ilike ? or r.identifier ilike ?)');
    params.push(contains(filters.q), contains(filters.q));
  }
  const whereSql = where.length ? `where ${where.join(' and ')}` : '';
  // One row more than a page: whether an older page follows, without counting.
  const pageRows = (page: number): Promise<Array<Record<string, unknown>>> =>
    connection.execute(
      `select r.id, r.file_name, r.identifier, r.clinic_folder, r.state, r.state_reason, r.uploaded_at,
              coalesce(r.uploaded_by,
                (select w.username from web_upload w where w.sha256 = r.sha256 order by w.uploaded_at desc limit 1)) as uploader
         from result_file r ${whereSql}
        order by r.uploaded_at desc, r.id desc
        limit ? offset ?`,
      [...params, PAGE_SIZE + 1, (page - 1) * PAGE_SIZE],
    );
  const count = async (cap?: number): Promise<number> => {
    const sql = cap === undefined
      ? `select count(*) as n from result_file r ${whereSql}`
      : `select count(*) as n from (select 1 from result_file r ${whereSql} limit ${cap + 1}) capped`;
    const [{ n }] = (await connection.execute(sql, params)) as [{ n: string }];
    return Number(n);
  };

  let page = filters.page ?? 1;
  let rows = await pageRows(page);
  let total: number;
  let moreThan = false;
  if (!rows.length && page > 1) {
    // Past the end: the last page there is.
    total = await count();
    page = Math.max(1, Math.ceil(total / PAGE_SIZE));
    rows = await pageRows(page);
  } else if (rows.length <= PAGE_SIZE) {
    total = (page - 1) * PAGE_SIZE + rows.length;
  } else {
    total = await count(COUNT_CAP);
    moreThan = total > COUNT_CAP;
    if (moreThan) total = COUNT_CAP;
  }
  const hasNext = rows.length > PAGE_SIZE;
  return {
    total,
    moreThan,
    page,
    hasNext,
    rows: rows.slice(0, PAGE_SIZE).map((r) => ({
      id: Number(r.id),
      fileName: String(r.file_name),
      identifier: (r.identifier as string | null) ?? null,
      clinicFolder: (r.clinic_folder as string | null) ?? null,
      state: r.state as FileState,
      stateReason: (r.state_reason as string | null) ?? null,
      uploadedAt: new Date(r.uploaded_at as string | Date),
      uploader: (r.uploader as string | null) ?? null,
    })),
  };
}
