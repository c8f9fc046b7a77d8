import type { EntityManager } from '@mikro-orm/postgresql';
import { Hono, type MiddlewareHandler } from 'hono';
import { readFile } from 'node:fs/promises';
import { FileEvent, ResultFile, WebUpload } from '../../db/entities';
import { clinicFolderOf } from '../../remote-folders/clinic-rule';
import { findRemoteFolder } from '../../remote-folders/remote-folder-table';
import type { IdentifierPatterns } from '../../domain/identifier-patterns';
import { validateResultFile } from '../../validation/validate-result-file';
import { signedIn, type BaseEnv } from '../context';
import { sameToken } from '../auth/sessions';
import { CSRF_FIELD } from '../middleware/csrf';
import { discardStaged, receiveUploadForm } from '../uploads/receive-upload';
import { placeInOwnFolder, type UploadPlacement } from '../uploads/upload-placement';
import { bytes, html, when, type Html } from '../views/html';
import { csrfField, flash, type RenderPage } from '../views/layout';
import { stateBadge } from './files';
import type { ResultWorkflows } from '../../temporal/result-workflows';
import { ActionRefused } from '../result-files/file-actions';
import { requestWithdraw } from '../result-files/withdraw-action';
import { AUDITABLE_STATES, STATE_WORDS } from '../views/states';
import { inLabScope, labScopeOf } from '../auth/lab-scope';
import { DEFAULT_LAB, labIdByName, type FileHost } from '../../labs/upload-hosts';

export interface UploadRouteDeps {
  renderPage: RenderPage;
  /** For "these are corrected results": the earlier version is withdrawn (withdraw-action.ts) before this one goes. */
  workflows?: ResultWorkflows;
  fileTaskQueue?: string;
  /** The lab's naming styles: with them, each saved file's answer says what the pipeline will do with it. */
  patterns?: IdentifierPatterns;
  uploadDir: string;
  maxFileBytes: number;
  maxUploadBytes?: number;
  /**
   * The upload host whose folder `uploadDir` is (this web process's GETRESULTS_HOST_ID): uploads become its lab's
   * files, so only that lab's users (and deployment admins) may upload here. Absent: the lab `default`.
   */
  uploadHost?: FileHost;
  /** Where uploads go when not into `uploadDir` (GETRESULTS_WEB_UPLOAD_HOST names another host): its host is theirs. */
  uploadPlacement?: UploadPlacement;
}

/**
 * At most `max` upload requests are received at once. Each streams to disk (receive-upload.ts), so the bound is on
 * disk writes and open files rather than memory; beyond it a request is turned away before its body is read. Mounted
 * before anything reads the body (src/web/app.ts).
 */
export function boundUploads(max: number, renderPage: RenderPage): MiddlewareHandler<BaseEnv> {
  let inFlight = 0;
  return async function boundUploads(c, next) {
    if (c.req.method !== 'POST') return next();
    if (inFlight >= max) {
      c.header('Retry-After', '5');
      return renderPage(c, {
        title: 'Upload',
        nav: 'upload',
        status: 503,
        body: html`<h1>Upload results</h1><p>Several uploads are being received right now, so this one was not taken and nothing was saved. Send it again in a few seconds.</p><p><a href="/upload">Back to Upload</a></p>`,
      });
    }
    inFlight++;
    try {
      await next();
    } finally {
      inFlight--;
    }
  };
}

interface Outcome {
  name: string;
  saved: boolean;
  problem?: string;
  /** What the pipeline will do with a saved file, found by its own checks (forecast below). */
  next?: { tone: 'ok' | 'wait' | 'bad'; text: string; identifier?: string };
  warnings: Html[];
}

/**
 * The pipeline's own checks run on a staged upload before the page answers (issue 12), so "Saved" never hides a
 * rejection to come: the same validation (a whole PDF, a naming style, the identifier in its text) and the same
 * folder lookup. The file is saved either way: the pipeline then records the outcome on its trail as for any upload.
 */
async function forecast(em: EntityManager, labId: number, tempPath: string, name: string, patterns: IdentifierPatterns, maxBytes: number): Promise<Outcome['next']> {
  const content = await readFile(tempPath);
  const checked = await validateResultFile({ fileName: name, content, maxBytes }, patterns);
  if (!checked.ok) return { tone: 'bad', text: `It will be rejected: ${checked.reason} Fix it and upload it again.` };
  const { label, hint } = checked.identification;
  const found = await findRemoteFolder(em, label, hint, labId);
  if (!found) {
    return {
      tone: 'wait',
      text: `It will wait for a clinic folder: none is set up for ${label} hint "${hint}". Ask an admin to add it; the file is then sent by itself.`,
      identifier: checked.identification.identifier,
    };
  }
  return { tone: 'ok', text: `It will be sent to ${clinicFolderOf(found)}.`, identifier: checked.identification.identifier };
}

