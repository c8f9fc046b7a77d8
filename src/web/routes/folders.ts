import type { EntityManager } from '@mikro-orm/postgresql';
import { Hono, type Context } from 'hono';
import { clinicFolderOf, describeRule, parseAllowedClients, parseAllowedUsers, type ReceiptRuleLists } from '../../folders/clinic-rule';
import { FolderChange, RemoteFolder, ResultFile } from '../../db/entities';
import type { IRemoteFolder } from '../../db/entities/remote-folder';
import { describeFolderRow, loadRemoteFolders } from '../../folders/load-folders';
import { NO_RULE, receiptRulesByFolder, setReceiptRule } from '../../folders/receipt-rules';
import { parseRemoteFolderCsv, type RemoteFolderRow } from '../../folders/remote-folder-csv';
import { retryWaitingFiles } from '../../folders/retry-waiting';
import type { ResultWorkflows } from '../../temporal/result-workflows';
import { signedIn, type BaseEnv } from '../context';
import { folderTableOf } from '../auth/lab-scope';
import { csvField } from '../views/csv';
import { html, query, when, type Html } from '../views/html';
import { csrfField, flash, type RenderPage } from '../views/layout';

export interface FolderRouteDeps {
  renderPage: RenderPage;
  workflows?: ResultWorkflows;
}

const HEADER = 'base_path,folder,folder_tag,label';
/** The export always has the receipt rule columns; an import without them keeps the stored rules. */
const EXPORT_HEADER = `${HEADER},allowed_clients,allowed_users`;

/** The table as CSV, each row with its clinic folder's receipt rule (entries separated by spaces). */
export function toCsv(rows: readonly RemoteFolderRow[], rules: ReadonlyMap<string, ReceiptRuleLists> = new Map()): string {
  const line = (r: RemoteFolderRow) => {
    const rule = rules.get(clinicFolderOf(r)) ?? NO_RULE;
    return [r.basePath, r.folder, r.folderTag, r.label, rule.allowedClients.join(' '), rule.allowedUsers.join(' ')].map(csvField).join(',');
  };
  return `${EXPORT_HEADER}\n${rows.map(line).join('\n')}\n`;
}

/** One row checked by the CSV importer's own rules, so the form and the import can never disagree. */
function checkRow(row: RemoteFolderRow): string[] {
  return parseRemoteFolderCsv(toCsv([row])).errors.map((e) => e.replace(/^Line \d+: /, ''));
}

/** The receipt rule fields of a form, checked; errors name the field and the bad entry. */
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

interface Preview {
  added: RemoteFolderRow[];
  changed: Array<{ row: RemoteFolderRow; from: string }>;
  unchanged: number;
  notInCsv: IRemoteFolder[];
  rules: Array<{ clinicFolder: string; from: string; to: string }>;
}

