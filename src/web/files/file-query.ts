import type { EntityManager } from '@mikro-orm/postgresql';
import { z } from 'zod';
import { FILE_STATES, type FileState } from '../../domain/file-state';

const day = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/)
  .optional()
  .catch(undefined);
const text = (max: number) =>
  z
    .string()
    .trim()
    .max(max)
    .optional()
    .catch(undefined)
    .transform((v) => v || undefined);

/** The list's filters, from the query string. Bad values are dropped, not errors: a filter link should never 400. */
export const fileFiltersSchema = z.object({
  state: z.enum(FILE_STATES).optional().catch(undefined),
  clinic: text(255),
  from: day,
  to: day,
  by: text(64),
  q: text(200),
  page: z.coerce.number().int().min(1).max(100_000).optional().catch(undefined),
});

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

/**
 * One page of files, newest first, filtered in SQL. Search is `contains` over file name and identifier (served by
 * trigram indexes where pg_trgm exists). "Uploaded by" also matches uploads made through this page, which the
 * workflow does not know about yet (web_upload, by content).
 */
export async function listFiles(em: EntityManager, filters: FileFilters): Promise<{ rows: FileListRow[]; total: number; page: number }> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (filters.state) {
    where.push('r.state = ?');
    params.push(filters.state);
  }
  if (filters.clinic) {
    where.push('r.clinic_folder ilike ?');
    params.push(contains(filters.clinic));
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
  const connection = em.getConnection();
  const [{ n }] = (await connection.execute(`select count(*) as n from result_file r ${whereSql}`, params)) as [{ n: string }];
  const total = Number(n);
  const lastPage = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const page = Math.min(filters.page ?? 1, lastPage);
  const rows: Array<Record<string, unknown>> = await connection.execute(
    `select r.id, r.file_name, r.identifier, r.clinic_folder, r.state, r.state_reason, r.uploaded_at,
            coalesce(r.uploaded_by,
              (select w.username from web_upload w where w.sha256 = r.sha256 order by w.uploaded_at desc limit 1)) as uploader
       from result_file r ${whereSql}
      order by r.uploaded_at desc, r.id desc
      limit ? offset ?`,
    [...params, PAGE_SIZE, (page - 1) * PAGE_SIZE],
  );
  return {
    total,
    page,
    rows: rows.map((r) => ({
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