/** Earlier uploads with the same name or the same content: worth a second look before a result goes out twice. */
async function earlierSightings(em: EntityManager, labId: number, name: string, sha256: string): Promise<Html[]> {
  const [files, uploads] = await Promise.all([
    em.find(ResultFile, { labId, $or: [{ sha256 }, { fileName: name }] }, { orderBy: { uploadedAt: 'desc' }, limit: 5 }),
    em.find(WebUpload, { labId, $or: [{ sha256 }, { fileName: name }] }, { orderBy: { uploadedAt: 'desc' }, limit: 5 }),
  ]);
  const seen = files.map(
    (f) =>
      html`${f.sha256 === sha256 ? 'The same content' : 'A file of the same name'} was received ${when(f.uploadedAt)}
as <a href="/files/${f.id}">${f.fileName}</a>, now ${stateBadge(f.state)}${f.sentAt ? html`, sent ${when(f.sentAt)}` : ''}.`,
  );
  const knownShas = new Set(files.map((f) => f.sha256));
  for (const u of uploads) {
    if (knownShas.has(u.sha256)) continue; // already told, from the pipeline's own record
    seen.push(html`${u.sha256 === sha256 ? 'The same content' : 'A file of the same name'} was uploaded here by ${u.username} ${when(u.uploadedAt)}.`);
  }
  return seen;
}

function uploadForm(c: Parameters<RenderPage>[0], maxFileBytes: number, maxUploadBytes: number): Html {
  const nonce = c.get('secureHeadersNonce') ?? '';
  return html`<form method="post" action="/upload" enctype="multipart/form-data" id="upload-form">
${csrfField(c)}
<div class="drop" id="drop"><p><strong>Drop result PDFs here</strong> or choose them:</p>
<p><input type="file" name="files" id="files" accept="application/pdf,.pdf" multiple required></p>
<p class="muted small" id="chosen">Up to ${bytes(maxFileBytes)} per file, ${bytes(maxUploadBytes)} per upload.</p></div>
<p><label><input type="checkbox" name="${REPLACES_FIELD}" value="1"> These are corrected results: withdraw the version of each identifier sent before, then send these in its place</label></p>
<p><button class="primary" type="submit">Upload</button></p></form>
<script nonce="${nonce}">
(function () {
  var drop = document.getElementById('drop'), input = document.getElementById('files'), chosen = document.getElementById('chosen');
  if (!drop || !input || !('DataTransfer' in window)) return;
  function show() { chosen.textContent = Array.prototype.map.call(input.files, function (f) { return f.name; }).join(', ') || chosen.textContent; }
  ['dragenter', 'dragover'].forEach(function (t) { drop.addEventListener(t, function (e) { e.preventDefault(); drop.classList.add('over'); }); });
  ['dragleave', 'drop'].forEach(function (t) { drop.addEventListener(t, function () { drop.classList.remove('over'); }); });
  drop.addEventListener('drop', function (e) { e.preventDefault(); if (e.dataTransfer && e.dataTransfer.files.length) { input.files = e.dataTransfer.files; show(); } });
  input.addEventListener('change', show);
})();
</script>`;
}

async function recentUploads(em: EntityManager, labId: number | undefined): Promise<Html> {
  const uploads = await em.find(WebUpload, inLabScope(labId), { orderBy: { uploadedAt: 'desc', id: 'desc' }, limit: 20 });
  // The live part of the page (src/web/live.ts): each file's state as the pipeline moves it on.
  if (!uploads.length) return html`<section id="recent-uploads" data-live></section>`;
  const files = await em.find(ResultFile, { sha256: { $in: uploads.map((u) => u.sha256) }, ...inLabScope(labId) }, { orderBy: { id: 'desc' } });
  const newest = new Map<string, (typeof files)[number]>();
  for (const f of files) if (!newest.has(f.sha256)) newest.set(f.sha256, f);
  return html`<section id="recent-uploads" data-live><h2>Recent uploads through this page</h2><table><thead><tr><th>When</th><th>File</th><th>By</th><th>Size</th><th>Now</th></tr></thead><tbody>
${uploads.map((u) => {
  const f = newest.get(u.sha256);
  return html`<tr><td class="small">${when(u.uploadedAt)}</td><td>${f ? html`<a href="/files/${f.id}">${u.fileName}</a>` : u.fileName}</td>
<td>${u.username}</td><td>${bytes(u.sizeBytes)}</td><td>${f ? stateBadge(f.state) : html`<span class="muted">not yet taken from the upload folder</span>`}</td></tr>`;
})}</tbody></table></section>`;
}

