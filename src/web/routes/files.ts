import { HTTPException } from 'hono/http-exception';
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { ResultFile } from '../../db/entities';
import { FileLedger } from '../../db/file-ledger';
import type { IdentifierPatterns } from '../../domain/identifier-patterns';
import type { ResultWorkflows } from '../../temporal/result-workflows';
import { signedIn, type BaseEnv } from '../context';
import { labScopeOf } from '../auth/lab-scope';
import type { FileHost } from '../../labs/upload-hosts';
import { ActionRefused, FileActions } from '../result-files/file-actions';
import { loadFilePage } from '../result-files/file-page-query';
import { pdfFromHost } from '../result-files/pdf-from-host';
import { COUNT_CAP, PAGE_SIZE, listFiles, parseFileFilters, type FileFilters } from '../result-files/file-query';
import { canResend, requestResend } from '../result-files/resend-action';
import { canWithdraw, requestWithdraw } from '../result-files/withdraw-action';
import { FILE_STATES } from '../../domain/file-state';
import { bytes, html, query, when, type Html } from '../views/html';
import { csrfField, flash, type RenderPage } from '../views/layout';
import { AUDITABLE_STATES, STATES_WITH_REASON, STATE_WORDS, WAITING_STATES } from '../views/states';

export interface FileRouteDeps {
  renderPage: RenderPage;
  workflows?: ResultWorkflows;
  temporalNamespace: string;
  temporalUiUrl?: string;
  pdfRoots: string[];
  patterns?: IdentifierPatterns;
  /** Queue of the host holding the archive, for Resend (see resend-action.ts); absent: Resend explains it is unavailable. */
  fileTaskQueue?: string;
  /** This web process's own upload host: PDFs of files held there are read from this disk. */
  uploadHost?: FileHost;
}

/** Messages shown after an action, chosen by key so nothing from the URL is echoed into the page. */
const DONE: Record<string, string> = {
  retry: 'Asked the workflow to try again. Its progress shows below in a moment.',
  'undo-ack': 'The acknowledgement was undone.',
  resend: 'Sending it again from the archive. The timeline shows "resent" once the clinic folder has it.',
  audited: 'Marked as checked and sent.',
  withdraw: 'Withdrawing it from the clinic folder. The timeline shows "withdrawn" once server B no longer shows it.',
};

export function stateBadge(state: (typeof FILE_STATES)[number]): Html {
  const words = STATE_WORDS[state];
  return html`<span class="state tone-${words.tone}" title="${words.meaning}">${words.label}</span>`;
}

/**
 * RFC 6266/5987 Content-Disposition: an ASCII fallback plus the exact UTF-8 name. encodeURIComponent leaves
 * ' ( ) * ! unescaped, which attr-char does not allow, so those are escaped too.
 */
