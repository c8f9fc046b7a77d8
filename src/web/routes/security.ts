import { Hono } from 'hono';
import type { BaseEnv } from '../context';
import { html, when } from '../views/html';
import type { RenderPage } from '../views/layout';

/** Event types that record a message somebody forged or sent where it does not belong (issue 11). */
export const SECURITY_EVENT_TYPES = ['RECEIPT_REFUSED', 'REFUSED_PATH'] as const;
const LIMIT = 200;

/**
 * `/security` (admins): messages to the workflows that did not check out: receipt signals no log scan recorded,
 * copies announced outside the upload folder, and files whose given path was outside it. Each is also on its file's
 * timeline; this is the one place to see them all, newest first.
 */
export function createSecurityRoutes(deps: { renderPage: RenderPage }) {
  const app = new Hono<BaseEnv>();
  app.get('/', async (c) => {
    const rows = await c.get('em').execute<Array<{ at: Date; result_file_id: number; file_name: string; type: string; message: string }>>(
      `select e.at, e.result_file_id, f.file_name, e.type, e.message
         from file_event e join result_file f on f.id = e.result_file_id
        where e.type in (${SECURITY_EVENT_TYPES.map(() => '?').join(', ')})
           or (e.type = 'REJECTED' and f.rejection_code = 'OUTSIDE_UPLOAD_FOLDER')
        order by e.seq desc limit ${LIMIT}`,
      [...SECURITY_EVENT_TYPES],
    );
    const body = html`<h1>Security events</h1>
<p class="muted">Messages to the workflows that did not check out and changed nothing: a receipt that no log scan recorded, a
copy announced outside the upload folder, a file given by a path outside it. Someone who can reach Temporal sent them;
see docs/patient-data.md for who should be able to. Newest first, at most ${LIMIT}.</p>
${
  rows.length
    ? html`<table><thead><tr><th>When</th><th>File</th><th>What</th><th>Detail</th></tr></thead><tbody>
${rows.map(
  (r) => html`<tr><td>${when(r.at)}</td><td><a href="/files/${r.result_file_id}">${r.file_name}</a></td><td>${r.type}</td><td>${r.message}</td></tr>`,
)}</tbody></table>`
    : html`<p>None so far.</p>`
}`;
    return deps.renderPage(c, { title: 'Security events', nav: 'security', body });
  });
  return app;
}
