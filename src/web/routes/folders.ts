/**
 * The remote-folder pages (admin-only): the lab's table by hand or by CSV. What a change does is the remote-folder
 * feature's (src/remote-folders: RemoteFolderTable, the CSV, the receipt rules); these routes read forms and render.
 */
import { Hono, type Context } from 'hono';
import { clinicFolderOf, describeRule, NO_RULE, parseAllowedClients, parseAllowedUsers, type ReceiptRuleLists } from '../../remote-folders/clinic-rule';
import { receiptRulesByFolder } from '../../remote-folders/receipt-rules';
import { checkFolderRow, parseRemoteFolderCsv, REMOTE_FOLDER_CSV_HEADER, remoteFolderCsv, type RemoteFolderRow } from '../../remote-folders/remote-folder-csv';
import { describeFolderRow, RemoteFolderTable } from '../../remote-folders/remote-folder-table';
import type { ResultWorkflows } from '../../temporal/result-workflows';
import { retryWaitingFiles } from '../../temporal/retry-waiting';
import { signedIn, type BaseEnv } from '../context';
import { folderTableOf } from '../auth/lab-scope';
import { html, query, when, type Html } from '../views/html';
import { csrfField, flash, type RenderPage } from '../views/layout';

export interface FolderRouteDeps {
  renderPage: RenderPage;
  workflows?: ResultWorkflows;
}

/** The rule fields as typed (shown again on an error) or as stored (entries joined by spaces). */
interface RuleText {
  clients: string;
  users: string;
}

function ruleText(rule: ReceiptRuleLists): RuleText {
  return { clients: rule.allowedClients.join(' '), users: rule.allowedUsers.join(' ') };
}

function ruleFromForm(form: Record<string, unknown>): { lists: ReceiptRuleLists; typed: RuleText; problems: string[] } {
  const text = (k: string) => (typeof form[k] === 'string' ? (form[k] as string).trim() : '');
  const typed = { clients: text('allowedClients'), users: text('allowedUsers') };
  const clients = parseAllowedClients(typed.clients);
  const users = parseAllowedUsers(typed.users);
  return {
    lists: { allowedClients: clients.values, allowedUsers: users.values },
    typed,
    problems: [...clients.errors.map((e) => `Allowed clients: ${e}`), ...users.errors.map((e) => `Allowed users: ${e}`)],
  };
}

function ruleCell(rule: ReceiptRuleLists | undefined): Html {
  if (!rule) return html`<span class="muted">any fetch</span>`;
  return html`${rule.allowedClients.length ? html`<div class="mono">${rule.allowedClients.join(' ')}</div>` : ''}${
    rule.allowedUsers.length ? html`<div class="small">users: ${rule.allowedUsers.join(', ')}</div>` : ''
  }`;
}

function rowFromForm(form: Record<string, unknown>): RemoteFolderRow {
  const s = (k: string) => (typeof form[k] === 'string' ? (form[k] as string).trim() : '');
  return { label: s('label'), folderTag: s('folderTag'), folder: s('folder'), basePath: s('basePath') };
}

/**
 * `rule` is what the receipt rule fields hold. On the edit page, `stored` is the rule of the clinic folder `ruleOf`
 * as it was shown: if the folder is changed and the rule fields are not, the other folder's own rule is kept.
 */
