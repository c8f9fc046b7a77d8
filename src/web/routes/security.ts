import { Hono } from 'hono';
import type { BaseEnv } from '../context';
import { labScopeOf } from '../auth/lab-scope';
import { html, when } from '../views/html';
import type { RenderPage } from '../views/layout';

/** Event types that record a message somebody forged or sent where it does not belong (issue 11). */
export const SECURITY_EVENT_TYPES = ['RECEIPT_REFUSED', 'REFUSED_PATH', 'REFUSED_MESSAGE'] as const;
const LIMIT = 200;

/**
 * `/security` (admins): messages to the workflows that did not check out: receipt signals no log scan recorded,
 * copies announced outside the upload folder, files whose given path was outside it, and inputs or signals sent
 * without our payload encryption or without their shape. Each is also on its file's timeline, or, when it belongs to
 * no file (a forged start), in security_event; this is the one place to see them all, newest first.
 */
export function createSecurityRoutes(deps: { renderPage: RenderPage }) {
  const app = new Hono<BaseEnv>();
  app.get('/', async (c) => {
    // A lab's admin sees the events of the lab's files; messages that belong to no file, an admin of every lab.
    const labId = labScopeOf(c);
    const rows = await c.get('em').execute<
      Array<{ at: Date; result_file_id: number | null; file_name: string | null; workflow_id: string | null; type: string; message: string }>
    >(
      `(select e.at, e.result_file_id, f.file_name, null as workflow_id, e.type, e.message
          from file_event e join result_file f on f.id = e.result_file_id
         where (e.type in (${SECURITY_EVENT_TYPES.map(() => '?').join(', ')})
            or (e.type = 'REJECTED' and f.rejection_code = 'OUTSIDE_UPLOAD_FOLDER'))${labId === undefined ? '' : ' and f.lab_id = ?'}
         order by e.seq desc limit ${LIMIT})
       union all
       (select s.at, null, null, s.workflow_id, s.type, s.message from security_event s${labId === undefined ? '' : ' where false'} order by s.at desc limit ${LIMIT})
       order by at desc limit ${LIMIT}`,
      [...SECURITY_EVENT_TYPES, ...(labId === undefined ? [] : [labId])],
    );
    const body = html`<h1>Security events</h1>
<p class="muted">Messages to the workflows that did not check out and changed nothing: a receipt that no log scan recorded, a
copy announced outside the upload folder, a file given by a path outside it, a start or signal sent without our payload
encryption (the <code>temporal</code> CLI, the Temporal UI's forms) or without its shape. Someone who can reach Temporal sent them;
see docs/patient-data.md for who should be able to. Newest first, at most ${LIMIT}.</p>
${
  rows.length
    ? html`<table><thead><tr><th>When</th><th>File</th><th>What</th><th>Detail</th></tr></thead><tbody>
${rows.map(
  (r) => html`<tr><td>${when(r.at)}</td><td>${r.result_file_id === null ? html`workflow <code>${r.workflow_id}</code>` : html`<a href="/files/${r.result_file_id}">${r.file_name}</a>`}</td><td>${r.type}</td><td>${r.message}</td></tr>`,
)}</tbody></table>`
    : html`<p>None so far.</p>`
}`;
    return deps.renderPage(c, { title: 'Security events', nav: 'security', body });
  });
  return app;
}
