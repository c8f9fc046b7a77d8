import type { EntityManager } from '@mikro-orm/postgresql';
import type { Client } from '@temporalio/client';
import { Hono, type Context } from 'hono';
import { RemoteFolder } from '../../db/entities';
import type { IRemoteFolder } from '../../db/entities/remote-folder';
import { loadRemoteFolders } from '../../folders/load-folders';
import { parseRemoteFolderCsv, type RemoteFolderRow } from '../../folders/remote-folder-csv';
import { retryWaitingFiles } from '../../folders/retry-waiting';
import type { BaseEnv } from '../context';
import { html, type Html } from '../views/html';
import { csrfField, flash, type RenderPage } from '../views/layout';

export interface FolderRouteDeps {
  renderPage: RenderPage;
  temporalClient?: Client;
}

const HEADER = 'base_path,folder,folder_tag,label';

function csvField(value: string): string {
  // Quote always; a leading = + - @ is prefixed so a spreadsheet opening the export does not run it as a formula.
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return `"${safe.replace(/"/g, '""')}"`;
}

export function toCsv(rows: readonly RemoteFolderRow[]): string {
  return `${HEADER}\n${rows.map((r) => [r.basePath, r.folder, r.folderTag, r.label].map(csvField).join(',')).join('\n')}\n`;
}

/** One row checked by the CSV importer's own rules, so the form and the import can never disagree. */
function checkRow(row: RemoteFolderRow): string[] {
  return parseRemoteFolderCsv(toCsv([row])).errors.map((e) => e.replace(/^Line \d+: /, ''));
}

interface Preview {
  added: RemoteFolderRow[];
  changed: Array<{ row: RemoteFolderRow; from: string }>;
  unchanged: number;
  notInCsv: IRemoteFolder[];
}

/** What loading `rows` would do, computed without writing (loadRemoteFolders does the writing on confirm). */
function preview(existing: IRemoteFolder[], rows: RemoteFolderRow[]): Preview {
  const byKey = new Map(existing.map((r) => [`${r.label}\u0000${r.folderTag}`, r]));
  const out: Preview = { added: [], changed: [], unchanged: 0, notInCsv: [] };
  const seen = new Set<string>();
  for (const row of rows) {
    const key = `${row.label}\u0000${row.folderTag}`;
    seen.add(key);
    const current = byKey.get(key);
    if (!current) out.added.push(row);
    else if (current.folder !== row.folder || current.basePath !== row.basePath) out.changed.push({ row, from: `${current.basePath}/${current.folder}` });
    else out.unchanged++;
  }
  out.notInCsv = existing.filter((r) => !seen.has(`${r.label}\u0000${r.folderTag}`));
  return out;
}

function rowFromForm(form: Record<string, unknown>): RemoteFolderRow {
  const s = (k: string) => (typeof form[k] === 'string' ? (form[k] as string).trim() : '');
  return { label: s('label'), folderTag: s('folderTag'), folder: s('folder'), basePath: s('basePath') };
}

function folderForm(c: Context<BaseEnv>, action: string, row: RemoteFolderRow, submit: string): Html {
  return html`<form method="post" action="${action}" class="filters">${csrfField(c)}
<label>Label<input type="text" name="label" value="${row.label}" required size="6"></label>
<label>Folder tag (hint)<input type="text" name="folderTag" value="${row.folderTag}" required size="8"></label>
<label>Folder<input type="text" name="folder" value="${row.folder}" required></label>
<label>Base path<input type="text" name="basePath" value="${row.basePath}" size="14"></label>
<button class="primary" type="submit">${submit}</button></form>`;
}

