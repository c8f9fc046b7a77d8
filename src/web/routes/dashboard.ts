import type { EntityManager } from '@mikro-orm/postgresql';
import { Hono } from 'hono';
import { FILE_STATES, type FileState } from '../../domain/file-state';
import { signedIn, type BaseEnv } from '../context';
import { labScopeOf } from '../auth/lab-scope';
import { html, isoDay, query, type Html } from '../views/html';
import type { RenderPage } from '../views/layout';
import { STATE_WORDS, WAITING_STATES } from '../views/states';
import { formatDuration, turnaroundByClinic } from '../report/turnaround';
import { DEFAULT_UNACKNOWLEDGED_DAYS, countUnacknowledgedAfter } from './receipts';
import { DEFAULT_REPORT_DAYS, reportPeriod, turnaroundChart } from './report';

const CHART_DAYS = 30;

interface DayCount {
  day: string;
  sent: number;
  acknowledged: number;
}

function startOfDay(d: Date): Date {
  return new Date(d.getFullYear(), d.getMonth(), d.getDate());
}

/** Monday of the current week, local time. */
function startOfWeek(d: Date): Date {
  const day = startOfDay(d);
  day.setDate(day.getDate() - ((day.getDay() + 6) % 7));
  return day;
}

/** The web process's time zone decides what "today" is, for the counts and for the chart's days alike. */
const TIME_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone;

/** `and lab_id = ?` with its parameter, for one lab's counts; nothing for every lab's. */
function inLab(labId: number | undefined): { sql: string; params: number[] } {
  return labId === undefined ? { sql: '', params: [] } : { sql: ' and lab_id = ?', params: [labId] };
}

async function countsByState(em: EntityManager, today: Date, week: Date, labId: number | undefined) {
  const lab = inLab(labId);
  const rows: Array<{ state: FileState; today: string; week: string }> = await em
    .getConnection()
    .execute(
      `select state, count(*) filter (where uploaded_at >= ?) as today, count(*) as week
         from result_file where uploaded_at >= ?${lab.sql} group by state`,
      [today, week, ...lab.params],
    );
  return new Map(rows.map((r) => [r.state, { today: Number(r.today), week: Number(r.week) }]));
}

/** How far back a rejected file counts as needing a person: long enough to cover a weekend. */
export const RECENT_REJECTION_DAYS = 7;

/** Files a person must act on: waiting for a folder or a fixed login, or rejected recently. */
async function needingAPerson(em: EntityManager, rejectedSince: Date, labId: number | undefined): Promise<Map<FileState, number>> {
  const lab = inLab(labId);
  const rows: Array<{ state: FileState; n: string }> = await em.getConnection().execute(
    `select state, count(*) as n from result_file
      where (state in (?, ?) or (state = 'REJECTED' and uploaded_at >= ?))${lab.sql}
      group by state`,
    [...WAITING_STATES, rejectedSince, ...lab.params],
  );
  return new Map(rows.map((r) => [r.state, Number(r.n)]));
}

/** One banner for everything that waits for a person, each count linking to its files. */
function needsAPersonBanner(counts: Map<FileState, number>, rejectedSince: Date, isAdmin: boolean): Html {
  const rejected = counts.get('REJECTED') ?? 0;
  const needsFolder = counts.get('NEEDS_FOLDER') ?? 0;
  const blocked = counts.get('TRANSFER_BLOCKED') ?? 0;
  if (!rejected && !needsFolder && !blocked) return html``;
  const line = (n: number, state: FileState, what: string, next: Html, extra: Record<string, string> = {}) =>
    n ? html`<li><a href="/files${query({ state, ...extra })}"><strong>${n}</strong> ${what}</a>: ${next}</li>` : '';
  return html`<div class="flash warn" id="needs-a-person"><strong>Needs a person</strong><ul>
${line(rejected, 'REJECTED', `rejected in the last ${RECENT_REJECTION_DAYS} days`, html`each says why; fix it and upload it again.`, { from: isoDay(rejectedSince) })}
${line(needsFolder, 'NEEDS_FOLDER', 'need a clinic folder', isAdmin ? html`add the folders on <a href="/folders">Remote folders</a>; the files are then sent by themselves.` : html`ask an admin to add the folders; the files are then sent by themselves.`)}
${line(blocked, 'TRANSFER_BLOCKED', 'transfer blocked', html`server B refused our key or login; ${isAdmin ? 'fix it' : 'ask an admin to fix it'}, and the files go through by themselves.`)}
</ul></div>`;
}

async function perDay(em: EntityManager, from: Date, labId: number | undefined): Promise<DayCount[]> {
  const lab = inLab(labId);
  const rows: Array<{ day: string; kind: 'sent' | 'acknowledged'; n: string }> = await em.getConnection().execute(
    `select to_char((sent_at at time zone ?)::date, 'YYYY-MM-DD') as day, 'sent' as kind, count(*) as n
       from result_file where sent_at >= ?${lab.sql} group by 1
     union all
     select to_char((acknowledged_at at time zone ?)::date, 'YYYY-MM-DD'), 'acknowledged', count(*)
       from result_file where acknowledged_at >= ?${lab.sql} group by 1`,
    [TIME_ZONE, from, ...lab.params, TIME_ZONE, from, ...lab.params],
  );
  const days: DayCount[] = [];
  for (let i = 0; i < CHART_DAYS; i++) {
    const d = new Date(from);
    d.setDate(from.getDate() + i);
    days.push({ day: isoDay(d), sent: 0, acknowledged: 0 });
  }
  const byDay = new Map(days.map((d) => [d.day, d]));
  for (const r of rows) {
    const d = byDay.get(r.day);
    if (d) d[r.kind] = Number(r.n);
  }
  return days;
}