export function inlineDisposition(fileName: string): string {
  const fallback = fileName.replace(/[^A-Za-z0-9._ -]/g, '_').slice(0, 200) || 'result.pdf';
  const exact = encodeURIComponent(fileName).replace(/['()*!]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);
  return `inline; filename="${fallback}"; filename*=UTF-8''${exact}`;
}

function parseId(c: Context<BaseEnv>): number {
  const id = Number(c.req.param('id'));
  return Number.isSafeInteger(id) && id > 0 ? id : 0;
}

async function isInside(file: string, roots: string[]): Promise<boolean> {
  const real = await realpath(file).catch(() => undefined);
  if (!real) return false;
  for (const root of roots) {
    const r = await realpath(root).catch(() => undefined);
    if (r && (real === r || real.startsWith(r + path.sep))) return true;
  }
  return false;
}

function filtersForm(f: FileFilters): Html {
  return html`<form class="filters" method="get" action="/files">
<label>Search name or identifier<input type="search" name="q" value="${f.q ?? ''}" placeholder="e.g. 066-1200"></label>
<label>State<select name="state"><option value="">any</option>${FILE_STATES.map(
    (s) => html`<option value="${s}"${f.state === s ? html` selected` : ''}>${STATE_WORDS[s].label}</option>`,
  )}</select></label>
<label>Clinic<input type="text" name="clinic" value="${f.clinic ?? ''}" size="14"></label>
<label>From<input type="date" name="from" value="${f.from ?? ''}"></label>
<label>To<input type="date" name="to" value="${f.to ?? ''}"></label>
<label>Uploaded by<input type="text" name="by" value="${f.by ?? ''}" size="10"></label>
<button class="primary" type="submit">Filter</button> <a href="/files">Clear</a>
</form>`;
}

/**
 * The identifier: as recorded once the file passed its name check, or, for a file rejected before that, what its name
 * claims under the lab's naming styles, so the technician can find the patient's result.
 */
function identifierFact(row: { identifier?: string | null; fileName: string }, patterns?: IdentifierPatterns): Html {
  if (row.identifier) return html`<span class="mono">${row.identifier}</span>`;
  const named = patterns?.identify(row.fileName);
  if (!named) return html`—`;
  if (named.ok) {
    const { identifier, label, hint } = named.identification;
    return html`<span class="mono">${identifier}</span> <span class="muted small">(what its name claims: style ${label}, clinic hint ${hint})</span>`;
  }
  return html`— <span class="muted small">(its name follows none of the lab's naming styles)</span>`;
}

/** A rejection for the name is said again in today's words (rows from before kept the regexes in their reason). */
function reasonInWords(row: { stateReason?: string | null; rejectionCode?: string | null; fileName: string }, patterns?: IdentifierPatterns): string {
  if (row.rejectionCode === 'NAME_NO_PATTERN' && patterns) {
    const named = patterns.identify(row.fileName);
    if (!named.ok) return named.reason;
  }
  return row.stateReason ?? '';
}

export function createFileRoutes(deps: FileRouteDeps) {
  const app = new Hono<BaseEnv>();
  const actions = (c: Context<BaseEnv>) => new FileActions(c.get('em'), signedIn(c).user.username, deps.workflows, labScopeOf(c));

  // Every route of one file (its page, the PDF, each action) answers 404 for a file of another lab: the same answer
  // as for an id that does not exist, so ids reveal nothing about other labs (issue 13).
  const ownLabOnly: MiddlewareHandler<BaseEnv> = async (c, next) => {
    const labId = labScopeOf(c);
    if (labId !== undefined && !(await c.get('em').count(ResultFile, { id: parseId(c), labId }))) return c.notFound();
    await next();
  };
  app.use('/:id{[0-9]+}', ownLabOnly);
  app.use('/:id{[0-9]+}/*', ownLabOnly);

  app.get('/', async (c) => {
    const parsed = parseFileFilters(c.req.query());
    if (!parsed.ok) throw new HTTPException(400, { message: `${parsed.problem} Change the filter and search again.` });
    const { filters } = parsed;
    const { rows, total, moreThan, page, hasNext } = await listFiles(c.get('em'), filters, labScopeOf(c));
    const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    // Counted exactly up to COUNT_CAP (see listFiles); beyond it the number of pages is not known, only that more follow.
    const counted = moreThan
      ? html`More than ${COUNT_CAP.toLocaleString('en-US')} files; page ${page}`
      : html`${total.toLocaleString('en-US')} file(s); page ${page} of ${pages}`;
    const keep = { q: filters.q, state: filters.state, clinic: filters.clinic, from: filters.from, to: filters.to, by: filters.by };
    const here = `/files${query({ ...keep, page: page > 1 ? page : undefined })}`;
    const audited = c.req.query('audited');
    const body = html`<h1>Files</h1>
${audited !== undefined && /^\d+$/.test(audited) ? flash('ok', `${audited} file(s) marked as checked and sent.`) : ''}
${filtersForm(filters)}
<form method="post" action="/files/audit">${csrfField(c)}
<input type="hidden" name="batch" value="${randomUUID()}"><input type="hidden" name="back" value="${here}">
<table><thead><tr><th></th><th>Uploaded</th><th>File</th><th>Identifier</th><th>Clinic folder</th><th>State</th><th>Why</th><th>Uploaded by</th></tr></thead>
<tbody>${rows.length
      ? rows.map(
          (r) => html`<tr>
<td>${AUDITABLE_STATES.includes(r.state) ? html`<input type="checkbox" name="ids" value="${r.id}" aria-label="select ${r.fileName}">` : ''}</td>
<td class="small">${when(r.uploadedAt)}</td><td><a href="/files/${r.id}">${r.fileName}</a></td>
<td class="mono">${r.identifier ?? ''}</td><td>${r.clinicFolder ?? ''}</td><td>${stateBadge(r.state)}</td>
<td class="small reason">${STATES_WITH_REASON.includes(r.state) ? (r.stateReason ?? '') : ''}</td><td>${r.uploader ?? ''}</td></tr>`,
        )
      : html`<tr><td colspan="8" class="muted">No files match.</td></tr>`}</tbody></table>
<div class="pager"><span class="muted">${counted}</span>
${page > 1 ? html`<a href="/files${query({ ...keep, page: page - 1 })}" rel="prev">← Newer</a>` : ''}
${hasNext ? html`<a href="/files${query({ ...keep, page: page + 1 })}" rel="next">Older →</a>` : ''}
<span class="right"><button class="secondary" type="submit">Mark selected as checked and sent</button></span></div>
</form>`;
    return deps.renderPage(c, { title: 'Files', nav: 'files', body, live: true });
  });

  app.post('/audit', async (c) => {
    const form = await c.req.parseBody({ all: true });
    const ids = ([] as unknown[]).concat(form.ids ?? []).map(Number).filter((n) => Number.isSafeInteger(n) && n > 0).slice(0, 500);
    const batch = typeof form.batch === 'string' && /^[0-9a-f-]{36}$/.test(form.batch) ? form.batch : randomUUID();
    // Back where the action was taken: the list (with its filters) or the file's own page.
    const back = typeof form.back === 'string' && (/^\/files(\?|$)/.test(form.back) || /^\/files\/\d+$/.test(form.back)) ? form.back : '/files';
    const { audited } = ids.length ? await actions(c).markAudited(ids, batch) : { audited: 0 };
    if (/^\/files\/\d+$/.test(back)) return c.redirect(`${back}?done=audited`, 303);
    return c.redirect(`${back}${back.includes('?') ? '&' : '?'}audited=${audited}`, 303);
  });

  app.get('/:id{[0-9]+}', async (c) => {
    const em = c.get('em');
    const id = parseId(c);
    const page = await loadFilePage(em, id, labScopeOf(c));
    if (!page) return c.notFound();
    const { row, events, receipts, foreign, uploads, copies, afterWithdrawal, versions } = page;
    const words = STATE_WORDS[row.state];
    const ui = deps.temporalUiUrl?.replace(/\/+$/, '');
    const workflowUrl = ui
      ? `${ui}/namespaces/${encodeURIComponent(deps.temporalNamespace)}/workflows/${encodeURIComponent(row.workflowId)}/${encodeURIComponent(row.runId)}/history`
      : undefined;
    const done = DONE[c.req.query('done') ?? ''];
    const auditedBy = events.filter((e) => e.type === 'AUDITED');
    const body = html`<p><a href="/files">← Files</a></p>
<h1>${row.fileName}</h1>
${done ? flash('ok', done) : ''}
<div id="live-file" data-live><div class="cards">
<section class="card"><h2>Now: ${stateBadge(row.state)}</h2>
<p>${words.meaning}</p>${row.stateReason ? html`<p><strong>Why:</strong> ${reasonInWords(row, deps.patterns)}</p>` : ''}
${row.state === 'NEEDS_FOLDER' && signedIn(c).user.role === 'admin'
  ? html`<p><a href="/folders${query({ q: row.hint ?? undefined })}">Add the folder on Remote folders</a> (style ${row.label ?? '?'}, hint ${row.hint ?? '?'}); the file is then sent by itself.</p>`
  : ''}
${auditedBy.length ? html`<p class="tone-ok">✔ Checked and sent: ${auditedBy.map((e, i) => html`${i ? ', ' : ''}${e.actor} (${when(e.at)})`)}</p>` : ''}
<div class="actions">
${WAITING_STATES.includes(row.state)
  ? html`<form method="post" action="/files/${row.id}/retry">${csrfField(c)}<button class="primary" type="submit">Retry now</button></form>`
  : ''}
${AUDITABLE_STATES.includes(row.state)
  ? html`<form method="post" action="/files/audit">${csrfField(c)}<input type="hidden" name="ids" value="${row.id}">
<input type="hidden" name="batch" value="${randomUUID()}"><input type="hidden" name="back" value="/files/${row.id}">
<button class="secondary" type="submit">Mark as checked and sent</button></form>`
  : ''}
${row.state === 'ACKNOWLEDGED'
  ? html`<form method="post" action="/files/${row.id}/undo-ack">${csrfField(c)}
<label class="small">Reason<br><input type="text" name="reason" required maxlength="500" placeholder="e.g. fetched by the lab, not the clinic"></label>
<button class="secondary" type="submit">Undo acknowledgement</button></form>`
  : ''}
${canWithdraw(row)
  ? html`<form method="post" action="/files/${row.id}/withdraw">${csrfField(c)}<input type="hidden" name="seq" value="${events.length}">
<label class="small">Reason<br><input type="text" name="reason" required maxlength="500" placeholder="e.g. sent to the wrong clinic"></label>
<button class="secondary" type="submit" title="Take it out of the clinic folder on server B (kept aside there, not deleted)">Withdraw</button></form>`
  : ''}
${canResend(row)
  ? html`<form method="post" action="/files/${row.id}/resend">${csrfField(c)}<input type="hidden" name="seq" value="${events.length}">
<button class="secondary" type="submit" title="Copy the archived file to the clinic folder again, e.g. after the clinic deleted it">Resend</button></form>`
  : ''}
</div></section>
<section class="card"><h2>Facts</h2><dl class="facts">
<dt>Identifier</dt><dd>${identifierFact(row, deps.patterns)}</dd>
<dt>Clinic folder</dt><dd>${row.clinicFolder ?? '—'}</dd>
<dt>Uploaded</dt><dd>${when(row.uploadedAt)}${row.uploadedBy ? html` by ${row.uploadedBy}` : ''}</dd>
${uploads.length ? html`<dt>Through this page</dt><dd>${uploads.map((u, i) => html`${i ? '; ' : ''}${u.username}, ${when(u.uploadedAt)}`)}</dd>` : ''}
<dt>Sent</dt><dd>${when(row.sentAt)}</dd>
<dt>Fetched</dt><dd>${when(row.acknowledgedAt)}</dd>
<dt>Remote path</dt><dd class="mono">${row.remotePath ?? '—'}</dd>
<dt>Size</dt><dd>${bytes(row.sizeBytes)}</dd>
<dt>SHA-256</dt><dd class="mono">${row.sha256}</dd>
<dt>Workflow</dt><dd class="mono">${workflowUrl ? html`<a href="${workflowUrl}" target="_blank" rel="noopener noreferrer">${row.workflowId} ↗</a>` : row.workflowId}</dd>
${row.duplicateOf ? html`<dt>Copy of</dt><dd><a href="/files/${row.duplicateOf}">file #${row.duplicateOf}</a></dd>` : ''}
${versions.length ? html`<dt>Other versions</dt><dd>${versions.map((f, i) => html`${i ? ', ' : ''}<a href="/files/${f.id}">#${f.id}</a> (${STATE_WORDS[f.state].label}${f.sentAt ? html`, sent ${when(f.sentAt)}` : ''})`)}</dd>` : ''}
${copies.length ? html`<dt>Same content</dt><dd>${copies.map((f, i) => html`${i ? ', ' : ''}<a href="/files/${f.id}">#${f.id}</a> (${STATE_WORDS[f.state].label})`)}</dd>` : ''}
</dl></section></div>
<section class="card"><h2>Timeline</h2><ol class="timeline">${events.map(
      (e) => html`<li><div><strong>${e.type.replace(/_/g, ' ').toLowerCase()}</strong>${e.state ? html` → ${stateBadge(e.state as (typeof FILE_STATES)[number])}` : ''}
<span class="muted small"> ${when(e.at)} · ${e.actor}</span></div><div>${e.message}</div></li>`,
    )}</ol></section>
${receipts.length
  ? html`<section class="card"><h2>Fetches by the clinic</h2><table><thead><tr><th>When</th><th>From</th><th>Request</th><th>Status</th></tr></thead><tbody>
${receipts.map((a) => html`<tr><td>${when(a.accessedAt)}</td><td class="mono">${a.client}${a.remoteUser ? html` <span class="small">(user ${a.remoteUser})</span>` : ''}</td><td class="mono">${a.requestLine}</td><td>${a.status ?? ''}</td></tr>`)}</tbody></table></section>`
  : ''}
${afterWithdrawal.length
  ? html`<section class="card" id="after-withdrawal"><h2>Asked for after it was withdrawn</h2>
<p class="muted small">Requests for the path it had in the clinic folder, after the withdrawal: they do not count as receipt (the file is no longer there).</p>
<table><thead><tr><th>When</th><th>From</th><th>Request</th><th>Status</th></tr></thead><tbody>
${afterWithdrawal.map((a) => html`<tr><td>${when(a.accessedAt)}</td><td class="mono">${a.client}</td><td class="mono">${a.requestLine}</td><td>${a.status ?? ''}</td></tr>`)}</tbody></table></section>`
  : ''}
${foreign.length
  ? html`<section class="card" id="foreign"><h2>Fetches that did not count</h2>
<p class="muted small">Downloaded, but not from an address or by a user that the clinic folder's receipt rule allows: kept as evidence, not an acknowledgement.</p>
<table><thead><tr><th>When</th><th>From</th><th>User</th><th>Why it did not count</th><th>Request</th><th>Status</th></tr></thead><tbody>
${foreign.map((a) => html`<tr><td>${when(a.accessedAt)}</td><td class="mono">${a.client}</td><td>${a.remoteUser ?? ''}</td><td class="small">${a.reason}</td><td class="mono">${a.requestLine}</td><td>${a.status ?? ''}</td></tr>`)}</tbody></table></section>`
  : ''}</div>
${row.archivePath
  ? html`<section class="card" id="pdf"><h2>The PDF</h2>
<p class="muted small">Each view is recorded on the timeline, with who viewed it.</p>
<p><a href="/files/${row.id}?show=pdf#pdf">Show it here</a> · <a href="/files/${row.id}/pdf" target="_blank" rel="noopener">Open in a new tab</a></p>
${c.req.query('show') === 'pdf' ? html`<iframe class="pdf" src="/files/${row.id}/pdf" title="${row.fileName}"></iframe>` : ''}</section>`
  : ''}`;
    return deps.renderPage(c, { title: row.fileName, nav: 'files', body, live: true });
  });

  app.get('/:id{[0-9]+}/pdf', async (c) => {
    const id = parseId(c);
    const row = await c.get('em').findOne(ResultFile, { id }, { fields: ['fileName', 'archivePath', 'uploadHost'] });
    if (!row?.archivePath) return c.notFound();
    const headers = {
      'Content-Type': 'application/pdf',
      'Cache-Control': 'private, no-store',
      'Content-Disposition': inlineDisposition(row.fileName),
      'X-Content-Type-Options': 'nosniff',
    };
    const viewer = signedIn(c).user.username;
    // Who looked at a patient's result, and when, is part of the file's trail (issue 12).
    const recordView = (where: string) =>
      new FileLedger(c.get('em')).transition(id, null, {
        eventKey: `web:pdf-viewed:${id}:${randomUUID()}`,
        type: 'PDF_VIEWED',
        message: `${viewer} viewed the PDF on the web page${where}.`,
        actor: viewer,
      });
    // A file held by another upload host is on that host's disk: its worker hands the PDF over (pdf-from-host.ts).
    if (row.uploadHost && deps.uploadHost && row.uploadHost !== deps.uploadHost.name) {
      const fetched = await pdfFromHost(c.get('em'), deps.workflows, { id, uploadHost: row.uploadHost });
      if (!fetched.ok) {
        return deps.renderPage(c, {
          title: fetched.title,
          status: fetched.status,
          body: html`<h1>${fetched.title}</h1>${flash('bad', fetched.problem)}<p><a href="/files/${id}">Back to the file</a></p>`,
        });
      }
      await recordView(` (from upload host ${row.uploadHost})`);
      return c.body(new Uint8Array(fetched.content), 200, { ...headers, 'Content-Length': String(fetched.content.length) });
    }
    // Only the path the database recorded for this file, and only inside the folders we keep files in.
    const file = row.archivePath;
    if (!path.isAbsolute(file) || !(await isInside(file, deps.pdfRoots))) return c.notFound();
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) return c.notFound();
    await recordView('');
    const stream = Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>;
    return c.body(stream, 200, { ...headers, 'Content-Length': String(info.size) });
  });

  const refusedOr = async (c: Context<BaseEnv>, id: number, done: string, work: () => Promise<void>) => {
    try {
      await work();
    } catch (err) {
      if (!(err instanceof ActionRefused)) throw err;
      return deps.renderPage(c, {
        title: 'Not done',
        status: 409,
        body: html`<h1>Not done</h1>${flash('bad', err.message)}<p><a href="/files/${id}">Back to the file</a></p>`,
      });
    }
    return c.redirect(`/files/${id}?done=${done}`, 303);
  };

  app.post('/:id{[0-9]+}/retry', (c) => {
    const id = parseId(c);
    return refusedOr(c, id, 'retry', () => actions(c).retry(id));
  });

  app.post('/:id{[0-9]+}/resend', async (c) => {
    const id = parseId(c);
    const form = await c.req.parseBody();
    const seq = typeof form.seq === 'string' && /^\d{1,9}$/.test(form.seq) ? Number(form.seq) : undefined;
    return refusedOr(c, id, 'resend', async () => {
      if (seq === undefined) throw new ActionRefused('The form was incomplete. Reload the file page and press Resend again.');
      await requestResend({ em: c.get('em'), actor: signedIn(c).user.username, workflows: deps.workflows, fileTaskQueue: deps.fileTaskQueue }, id, seq);
    });
  });

  app.post('/:id{[0-9]+}/withdraw', async (c) => {
    const id = parseId(c);
    const form = await c.req.parseBody();
    const seq = typeof form.seq === 'string' && /^\d{1,9}$/.test(form.seq) ? Number(form.seq) : undefined;
    const reason = typeof form.reason === 'string' ? form.reason.trim().slice(0, 500) : '';
    return refusedOr(c, id, 'withdraw', async () => {
      if (seq === undefined) throw new ActionRefused('The form was incomplete. Reload the file page and press Withdraw again.');
      await requestWithdraw({ em: c.get('em'), actor: signedIn(c).user.username, workflows: deps.workflows, fileTaskQueue: deps.fileTaskQueue }, id, seq, reason);
    });
  });

  app.post('/:id{[0-9]+}/undo-ack', async (c) => {
    const id = parseId(c);
    const form = await c.req.parseBody();
    const reason = typeof form.reason === 'string' ? form.reason.trim().slice(0, 500) : '';
    return refusedOr(c, id, 'undo-ack', async () => {
      if (!reason) throw new ActionRefused('Say why the acknowledgement is being undone.');
      await actions(c).undoAcknowledgement(id, reason);
    });
  });

  return app;
}
