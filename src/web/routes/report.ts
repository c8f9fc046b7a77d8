import { Hono, type Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { BaseEnv } from '../context';
import { labScopeOf } from '../auth/lab-scope';
import { fileFiltersSchema } from '../result-files/file-query';
import { formatDuration, turnaroundByClinic, type ClinicTurnaround, type TurnaroundPeriod } from '../report/turnaround';
import { csvLine } from '../../domain/csv';
import { html, isoDay, query, type Html } from '../views/html';
import type { RenderPage } from '../views/layout';

/** The period a report covers unless asked otherwise: the last 30 days, today included. */
export const DEFAULT_REPORT_DAYS = 30;

const periodSchema = fileFiltersSchema.pick({ from: true, to: true, clinic: true });

function startOfDay(d: Date): Date {
  return new Date(d.getFullYear(), d.getMonth(), d.getDate());
}

function localDay(value: string): Date {
  const [y, m, d] = value.split('-').map(Number) as [number, number, number];
  return new Date(y, m - 1, d);
}

/** The period from the query string (days in the web process's time zone, `to` included), or the default. */
export function reportPeriod(q: Record<string, string>, now = new Date()): { period: TurnaroundPeriod; from: string; to: string; clinic?: string } {
  const parsed = periodSchema.safeParse(q);
  if (!parsed.success) throw new HTTPException(400, { message: `${parsed.error.issues[0]?.message ?? 'The period could not be read.'} Change it and try again.` });
  const today = startOfDay(now);
  const to = parsed.data.to ?? isoDay(today);
  const from = parsed.data.from ?? isoDay(new Date(today.getFullYear(), today.getMonth(), today.getDate() - (DEFAULT_REPORT_DAYS - 1)));
  if (from > to) throw new HTTPException(400, { message: 'The period starts after it ends. Change the dates and try again.' });
  const end = localDay(to);
  end.setDate(end.getDate() + 1);
  return { period: { from: localDay(from), to: end, clinic: parsed.data.clinic }, from, to, clinic: parsed.data.clinic };
}

/**
 * Median and 90th percentile per clinic as paired horizontal bars, server-rendered SVG like the dashboard's chart,
 * with the table beside it for the numbers (and for readers without colour).
 */
export function turnaroundChart(clinics: ClinicTurnaround[]): Html {
  const fetched = clinics.filter((c) => c.p90Seconds !== null);
  if (!fetched.length) return html`<p class="muted">No file sent in this period has been fetched yet.</p>`;
  const width = 900;
  const rowHeight = 26;
  const left = 220;
  const height = fetched.length * rowHeight + 24;
  const max = Math.max(...fetched.map((c) => c.p90Seconds ?? 0), 60);
  const x = (s: number | null) => ((width - left - 90) * (s ?? 0)) / max;
  return html`<svg viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-labelledby="turnaround-title">
<title id="turnaround-title">Time from sending to the clinic's first fetch, per clinic: median and 90th percentile</title>
${fetched.map((c, i) => {
  const y = 8 + i * rowHeight;
  return html`<g><title>${c.clinicFolder}: median ${formatDuration(c.medianSeconds)}, 90% within ${formatDuration(c.p90Seconds)} (${c.fetched} of ${c.sent} fetched)</title>
<text x="${left - 8}" y="${y + 14}" font-size="12" text-anchor="end" fill="#1d2430">${c.clinicFolder}</text>
<rect x="${left}" y="${y}" width="${x(c.p90Seconds)}" height="9" fill="#a86400"></rect>
<rect x="${left}" y="${y + 10}" width="${x(c.medianSeconds)}" height="9" fill="#1d7a46"></rect>
<text x="${left + x(c.p90Seconds) + 6}" y="${y + 14}" font-size="11" fill="#5b6575">${formatDuration(c.medianSeconds)} / ${formatDuration(c.p90Seconds)}</text></g>`;
})}</svg>
<p class="small"><span class="tone-ok">■</span> median &nbsp; <span class="tone-wait">■</span> 90% of fetched files within</p>`;
}

function reportTable(clinics: ClinicTurnaround[], all: ClinicTurnaround, link: (clinic: string) => string): Html {
  const row = (c: ClinicTurnaround, head = false) => {
    const cell = (v: string | number) => (head ? html`<th class="num">${v}</th>` : html`<td class="num">${v}</td>`);
    return html`<tr>${head ? html`<th>${c.clinicFolder}</th>` : html`<td><a href="${link(c.clinicFolder)}">${c.clinicFolder}</a></td>`}
${cell(c.sent)}${cell(c.fetched)}${cell(formatDuration(c.medianSeconds))}${cell(formatDuration(c.p90Seconds))}${cell(c.notFetched)}</tr>`;
  };
  return html`<table><thead><tr><th>Clinic folder</th><th class="num">Sent</th><th class="num">Fetched</th><th class="num">Median to first fetch</th><th class="num">90% fetched within</th><th class="num">Still not fetched</th></tr></thead>
<tbody>${clinics.length ? clinics.map((c) => row(c)) : html`<tr><td colspan="6" class="muted">No file was sent in this period.</td></tr>`}
${clinics.length > 1 ? row(all, true) : ''}</tbody></table>`;
}

export const REPORT_CSV_HEADER = ['clinic_folder', 'sent', 'fetched', 'median_seconds_to_first_fetch', 'p90_seconds_to_first_fetch', 'not_fetched'];

export function createReportRoutes(deps: { renderPage: RenderPage }) {
  const app = new Hono<BaseEnv>();

  app.get('/', async (c: Context<BaseEnv>) => {
    const { period, from, to, clinic } = reportPeriod(c.req.query());
    const { clinics, all } = await turnaroundByClinic(c.get('em'), period, labScopeOf(c));
    const keep = { from, to, clinic };
    const filesOf = (folder: string) => `/files${query({ clinic: folder, from, to })}`;
    const body = html`<h1>Turnaround: how fast clinics fetch their results</h1>
<form class="filters" method="get" action="/report">
<label>Sent from<input type="date" name="from" value="${from}"></label>
<label>to<input type="date" name="to" value="${to}"></label>
<label>Clinic<input type="text" name="clinic" value="${clinic ?? ''}" size="14"></label>
<button class="primary" type="submit">Show</button> <a href="/report">Last ${DEFAULT_REPORT_DAYS} days</a> · <a href="/report.csv${query(keep)}">Download as CSV</a></form>
<p class="muted small">Files sent from ${from} to ${to} (both days included), by clinic folder. "Median to first fetch" is the time from
sending to the clinic's first counted fetch, over the files fetched so far; "still not fetched" counts the others, whatever their age.</p>
<section class="card">${turnaroundChart(clinics)}</section>
${reportTable(clinics, all, filesOf)}`;
    return deps.renderPage(c, { title: 'Turnaround report', nav: 'report', body });
  });

  return app;
}

/** `/report.csv`: the same rows, one a clinic, durations in seconds, for a spreadsheet. */
export function createReportCsvRoute() {
  const app = new Hono<BaseEnv>();
  app.get('/', async (c) => {
    const { period, from, to } = reportPeriod(c.req.query());
    const { clinics } = await turnaroundByClinic(c.get('em'), period, labScopeOf(c));
    const lines = [csvLine(REPORT_CSV_HEADER), ...clinics.map((r) => csvLine([r.clinicFolder, r.sent, r.fetched, r.medianSeconds ?? '', r.p90Seconds ?? '', r.notFetched]))];
    return c.body(`${lines.join('\n')}\n`, 200, {
      'Content-Type': 'text/csv; charset=utf-8',
      'Content-Disposition': `attachment; filename="turnaround-${from}-to-${to}.csv"`,
      'Cache-Control': 'private, no-store',
    });
  });
  return app;
}