/** What loading `rows` would do, computed without writing (loadRemoteFolders does the writing on confirm). */
function preview(
  existing: IRemoteFolder[],
  rows: RemoteFolderRow[],
  storedRules: ReadonlyMap<string, ReceiptRuleLists>,
  csvRules: ReadonlyMap<string, ReceiptRuleLists> | undefined,
): Preview {
  const byKey = new Map(existing.map((r) => [`${r.label}\u0000${r.folderTag}`, r]));
  const out: Preview = { added: [], changed: [], unchanged: 0, notInCsv: [], rules: [] };
  for (const [clinicFolder, rule] of csvRules ?? []) {
    const from = describeRule(storedRules.get(clinicFolder) ?? NO_RULE);
    const to = describeRule(rule);
    if (from !== to) out.rules.push({ clinicFolder, from, to });
  }
  const seen = new Set<string>();
  for (const row of rows) {
    const key = `${row.label}\u0000${row.folderTag}`;
    seen.add(key);
    const current = byKey.get(key);
    if (!current) out.added.push(row);
    else if (current.folder !== row.folder || current.basePath !== row.basePath) out.changed.push({ row, from: clinicFolderOf(current) });
    else out.unchanged++;
  }
  out.notInCsv = existing.filter((r) => !seen.has(`${r.label}\u0000${r.folderTag}`));
  return out;
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

/** Who else shares a folder's rule, for the messages. */
async function rowsOfFolder(em: EntityManager, labId: number, clinicFolder: string): Promise<string[]> {
  const rows = await em.find(RemoteFolder, { labId }, { orderBy: { label: 'asc', folderTag: 'asc' } });
  return rows.filter((r) => clinicFolderOf(r) === clinicFolder).map((r) => `${r.label} ${r.folderTag}`);
}

async function ruleMessage(em: EntityManager, labId: number, clinicFolder: string, rule: ReceiptRuleLists): Promise<string> {
  return ` Receipt rule of ${clinicFolder} (shared by ${(await rowsOfFolder(em, labId, clinicFolder)).join(', ')}): ${describeRule(rule)}.`;
}

const describeRow = describeFolderRow;

/** States of a file still on its way through a folder row: deleting the row under it is refused. */
const IN_FLIGHT = ['RECEIVED', 'SENT', 'TRANSFER_BLOCKED', 'AWAITING_ACK'] as const;

/** Files routed by this row (its style and hint) that are not done yet. */
function filesUsing(em: EntityManager, row: RemoteFolderRow): Promise<number> {
  return em.count(ResultFile, { label: row.label, hint: row.folderTag, state: { $in: [...IN_FLIGHT] } });
}

async function recordChange(em: EntityManager, labId: number, actor: string, action: 'added' | 'changed' | 'deleted', row: RemoteFolderRow, before: RemoteFolderRow | null) {
  em.create(FolderChange, { labId, actor, action, label: row.label, folderTag: row.folderTag, before: before && describeRow(before), after: action === 'deleted' ? null : describeRow(row) });
  await em.flush();
}

/** A search over every column (the table holds a lab's clinics: tens to a few hundred rows). */
function matches(row: RemoteFolderRow, q: string): boolean {
  const needle = q.toLowerCase();
  return [row.label, row.folderTag, row.folder, row.basePath, clinicFolderOf(row)].some((v) => v.toLowerCase().includes(needle));
}

/** Admin-only (guarded where mounted): the remote-folder table, by hand or by CSV. */
export function createFolderRoutes(deps: FolderRouteDeps) {
  const app = new Hono<BaseEnv>();

  /** Files waiting for a folder may have one now: wake them, as `getresults folders load` does. */
  const wakeWaiting = async (em: EntityManager): Promise<string> => {
    if (!deps.workflows) return ' Files waiting for a folder were not woken (no Temporal connection); run "getresults retry".';
    const { signalled, failed } = await retryWaitingFiles(em, deps.workflows, ['NEEDS_FOLDER']);
    return signalled || failed ? ` Asked ${signalled} waiting file(s) to try again${failed ? ` (${failed} unreachable)` : ''}.` : '';
  };

  const listPage = async (c: Context<BaseEnv>, message?: Html, status?: 200 | 400 | 409, addForm?: { row: RemoteFolderRow; rule: RuleText }) => {
    const em = c.get('em');
    const labId = await folderTableOf(c);
    const all = await em.find(RemoteFolder, { labId }, { orderBy: { label: 'asc', folderTag: 'asc' } });
    const q = (c.req.query('q') ?? '').trim().slice(0, 100);
    const rows = q ? all.filter((r) => matches(r, q)) : all;
    const rules = await receiptRulesByFolder(em);
    const changes = await em.find(FolderChange, { labId }, { orderBy: { at: 'desc', id: 'desc' }, limit: 20 });
    return deps.renderPage(c, {
      title: 'Remote folders',
      nav: 'folders',
      status,
      body: html`<h1>Remote folders</h1>${message ?? ''}
<p class="muted">Files of identifier style <em>label</em> whose hint is <em>folder tag</em> go to <em>base path/folder</em> on the clinic server.</p>
<div class="card"><h2>Add a folder</h2>${folderForm(c, '/folders', addForm?.row ?? { label: '', folderTag: '', folder: '', basePath: '' }, 'Add', addForm?.rule ?? ruleText(NO_RULE))}</div>
<div class="card"><h2>Import a CSV</h2>
<form method="post" action="/folders/import" enctype="multipart/form-data" class="filters">${csrfField(c)}
<label>CSV file (${HEADER}; optional allowed_clients,allowed_users)<input type="file" name="csv" accept=".csv,text/csv" required></label><button class="secondary" type="submit">Preview</button></form>
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
    const problems = [...checkRow(row), ...rule.problems];
    if (problems.length) return listPage(c, flash('bad', problems.join(' ')), 400, { row, rule: rule.typed });
    const labId = await folderTableOf(c);
    if (await em.count(RemoteFolder, { labId, label: row.label, folderTag: row.folderTag })) {
      return listPage(c, flash('bad', `${row.label} ${row.folderTag} is already mapped; edit that row instead.`), 409, { row, rule: rule.typed });
    }
    const clinicFolder = clinicFolderOf(row);
    await em.transactional(async (tx) => {
      tx.create(RemoteFolder, { labId, label: row.label, folderTag: row.folderTag, folder: row.folder, basePath: row.basePath });
      await tx.flush();
      await recordChange(tx, labId, signedIn(c).user.username, 'added', row, null);
      // Empty fields here keep the folder's rule (set on another row); clearing it is done on the edit page.
      if (rule.lists.allowedClients.length || rule.lists.allowedUsers.length) await setReceiptRule(tx, clinicFolder, rule.lists, signedIn(c).user.username);
    });
    const stored = (await receiptRulesByFolder(em, [clinicFolder])).get(clinicFolder);
    const ruleNote = stored ? await ruleMessage(em, labId, clinicFolder, stored) : '';
    return listPage(c, flash('ok', `Added ${row.label} ${row.folderTag} → ${clinicFolderOf(row)}.${ruleNote}${await wakeWaiting(em)}`));
  });

  app.get('/export.csv', async (c) => {
    const rows = await c.get('em').find(RemoteFolder, { labId: await folderTableOf(c) }, { orderBy: { label: 'asc', folderTag: 'asc' } });
    return c.body(toCsv(rows, await receiptRulesByFolder(c.get('em'))), 200, {
      'Content-Type': 'text/csv; charset=utf-8',
      'Content-Disposition': 'attachment; filename="remote_folders.csv"',
      'Cache-Control': 'private, no-store',
    });
  });

  app.get('/:id{[0-9]+}', async (c) => {
    const em = c.get('em');
    const row = await em.findOne(RemoteFolder, { id: Number(c.req.param('id')), labId: await folderTableOf(c) });
    if (!row) return c.notFound();
    const clinicFolder = clinicFolderOf(row);
    const rule = (await receiptRulesByFolder(em, [clinicFolder])).get(clinicFolder) ?? NO_RULE;
    const sharing = (await rowsOfFolder(em, row.labId, clinicFolder)).filter((r) => r !== `${row.label} ${row.folderTag}`);
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
    const row = await em.findOne(RemoteFolder, { id: Number(c.req.param('id')), labId: await folderTableOf(c) });
    if (!row) return c.notFound();
    const form = await c.req.parseBody();
    const next = rowFromForm(form);
    const rule = ruleFromForm(form);
    const problems = [...checkRow(next), ...rule.problems];
    const clash = await em.findOne(RemoteFolder, { labId: row.labId, label: next.label, folderTag: next.folderTag, id: { $ne: row.id } });
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
    await em.transactional(async (tx) => {
      const mine = await tx.findOneOrFail(RemoteFolder, { id: row.id });
      const before = { label: mine.label, folderTag: mine.folderTag, folder: mine.folder, basePath: mine.basePath };
      tx.assign(mine, { label: next.label, folderTag: next.folderTag, folder: next.folder, basePath: next.basePath });
      await tx.flush();
      if (describeRow(before) !== describeRow(next)) await recordChange(tx, row.labId, signedIn(c).user.username, 'changed', next, before);
      if (applyRule) await setReceiptRule(tx, clinicFolder, rule.lists, signedIn(c).user.username);
    });
    const stored = (await receiptRulesByFolder(em, [clinicFolder])).get(clinicFolder) ?? NO_RULE;
    return listPage(c, flash('ok', `Saved ${next.label} ${next.folderTag} → ${clinicFolderOf(next)}.${await ruleMessage(em, row.labId, clinicFolder, stored)}${await wakeWaiting(em)}`));
  });

  /** Delete, step one: what would go, or why it cannot while files use the row. Nothing is written. */
  app.get('/:id{[0-9]+}/delete', async (c) => {
    const em = c.get('em');
    const row = await em.findOne(RemoteFolder, { id: Number(c.req.param('id')), labId: await folderTableOf(c) });
    if (!row) return c.notFound();
    const using = await filesUsing(em, row);
    const files = `/files${query({ clinic: clinicFolderOf(row) })}`;
    return deps.renderPage(c, {
      title: 'Delete remote folder',
      nav: 'folders',
      status: using ? 409 : 200,
      body: html`<p><a href="/folders">← Remote folders</a></p><h1>Delete ${describeRow(row)}?</h1>
${using
  ? flash('bad', html`It cannot be deleted now: <a href="${files}">${using} file(s)</a> sent through it are still on their way or waiting for the clinic's fetch. Delete it once they are done.`)
  : html`<p>New files of style ${row.label} with hint ${row.folderTag} will then wait for a folder (“Needs a clinic folder”) until one is added. Files already sent stay where they are, and the clinic folder's receipt rule is kept. The deletion is recorded with your name.</p>
<form method="post" action="/folders/${row.id}/delete">${csrfField(c)}<button class="danger primary" type="submit">Delete ${row.label} ${row.folderTag}</button> <a href="/folders">Cancel</a></form>`}`,
    });
  });

  /** Delete, step two: checked again (a file may have been routed since the question), then deleted and recorded. */
  app.post('/:id{[0-9]+}/delete', async (c) => {
    const em = c.get('em');
    const id = Number(c.req.param('id'));
    const row = await em.findOne(RemoteFolder, { id, labId: await folderTableOf(c) });
    if (!row) return listPage(c, flash('warn', 'That row was already deleted.'), 409);
    const gone = { label: row.label, folderTag: row.folderTag, folder: row.folder, basePath: row.basePath };
    if (await filesUsing(em, row)) return listPage(c, flash('bad', `${describeRow(gone)} was not deleted: files sent through it are still on their way.`), 409);
    await em.transactional(async (tx) => {
      await tx.nativeDelete(RemoteFolder, { id });
      await recordChange(tx, row.labId, signedIn(c).user.username, 'deleted', gone, gone);
    });
    return listPage(c, flash('ok', `Deleted ${describeRow(gone)}.`));
  });

  /** Step one of an import: parse and show what would change. Nothing is written. */
  app.post('/import', async (c) => {
    const form = await c.req.parseBody();
    const file = form.csv;
    const text = file instanceof File ? await file.text() : typeof form.text === 'string' ? form.text : '';
    const report = parseRemoteFolderCsv(text);
    const existing = await c.get('em').find(RemoteFolder, { labId: await folderTableOf(c) });
    const p = preview(existing, report.rows, await receiptRulesByFolder(c.get('em')), report.rules);
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
    const em = c.get('em');
    const form = await c.req.parseBody();
    const report = parseRemoteFolderCsv(typeof form.text === 'string' ? form.text : '');
    if (report.errors.length || !report.rows.length) return listPage(c, flash('bad', 'The CSV was not imported: it has errors. Preview it again.'), 400);
    const s = await loadRemoteFolders(em, await folderTableOf(c), report.rows, report.rules, signedIn(c).user.username);
    const rules = report.rules ? ` ${s.rulesChanged.length} receipt rule(s) changed.` : '';
    return listPage(
      c,
      flash('ok', `Imported: ${s.added} added, ${s.changed.length} changed, ${s.unchanged} unchanged, ${s.notInCsv} kept that the CSV does not list.${rules}${await wakeWaiting(em)}`),
    );
  });

  return app;
}
