import { lstat, readdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Hono } from 'hono';
import { FileEvent, ResultFile } from '../../db/entities';
import type { IResultFile } from '../../db/entities/result-file';
import type { FileState } from '../../domain/file-state';
import type { ResultWorkflows } from '../../temporal/result-workflows';
import { isTransientName } from '../../trigger/ignored-names';
import type { BaseEnv } from '../context';
import { inLabScope, labScopeOf } from '../auth/lab-scope';
import { age, bytes, html, when, type Html } from '../views/html';
import { csrfField, flash, type RenderPage } from '../views/layout';
import { STATE_WORDS, WAITING_STATES } from '../views/states';
import { stateBadge } from './files';

export interface PendingRouteDeps {
  renderPage: RenderPage;
  /** The watched upload folder of this host. */
  uploadDir: string;
  /** When present, in-flight workflows are asked which step is retrying (validation, transfer). */
  workflows?: ResultWorkflows;
}

/** Workflow states in which the original may still be in the upload folder. */
const ACTIVE: FileState[] = ['RECEIVED', 'NEEDS_FOLDER', 'TRANSFER_BLOCKED', 'SENT'];
const IN_FLIGHT: FileState[] = ['RECEIVED', 'SENT'];
const MAX_LISTED = 500;
/** The watcher waits for a file to stop changing; past this, a file still not picked up deserves a word. */
const PICKUP_GRACE_MS = 2 * 60 * 1000;
/** Without Temporal to ask, a file still unchecked after this long is shown as "check retrying". */
const CHECK_SLOW_MS = 5 * 60 * 1000;
const DESCRIBE_LIMIT = 50;
const DESCRIBE_TIMEOUT_MS = 3000;

interface FolderEntry {
  name: string;
  size: number;
  modified: Date;
  transient: boolean;
  pickedUpBy?: IResultFile;
}

interface Retrying {
  activity: string;
  attempt: number;
  message: string;
}

/** Regular files at the top of the upload folder (the watcher looks no deeper), oldest first. */
async function listUploadFolder(em: EntityManager, uploadDir: string): Promise<{ entries: FolderEntry[]; total: number; error?: string }> {
  let names: string[];
  try {
    names = (await readdir(uploadDir, { withFileTypes: true })).filter((d) => d.isFile()).map((d) => d.name);
  } catch (err) {
    return { entries: [], total: 0, error: `The upload folder cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}).` };
  }
  const entries: FolderEntry[] = [];
  for (const name of names) {
    const info = await lstat(path.join(uploadDir, name)).catch(() => undefined);
    if (info?.isFile()) entries.push({ name, size: info.size, modified: info.mtime, transient: isTransientName(name) });
  }
  entries.sort((a, b) => a.modified.getTime() - b.modified.getTime() || a.name.localeCompare(b.name));
  const shown = entries.slice(0, MAX_LISTED);
  // The watcher submits the resolved path; match on it, under the folder's real path too (a symlinked data dir).
  const dirs = [...new Set([path.resolve(uploadDir), await realpath(uploadDir).catch(() => path.resolve(uploadDir))])];
  const paths = shown.filter((e) => !e.transient).flatMap((e) => dirs.map((d) => path.join(d, e.name)));
  const rows = paths.length ? await em.find(ResultFile, { uploadPath: { $in: paths }, state: { $in: ACTIVE } }, { orderBy: { id: 'desc' } }) : [];
  for (const e of shown) e.pickedUpBy = rows.find((r) => path.basename(r.uploadPath) === e.name);
  return { entries: shown, total: entries.length };
}

/** Which activity of each workflow is being retried, and why; empty when Temporal is absent or slow to answer. */
async function retryingSteps(workflows: ResultWorkflows | undefined, rows: IResultFile[]): Promise<Map<number, Retrying>> {
  const found = new Map<number, Retrying>();
  if (!workflows) return found;
  const ask = rows.slice(0, DESCRIBE_LIMIT).map(async (row) => {
    const pending = (await workflows.pendingActivities(row)).find((a) => a.attempt > 1);
    if (pending) {
      found.set(row.id, {
        activity: pending.activityType ?? 'a step',
        attempt: pending.attempt,
        message: pending.lastFailureMessage ?? 'no reason given',
      });
    }
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, DESCRIBE_TIMEOUT_MS)));
  await Promise.race([Promise.allSettled(ask), timeout]);
  clearTimeout(timer);
  return found;
}

function inFlightPhase(row: IResultFile, types: Set<string>): string {
  if (row.state === 'SENT') return 'Sent; the original is being archived.';
  if (types.has('ROUTED')) return `Checked; being sent to ${row.clinicFolder ?? 'its clinic folder'}.`;
  if (types.has('VALIDATED')) return 'Checked; looking up its clinic folder.';
  return 'Being checked (PDF, identifier).';
}

function retryForm(c: Parameters<typeof csrfField>[0], id: number): Html {
  return html`<form method="post" action="/files/${id}/retry">${csrfField(c)}<button class="secondary" type="submit">Retry now</button></form>`;
}

