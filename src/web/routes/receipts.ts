import type { EntityManager, EntityName } from '@mikro-orm/postgresql';
import { Hono } from 'hono';
import { ForeignFetch, LogScanRun, Receipt, ResultFile, UnknownFetch } from '../../db/entities';
import { deploymentHasSeveralLabs } from '../../labs/upload-hosts';
import type { FileState } from '../../domain/file-state';
import type { BaseEnv } from '../context';
import { inLabScope, labScopeOf } from '../auth/lab-scope';
import { bytes, html, query, when, type Html } from '../views/html';
import type { RenderPage } from '../views/layout';
import { stateBadge } from './files';

/** Default of "sent but not acknowledged after N days", on this page and on the dashboard. */
export const DEFAULT_UNACKNOWLEDGED_DAYS = 3;
const NOT_FETCHED: FileState[] = ['AWAITING_ACK', 'UNACKNOWLEDGED'];
const LIMIT = 50;

/** N from `?days=`: a whole number of days, 1 to 365; anything else gives the default (a link should never 400). */
export function parseDays(value: string | undefined): number {
  const n = value !== undefined && /^\d{1,3}$/.test(value) ? Number(value) : NaN;
  return n >= 1 && n <= 365 ? n : DEFAULT_UNACKNOWLEDGED_DAYS;
}

function sentBefore(days: number): Date {
  return new Date(Date.now() - days * 24 * 60 * 60 * 1000);
}

/** Files sent more than `days` ago that nobody has fetched (still awaited, or given up on). */
export async function countUnacknowledgedAfter(em: EntityManager, days: number, labId?: number): Promise<number> {
  return em.count(ResultFile, { state: { $in: NOT_FETCHED }, sentAt: { $lt: sentBefore(days) }, ...inLabScope(labId) });
}

function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function notes(list: string[] | null | undefined): Html | string {
  return list?.length ? html`${list.map((n, i) => html`${i ? html`<br>` : ''}${n}`)}` : '';
}

/**
 * What the clinics fetched, as the access-log scan saw it: recent fetches of our files, fetches that a clinic folder's
 * receipt rule did not accept, fetches of files we have no delivery for, each scan run with its counters, and files
 * sent long ago that nobody has fetched.
 */