/** How long an upload waits for the earlier version's withdrawal before it says "in a minute" instead. */
const REPLACE_WAIT_MS = 30_000;
export const REPLACES_FIELD = 'replaces';

/** The version of this identifier that is at a clinic now, if any (another content than this upload's). */
async function sentVersionOf(em: EntityManager, labId: number, identifier: string, sha256: string) {
  const [earlier] = await em.find(ResultFile, { labId, identifier, sha256: { $ne: sha256 }, state: { $in: [...AUDITABLE_STATES] }, remotePath: { $ne: null } }, { orderBy: { id: 'desc' }, limit: 1 });
  return earlier;
}

/**
 * "These are corrected results" (issue 12): the version sent before is withdrawn from its clinic folder first, so that
 * this one takes the plain name there and the clinic sees only the current version. Waits for the withdrawal
 * (bounded); an answer other than done leaves this upload unsaved, with what to do.
 */
async function withdrawEarlierVersion(
  deps: UploadRouteDeps & { em: EntityManager; actor: string },
  earlier: { id: number },
  name: string,
): Promise<{ ok: true } | { ok: false; problem: string }> {
  if (!deps.workflows) return { ok: false, problem: 'Replacing needs this web page connected to Temporal (TEMPORAL_ADDRESS); nothing was saved.' };
  const seq = await deps.em.count(FileEvent, { resultFileId: earlier.id });
  let workflowId: string;
  try {
    ({ workflowId } = await requestWithdraw({ em: deps.em, actor: deps.actor, workflows: deps.workflows, fileTaskQueue: deps.fileTaskQueue }, earlier.id, seq, `replaced by a corrected upload, ${name}`));
  } catch (err) {
    if (err instanceof ActionRefused) return { ok: false, problem: `File #${earlier.id} could not be withdrawn: ${err.message} Nothing was saved.` };
    throw err;
  }
  const ended = await deps.workflows.awaitWithdraw(workflowId, REPLACE_WAIT_MS);
  if (ended === 'withdrawn') return { ok: true };
  return {
    ok: false,
    problem:
      ended === 'pending'
        ? `File #${earlier.id} is being withdrawn from its clinic folder; nothing was saved yet. Upload this again in a minute.`
        : `File #${earlier.id} could not be withdrawn (its page says why), so this was not saved.`,
  };
}

