/**
 * Archive retention (issue 14): the PDFs this upload host keeps (archived originals, rejected and set-aside copies) of
 * files older than the policy's years, whose workflow is over, are removed; each removal is an ARCHIVE_PRUNED event in
 * the file's tamper-evident trail, and the row keeps everything else, so the record outlives the PDF. A plan is shown
 * first (`getresults archive prune` is a dry run unless told --apply).
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { EntityManager } from '@mikro-orm/postgresql';
import { FINAL_STATES } from '../domain/file-state';
import { FileLedger } from '../db/file-ledger';
import { reasonFileFor } from './safe-move';

export interface PrunePlan {
  keepYears: number;
  /** Files uploaded before this are pruned. */
  cutoff: Date;
  files: Array<{ id: number; path: string; sha256: string; uploadedAt: Date; state: string }>;
}

/** What a prune with `keepYears` would remove among the PDFs kept under `roots` (this host's folders). */
export async function planPrune(em: EntityManager, options: { keepYears: number; roots: readonly string[]; now?: Date }): Promise<PrunePlan> {
  if (!Number.isInteger(options.keepYears) || options.keepYears < 1) throw new Error('The retention policy keeps files for a whole number of years, at least 1.');
  const now = options.now ?? new Date();
  const cutoff = new Date(now);
  cutoff.setFullYear(cutoff.getFullYear() - options.keepYears);
  const rows = await em.getConnection().execute<Array<{ id: string; archive_path: string; sha256: string; uploaded_at: Date; state: string }>>(
    `select id, archive_path, sha256, uploaded_at, state from result_file
      where archive_path is not null and uploaded_at < ? and state = any(?::text[])
      order by uploaded_at, id`,
    [cutoff, `{${FINAL_STATES.join(',')}}`],
  );
  const roots = options.roots.map((r) => `${path.resolve(r)}${path.sep}`);
  return {
    keepYears: options.keepYears,
    cutoff,
    files: rows
      .filter((r) => roots.some((root) => r.archive_path.startsWith(root)))
      .map((r) => ({ id: Number(r.id), path: r.archive_path, sha256: r.sha256, uploadedAt: new Date(r.uploaded_at), state: r.state })),
  };
}

/**
 * Removes the planned PDFs (and a rejected file's .reason.json) and records each in the trail. The PDF goes first: a
 * crash between the two leaves a PDF gone whose row still names it, which the next prune finds and records ("no
 * longer on disk"); never a PDF that the trail says is gone but is still there.
 */
export async function applyPrune(em: EntityManager, plan: PrunePlan, actor: string): Promise<{ pruned: number; alreadyGone: number }> {
  const ledger = new FileLedger(em);
  let pruned = 0;
  let alreadyGone = 0;
  for (const file of plan.files) {
    const present = existsSync(file.path);
    if (present) {
      await rm(reasonFileFor(file.path, file.sha256), { force: true });
      await rm(file.path, { force: true });
    }
    await ledger.transition(
      file.id,
      null,
      {
        eventKey: `archive-pruned:${file.id}`,
        type: 'ARCHIVE_PRUNED',
        message: `The kept PDF was removed under the retention policy (keep ${plan.keepYears} year(s); uploaded before ${plan.cutoff.toISOString().slice(0, 10)}). This record stays.${present ? '' : ' It was no longer on disk.'}`,
        detail: { removedPath: file.path, sha256: file.sha256, keepYears: plan.keepYears, cutoff: plan.cutoff.toISOString() },
        actor,
      },
      { archivePath: null },
    );
    if (present) pruned++;
    else alreadyGone++;
  }
  return { pruned, alreadyGone };
}