/** Sent and acknowledged per day as paired bars; plain SVG, no script, readable without colour by its table twin. */
function chart(days: DayCount[]): Html {
  const width = 900;
  const height = 180;
  const pad = { left: 34, bottom: 22, top: 10 };
  const max = Math.max(1, ...days.map((d) => Math.max(d.sent, d.acknowledged)));
  const slot = (width - pad.left) / days.length;
  const bar = Math.max(2, slot / 2 - 2);
  const y = (n: number) => pad.top + (height - pad.top - pad.bottom) * (1 - n / max);
  const bars = days.map((d, i) => {
    const x = pad.left + i * slot + 1;
    const label = i % 5 === 0 || i === days.length - 1 ? html`<text x="${x + bar}" y="${height - 6}" font-size="10" text-anchor="middle" fill="#5b6575">${d.day.slice(5)}</text>` : '';
    return html`<g><title>${d.day}: ${d.sent} sent, ${d.acknowledged} fetched</title>
<rect x="${x}" y="${y(d.sent)}" width="${bar}" height="${y(0) - y(d.sent)}" fill="#2f5fa7"></rect>
<rect x="${x + bar + 1}" y="${y(d.acknowledged)}" width="${bar}" height="${y(0) - y(d.acknowledged)}" fill="#1d7a46"></rect>${label}</g>`;
  });
  return html`<svg viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-labelledby="chart-title">
<title id="chart-title">Files sent and fetched per day, last ${CHART_DAYS} days</title>
<line x1="${pad.left}" x2="${width}" y1="${y(0)}" y2="${y(0)}" stroke="#d8dde5"></line>
<text x="${pad.left - 4}" y="${y(max) + 4}" font-size="10" text-anchor="end" fill="#5b6575">${max}</text>
<text x="${pad.left - 4}" y="${y(0)}" font-size="10" text-anchor="end" fill="#5b6575">0</text>
${bars}</svg>
<p class="small"><span class="tone-info">■</span> sent &nbsp; <span class="tone-ok">■</span> fetched (by day of the clinic's first fetch)</p>`;
}

export function createDashboardRoutes(deps: { renderPage: RenderPage }) {
  const app = new Hono<BaseEnv>();
  app.get('/', async (c) => {
    const em = c.get('em');
    const now = new Date();
    const today = startOfDay(now);
    const week = startOfWeek(now);
    const from = startOfDay(new Date(now.getFullYear(), now.getMonth(), now.getDate() - (CHART_DAYS - 1)));
    const rejectedSince = startOfDay(new Date(now.getFullYear(), now.getMonth(), now.getDate() - (RECENT_REJECTION_DAYS - 1)));
    const { period } = reportPeriod({}, now);
    const [counts, needing, days, notFetched, turnaround] = await Promise.all([
      countsByState(em, today, week, labScopeOf(c)),
      needingAPerson(em, rejectedSince, labScopeOf(c)),
      perDay(em, from, labScopeOf(c)),
      countUnacknowledgedAfter(em, DEFAULT_UNACKNOWLEDGED_DAYS, labScopeOf(c)),
      turnaroundByClinic(em, period, labScopeOf(c)),
    ]);
    const totals = { today: 0, week: 0 };
    for (const v of counts.values()) {
      totals.today += v.today;
      totals.week += v.week;
    }
    const body = html`<h1>Dashboard</h1>
${needsAPersonBanner(needing, rejectedSince, signedIn(c).user.role === 'admin')}
<div class="cards">
<section class="card"><h2>Files by state</h2>
<table><thead><tr><th>State</th><th class="num">Today</th><th class="num">This week</th></tr></thead><tbody>
${FILE_STATES.filter((s) => counts.has(s)).map(
  (s) => html`<tr><td><a class="state tone-${STATE_WORDS[s].tone}" href="/files${query({ state: s, from: isoDay(week) })}">${STATE_WORDS[s].label}</a></td>
<td class="num">${counts.get(s)!.today}</td><td class="num">${counts.get(s)!.week}</td></tr>`,
)}
<tr><th>All uploads</th><th class="num">${totals.today}</th><th class="num">${totals.week}</th></tr>
</tbody></table>
<p class="muted small">By the day the file was uploaded, in its state now. The week starts on Monday.</p></section>
<section class="card"><h2>Not fetched by the clinic</h2>
<p><strong class="${notFetched ? 'tone-bad' : 'tone-ok'}">${notFetched}</strong> file(s) sent more than ${DEFAULT_UNACKNOWLEDGED_DAYS} days ago and not fetched.</p>
<p class="small"><a href="/receipts${query({ days: DEFAULT_UNACKNOWLEDGED_DAYS })}#unacknowledged">See them on Receipts</a> · <a href="/pending">Pending</a></p></section>
</div>
<section class="card"><h2>Sent and fetched, last ${CHART_DAYS} days</h2>${chart(days)}</section>
<section class="card" id="turnaround"><h2>How fast clinics fetch, last ${DEFAULT_REPORT_DAYS} days</h2>
<p class="small">All clinics: ${turnaround.all.fetched} of ${turnaround.all.sent} fetched, median ${formatDuration(turnaround.all.medianSeconds)}, 90% within ${formatDuration(turnaround.all.p90Seconds)}. <a href="/report">The report, by clinic and period</a></p>
${turnaroundChart(turnaround.clinics)}</section>`;
    return deps.renderPage(c, { title: 'Dashboard', nav: 'dashboard', body, live: true });
  });
  return app;
}