function folderForm(
  c: Context<BaseEnv>,
  action: string,
  row: RemoteFolderRow,
  submit: string,
  rule: RuleText,
  stored?: { ruleOf: string; shown: RuleText },
): Html {
  return html`<form method="post" action="${action}" class="filters">${csrfField(c)}
<label>Label<input type="text" name="label" value="${row.label}" required size="6"></label>
<label>Folder tag (hint)<input type="text" name="folderTag" value="${row.folderTag}" required size="8"></label>
<label>Folder<input type="text" name="folder" value="${row.folder}" required></label>
<label>Base path<input type="text" name="basePath" value="${row.basePath}" size="14"></label>
<label>Allowed clients (optional: addresses or ranges)<input type="text" name="allowedClients" value="${rule.clients}" size="30" placeholder="e.g. 10.20.0.0/16 2001:db8:5::/48"></label>
<label>Allowed users (optional: web server logins)<input type="text" name="allowedUsers" value="${rule.users}" size="20" placeholder="e.g. digawana"></label>
${stored === undefined
  ? ''
  : html`<input type="hidden" name="ruleOf" value="${stored.ruleOf}"><input type="hidden" name="shownClients" value="${stored.shown.clients}"><input type="hidden" name="shownUsers" value="${stored.shown.users}">`}
<button class="primary" type="submit">${submit}</button></form>
<p class="muted small">Receipt rule: when a clinic folder lists allowed clients or users, a download of its files counts as receipt only
from one of those addresses <em>or</em> by one of those users; other downloads are kept as evidence but do not count.
Leave both empty to count any download. The rule belongs to the folder: every row naming the same folder shares it.</p>`;
}

async function ruleMessage(table: RemoteFolderTable, clinicFolder: string, rule: ReceiptRuleLists): Promise<string> {
  return ` Receipt rule of ${clinicFolder} (shared by ${(await table.rowsOfFolder(clinicFolder)).join(', ')}): ${describeRule(rule)}.`;
}

/** A search over every column (the table holds a lab's clinics: tens to a few hundred rows). */
function matches(row: RemoteFolderRow, q: string): boolean {
  const needle = q.toLowerCase();
  return [row.label, row.folderTag, row.folder, row.basePath, clinicFolderOf(row)].some((v) => v.toLowerCase().includes(needle));
}