/** Admin-only (guarded where mounted): the remote-folder table, by hand or by CSV. */
export function createFolderRoutes(deps: FolderRouteDeps) {
  const app = new Hono<BaseEnv>();

  /** Files waiting for a folder may have one now: wake them, as `getresults folders load` does. */
  const wakeWaiting = async (em: EntityManager): Promise<string> => {
    if (!deps.temporalClient) return ' Files waiting for a folder were not woken (no Temporal connection); run "getresults retry".';
    const { signalled, failed } = await retryWaitingFiles(em, deps.temporalClient, ['NEEDS_FOLDER']);
    return signalled || failed ? ` Asked ${signalled} waiting file(s) to try again${failed ? ` (${failed} unreachable)` : ''}.` : '';
  };

  const listPage = async (c: Context<BaseEnv>, message?: Html, status?: 200 | 400 | 409) => {
    const rows = await c.get('em').find(RemoteFolder, {}, { orderBy: { label: 'asc', folderTag: 'asc' } });
    return deps.renderPage(c, {
      title: 'Remote folders',
      nav: 'folders',
      status,
      body: html`<h1>Remote folders</h1>${message ?? ''}
<p class="muted">Files of identifier style <em>label</em> whose hint is <em>folder tag</em> go to <em>base path/folder</em> on the clinic server.</p>
<div class="card"><h2>Add a folder</h2>${folderForm(c, '/folders', { label: '', folderTag: '', folder: '', basePath: '' }, 'Add')}</div>
<div class="card"><h2>Import a CSV</h2>
<form method="post" action="/folders/import" enctype="multipart/form-data" class="filters">${csrfField(c)}
<label>CSV file (${HEADER})<input type="file" name="csv" accept=".csv,text/csv" required></label><button class="secondary" type="submit">Preview</button></form>
<p><a href="/folders/export.csv">Export the table as CSV</a></p></div>
<table><thead><tr><th>Label</th><th>Folder tag</th><th>Folder</th><th>Base path</th><th>Changed</th><th></th></tr></thead><tbody>
${rows.map(
  (r) => html`<tr><td>${r.label}</td><td>${r.folderTag}</td><td>${r.folder}</td><td class="mono">${r.basePath}</td>
<td class="small">${r.updatedAt.toISOString().slice(0, 10)}</td><td><a href="/folders/${r.id}">Edit</a></td></tr>`,
)}</tbody></table>`,
    });
  };

  app.get('/', (c) => listPage(c));

  app.post('/', async (c) => {
    const em = c.get('em');
    const row = rowFromForm(await c.req.parseBody());
    const problems = checkRow(row);
    if (problems.length) return listPage(c, flash('bad', problems.join(' ')), 400);
    if (await em.count(RemoteFolder, { label: row.label, folderTag: row.folderTag })) {
      return listPage(c, flash('bad', `${row.label} ${row.folderTag} is already mapped; edit that row instead.`), 409);
    }
    em.create(RemoteFolder, { label: row.label, folderTag: row.folderTag, folder: row.folder, basePath: row.basePath } as never);
    await em.flush();
    return listPage(c, flash('ok', `Added ${row.label} ${row.folderTag} → ${row.basePath}/${row.folder}.${await wakeWaiting(em)}`));
  });

  app.get('/export.csv', async (c) => {
    const rows = await c.get('em').find(RemoteFolder, {}, { orderBy: { label: 'asc', folderTag: 'asc' } });
    return c.body(toCsv(rows), 200, {
      'Content-Type': 'text/csv; charset=utf-8',
      'Content-Disposition': 'attachment; filename="remote_folders.csv"',
      'Cache-Control': 'private, no-store',
    });
  });

  app.get('/:id{[0-9]+}', async (c) => {
    const row = await c.get('em').findOne(RemoteFolder, { id: Number(c.req.param('id')) });
    if (!row) return c.notFound();
    return deps.renderPage(c, {
      title: 'Edit remote folder',
      nav: 'folders',
      body: html`<p><a href="/folders">← Remote folders</a></p><h1>Edit ${row.label} ${row.folderTag}</h1>
${folderForm(c, `/folders/${row.id}`, row, 'Save')}`,
    });
  });

  app.post('/:id{[0-9]+}', async (c) => {
    const em = c.get('em');
    const row = await em.findOne(RemoteFolder, { id: Number(c.req.param('id')) });
    if (!row) return c.notFound();
    const next = rowFromForm(await c.req.parseBody());
    const problems = checkRow(next);
    const clash = await em.findOne(RemoteFolder, { label: next.label, folderTag: next.folderTag, id: { $ne: row.id } });
    if (problems.length || clash) {
      return deps.renderPage(c, {
        title: 'Edit remote folder',
        nav: 'folders',
        status: 400,
        body: html`<p><a href="/folders">← Remote folders</a></p><h1>Edit ${row.label} ${row.folderTag}</h1>
${flash('bad', clash ? `${next.label} ${next.folderTag} is already mapped by another row.` : problems.join(' '))}${folderForm(c, `/folders/${row.id}`, next, 'Save')}`,
      });
    }
    em.assign(row, next);
    await em.flush();
    return listPage(c, flash('ok', `Saved ${row.label} ${row.folderTag} → ${row.basePath}/${row.folder}.${await wakeWaiting(em)}`));
  });

  /** Step one of an import: parse and show what would change. Nothing is written. */
  app.post('/import', async (c) => {
    const form = await c.req.parseBody();
    const file = form.csv;
    const text = file instanceof File ? await file.text() : typeof form.text === 'string' ? form.text : '';
    const report = parseRemoteFolderCsv(text);
    const existing = await c.get('em').find(RemoteFolder, {});
    const p = preview(existing, report.rows);
    const blocked = report.errors.length > 0 || report.rows.length === 0;
    return deps.renderPage(c, {
      title: 'Import preview',
      nav: 'folders',
      status: blocked ? 400 : 200,
      body: html`<p><a href="/folders">← Remote folders</a></p><h1>Import preview</h1>
${report.errors.length ? flash('bad', html`<strong>Not importable:</strong><ul>${report.errors.map((e) => html`<li>${e}</li>`)}</ul>`) : ''}
${report.warnings.length ? flash('warn', html`<strong>Look at these first</strong> (nothing is corrected for you):<ul>${report.warnings.map((w) => html`<li>${w}</li>`)}</ul>`) : ''}
<p>${p.added.length} to add, ${p.changed.length} to change, ${p.unchanged} unchanged; ${p.notInCsv.length} row(s) in the table that the CSV does not list are kept.</p>
${p.added.length ? html`<h2>To add</h2><table><tbody>${p.added.map((r) => html`<tr><td>${r.label}</td><td>${r.folderTag}</td><td>${r.basePath}/${r.folder}</td></tr>`)}</tbody></table>` : ''}
${p.changed.length ? html`<h2>To change</h2><table><tbody>${p.changed.map((x) => html`<tr><td>${x.row.label}</td><td>${x.row.folderTag}</td><td>${x.from} → ${x.row.basePath}/${x.row.folder}</td></tr>`)}</tbody></table>` : ''}
${blocked
  ? ''
  : html`<form method="post" action="/folders/import/apply">${csrfField(c)}<textarea name="text" hidden>${text}</textarea>
<p><button class="primary" type="submit">Import these ${report.rows.length} rows</button> <a href="/folders">Cancel</a></p></form>`}`,
    });
  });

  /** Step two: the same CSV text, parsed again (never trusted from the preview), then loaded. */
  app.post('/import/apply', async (c) => {
    const em = c.get('em');
    const form = await c.req.parseBody();
    const report = parseRemoteFolderCsv(typeof form.text === 'string' ? form.text : '');
    if (report.errors.length || !report.rows.length) return listPage(c, flash('bad', 'The CSV was not imported: it has errors. Preview it again.'), 400);
    const s = await loadRemoteFolders(em, report.rows);
    return listPage(
      c,
      flash('ok', `Imported: ${s.added} added, ${s.changed.length} changed, ${s.unchanged} unchanged, ${s.notInCsv} kept that the CSV does not list.${await wakeWaiting(em)}`),
    );
  });

  return app;
}