export function createReceiptRoutes(deps: { renderPage: RenderPage }) {
  const app = new Hono<BaseEnv>();
  app.get('/', async (c) => {
    const em = c.get('em');
    const days = parseDays(c.req.query('days'));
    // A lab's users see the fetches of their lab's files only; fetches of no file of ours (which may name another
    // lab's patient) only an admin of the whole deployment sees, once the deployment serves more than one lab.
    const labId = labScopeOf(c);
    const showUnknown = labId === undefined || !(await deploymentHasSeveralLabs(em));
    const ofLab = <T extends object>(entity: EntityName<T>, alias: string) => {
      const qb = em.createQueryBuilder(entity, alias);
      if (labId !== undefined) qb.where(`${alias}.result_file_id in (select f.id from result_file f where f.lab_id = ?)`, [labId]);
      return qb;
    };
    const [fetches, unknown, foreign, runs, late, lateTotal] = await Promise.all([
      ofLab(Receipt, 'a').orderBy({ accessedAt: 'desc', id: 'desc' }).limit(LIMIT).getResult(),
      showUnknown ? em.find(UnknownFetch, {}, { orderBy: { accessedAt: 'desc', id: 'desc' }, limit: LIMIT }) : Promise.resolve([]),
      ofLab(ForeignFetch, 'x').orderBy({ accessedAt: 'desc', id: 'desc' }).limit(LIMIT).getResult(),
      em.find(LogScanRun, {}, { orderBy: { startedAt: 'desc', id: 'desc' }, limit: 20 }),
      em.find(ResultFile, { state: { $in: NOT_FETCHED }, sentAt: { $lt: sentBefore(days) }, ...inLabScope(labId) }, { orderBy: { sentAt: 'asc', id: 'asc' }, limit: 200 }),
      countUnacknowledgedAfter(em, days, labId),
    ]);
    const ids = [...new Set([...fetches.map((a) => a.resultFileId), ...foreign.map((a) => a.resultFileId)])];
    const files = new Map(
      (ids.length ? await em.find(ResultFile, { id: { $in: ids } }, { fields: ['id', 'fileName', 'clinicFolder'] }) : []).map((f) => [f.id, f]),
    );
    const body = html`<h1>Receipts</h1>
<p class="muted">What the clinics fetched, from the web server's access log (scanned on a schedule).</p>

<section class="card" id="unacknowledged"><h2>Sent but not fetched after ${days} day(s): ${lateTotal}</h2>
<form class="filters" method="get" action="/receipts#unacknowledged"><label>Days since sending<input type="text" name="days" value="${days}" size="4" inputmode="numeric" pattern="[0-9]*"></label>
<button class="secondary" type="submit">Show</button></form>
<table><thead><tr><th>Sent</th><th>File</th><th>Clinic folder</th><th>State</th></tr></thead><tbody>
${late.length
  ? late.map(
      (f) => html`<tr><td class="small">${when(f.sentAt)}</td><td><a href="/files/${f.id}">${f.fileName}</a></td><td>${f.clinicFolder ?? ''}</td><td>${stateBadge(f.state)}</td></tr>`,
    )
  : html`<tr><td colspan="4" class="muted">None: every file sent more than ${days} day(s) ago was fetched.</td></tr>`}
</tbody></table>${lateTotal > late.length ? html`<p class="muted small">The oldest ${late.length} of ${lateTotal} are shown.</p>` : ''}</section>

<section class="card" id="fetches"><h2>Recent fetches by clinics</h2>
<table><thead><tr><th>When</th><th>File</th><th>Clinic folder</th><th>From</th><th>Status</th><th></th></tr></thead><tbody>
${fetches.length
  ? fetches.map((a) => {
      const f = files.get(a.resultFileId);
      return html`<tr><td class="small">${when(a.accessedAt)}</td><td><a href="/files/${a.resultFileId}">${f?.fileName ?? `file #${a.resultFileId}`}</a></td>
<td>${f?.clinicFolder ?? ''}</td><td class="mono">${a.client}</td><td>${a.status ?? ''}</td><td class="small">${a.first ? 'first fetch (acknowledgement)' : 'fetched again'}</td></tr>`;
    })
  : html`<tr><td colspan="6" class="muted">No fetches recorded yet.</td></tr>`}
</tbody></table></section>

<section class="card" id="foreign"><h2>Fetches that did not count: not from the clinic</h2>
<p class="muted small">These files were downloaded, but not from an address or by a user that their clinic folder's receipt rule allows
(set on the Remote folders page), so they do not count as the clinic's fetch. Kept as evidence: someone other than the clinic may have the result.</p>
<table><thead><tr><th>When</th><th>File</th><th>From</th><th>User</th><th>Why it did not count</th><th>Status</th></tr></thead><tbody>
${foreign.length
  ? foreign.map((a) => {
      const f = files.get(a.resultFileId);
      return html`<tr><td class="small">${when(a.accessedAt)}</td><td><a href="/files/${a.resultFileId}">${f?.fileName ?? `file #${a.resultFileId}`}</a></td>
<td class="mono">${a.client}</td><td>${a.remoteUser ?? ''}</td><td class="small">${a.reason}</td><td>${a.status ?? ''}</td></tr>`;
    })
  : html`<tr><td colspan="6" class="muted">None.</td></tr>`}
</tbody></table></section>

<section class="card" id="unknown"><h2>Fetches of files we did not send</h2>
<p class="muted small">The log shows these paths fetched, but no delivery of ours matches them. Kept as evidence; usually harmless (an old file, or a path typed by hand).</p>
<table><thead><tr><th>When</th><th>Path</th><th>From</th><th>Request</th><th>Status</th></tr></thead><tbody>
${unknown.length
  ? unknown.map(
      (a) => html`<tr><td class="small">${when(a.accessedAt)}</td><td class="mono">${a.remotePath}</td><td class="mono">${a.client}</td><td class="mono">${a.requestLine}</td><td>${a.status ?? ''}</td></tr>`,
    )
  : html`<tr><td colspan="5" class="muted">None.</td></tr>`}
</tbody></table></section>

<section class="card" id="scans"><h2>Log scans</h2>
<table><thead><tr><th>Started</th><th>Source</th><th class="num">Bytes</th><th class="num">Lines</th><th class="num">Hits</th><th class="num">Fetched</th><th class="num">Unknown</th><th class="num">Not the clinic</th><th class="num">Parse errors</th><th class="num">Took</th><th>Notes</th></tr></thead><tbody>
${runs.length
  ? runs.map(
      (r) => html`<tr><td class="small">${when(r.startedAt)}${r.finishedAt ? '' : html` <span class="tone-wait">(running or stopped)</span>`}</td><td class="mono">${r.source}</td>
<td class="num">${bytes(r.bytesRead)}</td><td class="num">${r.linesRead}</td><td class="num">${r.hits}</td><td class="num">${r.acknowledged}</td>
<td class="num">${r.unknownHits}</td><td class="num${r.foreignHits ? ' tone-wait' : ''}">${r.foreignHits}</td><td class="num${r.parseErrors ? ' tone-bad' : ''}">${r.parseErrors}</td><td class="num">${duration(r.durationMs)}</td><td class="small">${notes(r.notes)}</td></tr>`,
    )
  : html`<tr><td colspan="11" class="muted">No scan has run yet. Scans need an access log (GETRESULTS_ACCESS_LOG) and a running worker.</td></tr>`}
</tbody></table></section>
<p class="muted small"><a href="/files${query({ state: 'UNACKNOWLEDGED' })}">All files not fetched in time</a></p>`;
    return deps.renderPage(c, { title: 'Receipts', nav: 'receipts', body });
  });
  return app;
}