/** Admin-only (guarded where mounted). */
export function createFolderRoutes(deps: FolderRouteDeps) {
  const app = new Hono<BaseEnv>();

  /** The table of the signed-in person's lab. */
  const tableOf = async (c: Context<BaseEnv>) => new RemoteFolderTable(c.get('em'), await folderTableOf(c));

  /** Files waiting for a folder may have one now: wake them, as `getresults folders load` does. */
  const wakeWaiting = async (c: Context<BaseEnv>): Promise<string> => {
    if (!deps.workflows) return ' Files waiting for a folder were not woken (no Temporal connection); run "getresults retry".';
    const { signalled, failed } = await retryWaitingFiles(c.get('em'), deps.workflows, ['NEEDS_FOLDER']);
    return signalled || failed ? ` Asked ${signalled} waiting file(s) to try again${failed ? ` (${failed} unreachable)` : ''}.` : '';
  };

  const listPage = async (c: Context<BaseEnv>, message?: Html, status?: 200 | 400 | 409, addForm?: { row: RemoteFolderRow; rule: RuleText }) => {
    const table = await tableOf(c);
    const all = await table.rows();
    const q = (c.req.query('q') ?? '').trim().slice(0, 100);
    const rows = q ? all.filter((r) => matches(r, q)) : all;
    const rules = await receiptRulesByFolder(c.get('em'));
    const changes = await table.recentChanges(20);
    return deps.renderPage(c, {
      title: 'Remote folders',
      nav: 'folders',
      status,
      body: html`<h1>Remote folders</h1>${message ?? ''}
<p class="muted">Files of identifier style <em>label</em> whose hint is <em>folder tag</em> go to <em>base path/folder</em> on the clinic server.</p>
<div class="card"><h2>Add a folder</h2>${folderForm(c, '/folders', addForm?.row ?? { label: '', folderTag: '', folder: '', basePath: '' }, 'Add', addForm?.rule ?? ruleText(NO_RULE))}</div>
<div class="card"><h2>Import a CSV</h2>
<form method="post" action="/folders/import" enctype="multipart/form-data" class="filters">${csrfField(c)}
<label>CSV file (${REMOTE_FOLDER_CSV_HEADER}; optional allowed_clients,allowed_users)<input type="file" name="csv" accept=".csv,text/csv" required></label><button class="secondary" type="submit">Preview</button></form>
<p><a href="/folders/export.csv">Export the table as CSV</a></p></div>
<form class="filters" method="get" action="/folders"><label>Search label, hint or folder<input type="search" name="q" value="${q}" placeholder="e.g. digawana or 12"></label>
<button class="primary" type="submit">Search</button>${q ? html` <a href="/folders">Clear</a>` : ''}</form>
<p class="muted small">${q ? html`${rows.length} of ${all.length} rows match “${q}”.` : html`${all.length} rows.`}</p>
<table><thead><tr><th>Label</th><th>Folder tag</th><th>Folder</th><th>Base path</th><th>Receipt counts from</th><th>Changed</th><th></th></tr></thead><tbody>
${rows.length
  ? rows.map(
      (r) => html`<tr><td>${r.label}</td><td>${r.folderTag}</td><td>${r.folder}</td><td class="mono">${r.basePath}</td><td>${ruleCell(rules.get(clinicFolderOf(r)))}</td>
<td class="small">${r.updatedAt.toISOString().slice(0, 10)}</td><td><a href="/folders/${r.id}">Edit</a> · <a href="/folders/${r.id}/delete">Delete</a></td></tr>`,
    )
  : html`<tr><td colspan="7" class="muted">No row matches.</td></tr>`}</tbody></table>
${changes.length
  ? html`<h2>Recent changes on this page</h2><table><thead><tr><th>When</th><th>Who</th><th>What</th><th>Before</th><th>After</th></tr></thead><tbody>
${changes.map((ch) => html`<tr><td class="small">${when(ch.at)}</td><td>${ch.actor}</td><td>${ch.action} ${ch.label} ${ch.folderTag}</td><td class="small">${ch.before ?? ''}</td><td class="small">${ch.after ?? ''}</td></tr>`)}</tbody></table>`
  : ''}`,
    });
  };

  app.get('/', (c) => listPage(c));

  app.post('/', async (c) => {
    const em = c.get('em');
    const form = await c.req.parseBody();
    const row = rowFromForm(form);
    const rule = ruleFromForm(form);
    const problems = [...checkFolderRow(row), ...rule.problems];
    if (problems.length) return listPage(c, flash('bad', problems.join(' ')), 400, { row, rule: rule.typed });
    const table = await tableOf(c);
    if (await table.isMapped(row.label, row.folderTag)) {
      return listPage(c, flash('bad', `${row.label} ${row.folderTag} is already mapped; edit that row instead.`), 409, { row, rule: rule.typed });
    }
    const clinicFolder = clinicFolderOf(row);
    await table.add(row, rule.lists, signedIn(c).user.username);
    const stored = (await receiptRulesByFolder(em, [clinicFolder])).get(clinicFolder);
    const ruleNote = stored ? await ruleMessage(table, clinicFolder, stored) : '';
    return listPage(c, flash('ok', `Added ${row.label} ${row.folderTag} → ${clinicFolderOf(row)}.${ruleNote}${await wakeWaiting(c)}`));
  });

  app.get('/export.csv', async (c) => {
    const rows = await (await tableOf(c)).rows();
    return c.body(remoteFolderCsv(rows, await receiptRulesByFolder(c.get('em'))), 200, {
      'Content-Type': 'text/csv; charset=utf-8',
      'Content-Disposition': 'attachment; filename="remote_folders.csv"',
      'Cache-Control': 'private, no-store',
    });
  });

  app.get('/:id{[0-9]+}', async (c) => {
    const table = await tableOf(c);
    const row = await table.row(Number(c.req.param('id')));
    if (!row) return c.notFound();
    const clinicFolder = clinicFolderOf(row);
    const rule = (await receiptRulesByFolder(c.get('em'), [clinicFolder])).get(clinicFolder) ?? NO_RULE;
    const sharing = (await table.rowsOfFolder(clinicFolder)).filter((r) => r !== `${row.label} ${row.folderTag}`);
    return deps.renderPage(c, {
      title: 'Edit remote folder',
      nav: 'folders',
      body: html`<p><a href="/folders">← Remote folders</a></p><h1>Edit ${row.label} ${row.folderTag}</h1>
${sharing.length ? html`<p class="muted">The receipt rule below belongs to ${clinicFolder}, and is shared with ${sharing.join(', ')}.</p>` : ''}
${folderForm(c, `/folders/${row.id}`, row, 'Save', ruleText(rule), { ruleOf: clinicFolder, shown: ruleText(rule) })}`,
    });
  });

  app.post('/:id{[0-9]+}', async (c) => {
    const em = c.get('em');
    const table = await tableOf(c);
    const row = await table.row(Number(c.req.param('id')));
    if (!row) return c.notFound();
    const form = await c.req.parseBody();
    const next = rowFromForm(form);
    const rule = ruleFromForm(form);
    const problems = [...checkFolderRow(next), ...rule.problems];
    const clash = await table.isMapped(next.label, next.folderTag, row.id);
    const ruleOf = typeof form.ruleOf === 'string' ? form.ruleOf : clinicFolderOf(row);
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- hidden text fields of our own form, never files
    const shownText = { clients: String(form.shownClients ?? ''), users: String(form.shownUsers ?? '') };
    if (problems.length || clash) {
      return deps.renderPage(c, {
        title: 'Edit remote folder',
        nav: 'folders',
        status: 400,
        body: html`<p><a href="/folders">← Remote folders</a></p><h1>Edit ${row.label} ${row.folderTag}</h1>
${flash('bad', clash ? `${next.label} ${next.folderTag} is already mapped by another row.` : problems.join(' '))}${folderForm(c, `/folders/${row.id}`, next, 'Save', rule.typed, { ruleOf, shown: shownText })}`,
      });
    }
    const clinicFolder = clinicFolderOf(next);
    const shown = { allowedClients: parseAllowedClients(shownText.clients).values, allowedUsers: parseAllowedUsers(shownText.users).values };
    // Moved to another folder with the rule fields untouched: that folder keeps its own rule.
    const applyRule = clinicFolder === ruleOf || describeRule(shown) !== describeRule(rule.lists);
    await table.update(row.id, next, applyRule ? rule.lists : undefined, signedIn(c).user.username);
    const stored = (await receiptRulesByFolder(em, [clinicFolder])).get(clinicFolder) ?? NO_RULE;
    return listPage(c, flash('ok', `Saved ${next.label} ${next.folderTag} → ${clinicFolderOf(next)}.${await ruleMessage(table, clinicFolder, stored)}${await wakeWaiting(c)}`));
  });

  /** Delete, step one: what would go, or why it cannot while files use the row. Nothing is written. */
  app.get('/:id{[0-9]+}/delete', async (c) => {
    const table = await tableOf(c);
    const row = await table.row(Number(c.req.param('id')));
    if (!row) return c.notFound();
    const using = await table.filesInFlight(row);
    const files = `/files${query({ clinic: clinicFolderOf(row) })}`;
    return deps.renderPage(c, {
      title: 'Delete remote folder',
      nav: 'folders',
      status: using ? 409 : 200,
      body: html`<p><a href="/folders">← Remote folders</a></p><h1>Delete ${describeFolderRow(row)}?</h1>
${using
  ? flash('bad', html`It cannot be deleted now: <a href="${files}">${using} file(s)</a> sent through it are still on their way or waiting for the clinic's fetch. Delete it once they are done.`)
  : html`<p>New files of style ${row.label} with hint ${row.folderTag} will then wait for a folder (“Needs a clinic folder”) until one is added. Files already sent stay where they are, and the clinic folder's receipt rule is kept. The deletion is recorded with your name.</p>
<form method="post" action="/folders/${row.id}/delete">${csrfField(c)}<button class="danger primary" type="submit">Delete ${row.label} ${row.folderTag}</button> <a href="/folders">Cancel</a></form>`}`,
    });
  });

  /** Delete, step two: checked again (a file may have been routed since the question), then deleted and recorded. */
  app.post('/:id{[0-9]+}/delete', async (c) => {
    const table = await tableOf(c);
    const id = Number(c.req.param('id'));
    const row = await table.row(id);
    if (!row) return listPage(c, flash('warn', 'That row was already deleted.'), 409);
    const gone = { label: row.label, folderTag: row.folderTag, folder: row.folder, basePath: row.basePath };
    if (await table.filesInFlight(row)) return listPage(c, flash('bad', `${describeFolderRow(gone)} was not deleted: files sent through it are still on their way.`), 409);
    await table.remove(id, gone, signedIn(c).user.username);
    return listPage(c, flash('ok', `Deleted ${describeFolderRow(gone)}.`));
  });

  /** Step one of an import: parse and show what would change. Nothing is written. */
  app.post('/import', async (c) => {
    const form = await c.req.parseBody();
    const file = form.csv;
    const text = file instanceof File ? await file.text() : typeof form.text === 'string' ? form.text : '';
    const report = parseRemoteFolderCsv(text);
    const p = await (await tableOf(c)).planImport(report.rows, report.rules);
    const blocked = report.errors.length > 0 || report.rows.length === 0;
    return deps.renderPage(c, {
      title: 'Import preview',
      nav: 'folders',
      status: blocked ? 400 : 200,
      body: html`<p><a href="/folders">← Remote folders</a></p><h1>Import preview</h1>
${report.errors.length ? flash('bad', html`<strong>Not importable:</strong><ul>${report.errors.map((e) => html`<li>${e}</li>`)}</ul>`) : ''}
${report.warnings.length ? flash('warn', html`<strong>Look at these first</strong> (nothing is corrected for you):<ul>${report.warnings.map((w) => html`<li>${w}</li>`)}</ul>`) : ''}
<p>${p.added.length} to add, ${p.changed.length} to change, ${p.unchanged} unchanged; ${p.notInCsv.length} row(s) in the table that the CSV does not list are kept.</p>
${p.added.length ? html`<h2>To add</h2><table><tbody>${p.added.map((r) => html`<tr><td>${r.label}</td><td>${r.folderTag}</td><td>${clinicFolderOf(r)}</td></tr>`)}</tbody></table>` : ''}
${p.changed.length ? html`<h2>To change</h2><table><tbody>${p.changed.map((x) => html`<tr><td>${x.row.label}</td><td>${x.row.folderTag}</td><td>${x.from} → ${clinicFolderOf(x.row)}</td></tr>`)}</tbody></table>` : ''}
${report.rules
  ? p.rules.length
    ? html`<h2>Receipt rules to change</h2><table><tbody>${p.rules.map((r) => html`<tr><td>${r.clinicFolder}</td><td>${r.from} → ${r.to}</td></tr>`)}</tbody></table>`
    : html`<p>No receipt rule changes.</p>`
  : html`<p class="muted">The CSV has no allowed_clients / allowed_users columns: every clinic folder keeps its receipt rule.</p>`}
${blocked
  ? ''
  : html`<form method="post" action="/folders/import/apply">${csrfField(c)}<textarea name="text" hidden>${text}</textarea>
<p><button class="primary" type="submit">Import these ${report.rows.length} rows</button> <a href="/folders">Cancel</a></p></form>`}`,
    });
  });

  /** Step two: the same CSV text, parsed again (never trusted from the preview), then loaded. */
  app.post('/import/apply', async (c) => {
    const form = await c.req.parseBody();
    const report = parseRemoteFolderCsv(typeof form.text === 'string' ? form.text : '');
    if (report.errors.length || !report.rows.length) return listPage(c, flash('bad', 'The CSV was not imported: it has errors. Preview it again.'), 400);
    const s = await (await tableOf(c)).applyImport(report.rows, report.rules, signedIn(c).user.username);
    const rules = report.rules ? ` ${s.rulesChanged.length} receipt rule(s) changed.` : '';
    return listPage(
      c,
      flash('ok', `Imported: ${s.added} added, ${s.changed.length} changed, ${s.unchanged} unchanged, ${s.notInCsv} kept that the CSV does not list.${rules}${await wakeWaiting(c)}`),
    );
  });

  return app;
}