/** What has not reached the clinic yet: files in the upload folder, deliveries under way, and files waiting on something. */
export function createPendingRoutes(deps: PendingRouteDeps) {
  const app = new Hono<BaseEnv>();
  app.get('/', async (c) => {
    const em = c.get('em');
    const now = new Date();
    // The upload folder shown is this web process's own host's; the deliveries, those of the viewer's lab.
    const labId = labScopeOf(c);
    const inLab = inLabScope(labId);
    const [folder, flying, waiting] = await Promise.all([
      listUploadFolder(em, deps.uploadDir),
      em.find(ResultFile, { state: { $in: IN_FLIGHT }, ...inLab }, { orderBy: { uploadedAt: 'asc', id: 'asc' }, limit: 200 }),
      em.find(ResultFile, { state: { $in: WAITING_STATES }, ...inLab }, { orderBy: { uploadedAt: 'asc', id: 'asc' }, limit: 200 }),
    ]);
    const events = flying.length
      ? await em.find(FileEvent, { resultFileId: { $in: flying.map((r) => r.id) }, type: { $in: ['VALIDATED', 'ROUTED'] } }, { fields: ['resultFileId', 'type'] })
      : [];
    const typesOf = new Map<number, Set<string>>();
    for (const e of events) typesOf.set(e.resultFileId, (typesOf.get(e.resultFileId) ?? new Set()).add(e.type));
    const retrying = await retryingSteps(deps.workflows, flying);

    // A check that keeps failing (typically a PDF that looks unfinished) is waiting too, though its state is RECEIVED.
    const checkRetrying = flying.filter((r) => {
      const step = retrying.get(r.id);
      if (step) return step.activity === 'validateUpload';
      return !deps.workflows && r.state === 'RECEIVED' && !typesOf.get(r.id)?.has('VALIDATED') && now.getTime() - r.uploadedAt.getTime() > CHECK_SLOW_MS;
    });
    const stillFlying = flying.filter((r) => !checkRetrying.includes(r));

    const folderRows = folder.entries.map((e) => {
      let status: Html;
      if (e.pickedUpBy) status = html`<a href="/files/${e.pickedUpBy.id}">taken (file #${e.pickedUpBy.id})</a> ${stateBadge(e.pickedUpBy.state)}`;
      else if (e.transient) status = html`<span class="muted">temporary name: ignored until it is renamed</span>`;
      else if (now.getTime() - e.modified.getTime() < PICKUP_GRACE_MS) status = html`<span class="muted">just arrived; taken once it stops changing</span>`;
      else status = html`<span class="tone-wait">not taken yet: is the watcher running?</span>`;
      return html`<tr><td>${e.name}</td><td class="num">${bytes(e.size)}</td><td class="num" title="${when(e.modified)}">${age(e.modified, now)}</td><td>${status}</td></tr>`;
    });

    const waitingRows = [
      ...waiting.map(
        (r) => html`<tr><td><a href="/files/${r.id}">${r.fileName}</a></td><td>${stateBadge(r.state)}</td>
<td>${r.stateReason ?? STATE_WORDS[r.state].meaning}</td><td class="num">${age(r.uploadedAt, now)}</td><td>${retryForm(c, r.id)}</td></tr>`,
      ),
      ...checkRetrying.map((r) => {
        const step = retrying.get(r.id);
        const reason = step
          ? html`The check is being retried (attempt ${step.attempt}): ${step.message}`
          : html`Still not checked after ${age(r.uploadedAt, now)}: the check is probably being retried (a PDF that looks unfinished is checked again until it is complete). The Temporal UI shows why.`;
        return html`<tr><td><a href="/files/${r.id}">${r.fileName}</a></td><td><span class="state tone-wait">Check retrying</span></td>
<td>${reason}</td><td class="num">${age(r.uploadedAt, now)}</td><td class="muted small">retries by itself</td></tr>`;
      }),
    ];

    const body = html`<h1>Pending</h1>
<p class="muted">Everything not yet in a clinic folder. Oldest first.</p>
<section class="card" id="waiting"><h2>Waiting for something (${waitingRows.length})</h2>
<table><thead><tr><th>File</th><th>State</th><th>Why</th><th class="num">Age</th><th></th></tr></thead><tbody>
${waitingRows.length ? waitingRows : html`<tr><td colspan="5" class="muted">Nothing is waiting.</td></tr>`}
</tbody></table>${deps.workflows ? '' : html`<p class="muted small">Retry needs this web process to be connected to Temporal.</p>`}</section>

<section class="card" id="in-flight"><h2>Being delivered (${stillFlying.length})</h2>
<table><thead><tr><th>File</th><th>State</th><th>Now</th><th class="num">Age</th></tr></thead><tbody>
${stillFlying.length
  ? stillFlying.map((r) => {
      const step = retrying.get(r.id);
      return html`<tr><td><a href="/files/${r.id}">${r.fileName}</a></td><td>${stateBadge(r.state)}</td>
<td>${inFlightPhase(r, typesOf.get(r.id) ?? new Set())}${step ? html`<br><span class="tone-wait small">Retrying ${step.activity === 'transferFile' ? 'the transfer' : step.activity} (attempt ${step.attempt}): ${step.message}</span>` : ''}</td>
<td class="num">${age(r.uploadedAt, now)}</td></tr>`;
    })
  : html`<tr><td colspan="4" class="muted">No delivery is under way.</td></tr>`}
</tbody></table></section>

<section class="card" id="upload-folder"><h2>In the upload folder (${folder.total})</h2>
${folder.error ? flash('bad', folder.error) : ''}
<table><thead><tr><th>Name</th><th class="num">Size</th><th class="num">Age</th><th>Status</th></tr></thead><tbody>
${folderRows.length ? folderRows : html`<tr><td colspan="4" class="muted">The upload folder is empty.</td></tr>`}
</tbody></table>${folder.total > folder.entries.length ? html`<p class="muted small">The oldest ${folder.entries.length} of ${folder.total} are shown.</p>` : ''}
<p class="muted small">Files leave the folder once sent (archived) or rejected.</p></section>`;
    return deps.renderPage(c, { title: 'Pending', nav: 'pending', body, live: true });
  });
  return app;
}