export function createUploadRoutes(deps: UploadRouteDeps) {
  const app = new Hono<BaseEnv>();
  const maxUploadBytes = deps.maxUploadBytes ?? deps.maxFileBytes * 5;
  const placement = deps.uploadPlacement ?? placeInOwnFolder(deps.uploadDir, deps.uploadHost);

  app.get('/', async (c) =>
    deps.renderPage(c, {
      title: 'Upload',
      nav: 'upload',
      live: true,
      body: html`<h1>Upload results</h1>${uploadForm(c, deps.maxFileBytes, maxUploadBytes)}${await recentUploads(c.get('em'), labScopeOf(c))}`,
    }),
  );

  app.post('/', async (c) => {
    const em = c.get('em');
    const username = signedIn(c).user.username;
    const expected = c.get('csrfToken');
    // Uploads land on this page's upload host and become its lab's files: another lab's user is turned away before
    // anything is read, so no file of theirs ends up in the wrong lab.
    const labId = placement.host?.labId ?? (await labIdByName(em, DEFAULT_LAB));
    if (labId === undefined) throw new Error('The lab "default" is missing: run getresults migrate.');
    const userLab = labScopeOf(c);
    if (userLab !== undefined && userLab !== labId) {
      return deps.renderPage(c, {
        title: 'Upload elsewhere',
        nav: 'upload',
        status: 403,
        body: html`<h1>Upload at your lab's own page</h1><p>Uploads on this page go to the upload host ${placement.host?.name ?? 'of another lab'}, which belongs to another lab; nothing was saved. Your lab's files can be uploaded on the page that runs beside your lab's upload host, or dropped in its upload folder.</p>`,
      });
    }
    const unavailable = await placement.unavailable();
    if (unavailable) {
      return deps.renderPage(c, { title: 'Upload', nav: 'upload', status: 503, body: html`<h1>Upload results</h1>${flash('bad', unavailable)}<p><a href="/upload">Back to Upload</a></p>` });
    }
    const form = await receiveUploadForm(
      c.req.raw,
      placement.stagingDir,
      { maxFileBytes: deps.maxFileBytes, maxUploadBytes },
      { field: CSRF_FIELD, accepts: (token) => sameToken(token, expected) },
      [REPLACES_FIELD],
    );
    if (!form.ok) {
      if (form.status === 403) return c.text(form.problem, 403);
      const title = form.status === 413 ? 'Upload too large' : 'Upload not received';
      return deps.renderPage(c, { title, nav: 'upload', status: form.status, body: html`<h1>${title}</h1><p>${form.problem}</p><p><a href="/upload">Back to Upload</a></p>` });
    }
    const files = form.files;
    const replacing = form.fields[REPLACES_FIELD] === '1';
    const outcomes: Outcome[] = [];
    const namesThisTime = new Set<string>();
    try {
      for (const [index, file] of files.entries()) {
        if (!file.staged) {
          outcomes.push({ name: file.name, saved: false, problem: file.problem, warnings: [] });
          continue;
        }
        if (namesThisTime.has(file.name)) {
          await discardStaged([file]);
          outcomes.push({ name: file.name, saved: false, problem: 'Another file of this upload has the same name.', warnings: [] });
          continue;
        }
        namesThisTime.add(file.name);
        const warnings = await earlierSightings(em, labId, file.name, file.sha256);
        const next = deps.patterns ? await forecast(em, labId, file.tempPath, file.name, deps.patterns, deps.maxFileBytes) : undefined;
        const earlier = next?.identifier ? await sentVersionOf(em, labId, next.identifier, file.sha256) : undefined;
        if (earlier && replacing) {
          const withdrawn = await withdrawEarlierVersion({ ...deps, em, actor: username }, earlier, file.name);
          if (!withdrawn.ok) {
            await discardStaged([file]);
            files[index] = { name: file.name, staged: false, problem: withdrawn.problem };
            outcomes.push({ name: file.name, saved: false, problem: withdrawn.problem, warnings });
            continue;
          }
          warnings.unshift(html`It replaces <a href="/files/${earlier.id}">file #${earlier.id}</a>, now withdrawn from ${earlier.clinicFolder ?? 'its clinic folder'}.`);
        } else if (earlier) {
          warnings.push(
            html`A result for ${next!.identifier} was already sent as <a href="/files/${earlier.id}">file #${earlier.id}</a> (${STATE_WORDS[earlier.state].label.toLowerCase()}). If this one corrects it, upload it again with “These are corrected results” ticked: the earlier one is then withdrawn first.`,
          );
        }
        // Recorded before the file is placed: the watcher may take it at once, and its workflow reads who uploaded
        // it from this row (FileLedger.register).
        const record = em.create(WebUpload, { labId, username, fileName: file.name, sha256: file.sha256, sizeBytes: file.sizeBytes, uploadedAt: new Date() });
        await em.flush();
        const result = await placement.place(em, { tempPath: file.tempPath, name: file.name, sha256: file.sha256 }).catch(async (err: unknown) => {
          await em.remove(record).flush();
          throw err;
        });
        files[index] = { name: file.name, staged: false, problem: 'committed' }; // no longer staged: nothing left to discard
        if (!result.stored) {
          await em.remove(record).flush();
          outcomes.push({ name: file.name, saved: false, problem: result.problem, warnings });
          continue;
        }
        if (result.warning) warnings.push(html`${result.warning}`);
        outcomes.push({ name: file.name, saved: true, next, warnings });
      }
    } finally {
      // A failure part-way (the database, say) leaves no staged file behind.
      await discardStaged(files);
    }
    const saved = outcomes.filter((o) => o.saved).length;
    const body = html`<h1>Upload results</h1>
${files.length === 0 ? flash('bad', 'No file was chosen.') : flash(saved === outcomes.length ? 'ok' : 'warn', `${saved} of ${outcomes.length} file(s) saved. Saved files are taken from the upload folder within seconds.`)}
${outcomes.length
  ? html`<table><thead><tr><th>File</th><th>Result</th></tr></thead><tbody>${outcomes.map(
      (o) => html`<tr><td>${o.name}</td><td>${o.saved ? html`<span class="tone-ok">Saved.</span>${o.next ? html` <span class="tone-${o.next.tone}">${o.next.text}</span>` : ''}` : html`<span class="tone-bad">Not saved:</span> ${o.problem}`}
${o.warnings.map((w) => html`<div class="tone-wait small">⚠ ${w}</div>`)}</td></tr>`,
    )}</tbody></table>`
  : ''}
<h2>Upload more</h2>${uploadForm(c, deps.maxFileBytes, maxUploadBytes)}${await recentUploads(em, labScopeOf(c))}`;
    return deps.renderPage(c, { title: 'Upload', nav: 'upload', body, status: files.length === 0 ? 400 : 200, live: { src: '/upload' } });
  });

  return app;
}
