import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { BaseEnv } from '../context';
import type { HealthMonitor } from '../health';
import { CSRF_FIELD } from '../middleware/csrf';
import { raw } from 'hono/html';
import { html, type Html } from './html';
import { LIVE_SCRIPT, latestChange } from '../live';

const STYLE = `
:root{--fg:#1d2430;--muted:#5b6575;--line:#d8dde5;--bg:#f6f7f9;--ok:#1d7a46;--wait:#a86400;--bad:#b3261e;--info:#2f5fa7;--accent:#2f5fa7}
*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header{display:flex;gap:1.2rem;align-items:center;padding:.6rem 1.2rem;background:#1d2430;color:#fff;flex-wrap:wrap}
header a{color:#dfe6f2;text-decoration:none}header a:hover,header a[aria-current]{color:#fff;text-decoration:underline}
header .brand{font-weight:600;color:#fff;margin-right:.6rem}header .right{margin-left:auto;display:flex;gap:.8rem;align-items:center}
header form{margin:0}header button{background:none;border:1px solid #6b778a;color:#dfe6f2;border-radius:4px;padding:.15rem .6rem;cursor:pointer}
main{max-width:1200px;margin:1.2rem auto;padding:0 1.2rem}footer{max-width:1200px;margin:2rem auto 1rem;padding:0 1.2rem;color:var(--muted);font-size:13px}
h1{font-size:1.4rem;margin:.2rem 0 1rem}h2{font-size:1.1rem;margin:1.4rem 0 .6rem}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid var(--line)}th,td{text-align:left;padding:.4rem .6rem;border-bottom:1px solid var(--line);vertical-align:top}
th{background:#eef1f5;font-weight:600;font-size:13px}.num{text-align:right;font-variant-numeric:tabular-nums}
.card{background:#fff;border:1px solid var(--line);border-radius:6px;padding:1rem;margin-bottom:1rem}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(260px,1fr));gap:1rem}
.state{display:inline-block;padding:.05rem .5rem;border-radius:10px;font-size:12px;font-weight:600;border:1px solid currentColor;white-space:nowrap}
.tone-ok{color:var(--ok)}.tone-wait{color:var(--wait)}.tone-bad{color:var(--bad)}.tone-info{color:var(--info)}
.muted{color:var(--muted)}.small{font-size:13px}.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px;word-break:break-all}
form.filters{display:flex;flex-wrap:wrap;gap:.6rem;align-items:end;margin-bottom:1rem}form.filters label{display:flex;flex-direction:column;font-size:13px;color:var(--muted)}
input,select,button,textarea{font:inherit}input[type=text],input[type=search],input[type=password],input[type=date],select,textarea{padding:.3rem .4rem;border:1px solid #b9c1cd;border-radius:4px;background:#fff}
button.primary{background:var(--accent);color:#fff;border:0;border-radius:4px;padding:.4rem .9rem;cursor:pointer}button.secondary{background:#fff;border:1px solid #b9c1cd;border-radius:4px;padding:.35rem .8rem;cursor:pointer}
.flash{padding:.6rem .9rem;border-radius:6px;margin-bottom:1rem;border:1px solid}.flash.ok{background:#eaf6ef;border-color:#9fd1b3}.flash.warn{background:#fff6e5;border-color:#f0c77a}.flash.bad{background:#fdecea;border-color:#f0a9a3}
.pager{display:flex;gap:.8rem;align-items:center;margin:.8rem 0}
ol.timeline{list-style:none;padding:0;margin:0;border-left:3px solid var(--line)}ol.timeline li{margin:0 0 .8rem;padding-left:1rem;position:relative}
ol.timeline li::before{content:"";position:absolute;left:-8px;top:.35rem;width:13px;height:13px;border-radius:50%;background:#fff;border:3px solid var(--accent)}
.pdf{width:100%;height:75vh;border:1px solid var(--line);background:#fff}
.drop{border:2px dashed #9aa6b8;border-radius:8px;padding:2rem;text-align:center;background:#fff}.drop.over{border-color:var(--accent);background:#eef4ff}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem;margin:0}dl.facts dt{color:var(--muted)}dl.facts dd{margin:0}
.actions{display:flex;gap:.6rem;flex-wrap:wrap;align-items:end}.actions form{margin:0}
`;

export interface PageOptions {
  title: string;
  body: Html;
  status?: ContentfulStatusCode;
  /**
   * Follows state changes without a reload (src/web/live.ts): true, or the address to fetch the page's live parts
   * from when it is not the page's own (a POST's answer).
   */
  live?: boolean | { src: string };
  /** Which header link is the current page. */
  nav?: 'dashboard' | 'files' | 'pending' | 'receipts' | 'report' | 'upload' | 'folders' | 'security';
}

export interface LayoutDeps {
  temporalUiUrl?: string;
  health?: HealthMonitor;
}

/** The hidden field every POST form carries. */
export function csrfField(c: Context<BaseEnv>): Html {
  return html`<input type="hidden" name="${CSRF_FIELD}" value="${c.get('csrfToken')}">`;
}

export function flash(kind: 'ok' | 'warn' | 'bad', message: string | Html): Html {
  return html`<div class="flash ${kind}" role="status">${message}</div>`;
}

/** Renders a whole page: header with navigation and the Temporal UI link, footer with the system's health. */
export function createLayout(deps: LayoutDeps) {
  return async function renderPage(c: Context<BaseEnv>, options: PageOptions): Promise<Response> {
    const nonce = c.get('secureHeadersNonce') ?? '';
    const session = c.get('session');
    const current = (name: PageOptions['nav']) => (options.nav === name ? html` aria-current="page"` : '');
    const health = session && deps.health ? await deps.health.current() : undefined;
    const healthLine = health
      ? html`System: ${Object.entries(health.components).map(
          ([name, state], i) => html`${i ? ' · ' : ''}${name} <span class="tone-${state === 'up' ? 'ok' : 'bad'}">${state}</span>`,
        )}${Object.keys(health.components).length ? '' : 'no checks configured'} <span class="muted">(checked ${health.checkedAt.toLocaleTimeString('en-GB')})</span>`
      : '';
    const nav = session
      ? html`<a href="/"${current('dashboard')}>Dashboard</a>
          <a href="/files"${current('files')}>Files</a>
          <a href="/pending"${current('pending')}>Pending</a>
          <a href="/receipts"${current('receipts')}>Receipts</a>
          <a href="/report"${current('report')}>Report</a>
          <a href="/upload"${current('upload')}>Upload</a>
          ${session.user.role === 'admin' ? html`<a href="/folders"${current('folders')}>Remote folders</a> <a href="/security"${current('security')}>Security</a>` : ''}
          ${deps.temporalUiUrl ? html`<a href="${deps.temporalUiUrl}" target="_blank" rel="noopener noreferrer">Temporal UI ↗</a>` : ''}
          <span class="right"><span>${session.user.username}${session.user.role === 'admin' ? ' (admin)' : ''}</span>
            <form method="post" action="/logout">${csrfField(c)}<button type="submit">Sign out</button></form></span>`
      : '';
    const live = session && options.live ? { seq: await latestChange(c.get('em')), src: typeof options.live === 'object' ? options.live.src : undefined } : undefined;
    const liveMain = live
      ? html`<main data-live-seq="${live.seq}"${live.src ? html` data-live-src="${live.src}"` : ''}>${options.body}</main>`
      : html`<main>${options.body}</main>`;
    const liveScript = live ? html`<script nonce="${nonce}">${raw(LIVE_SCRIPT)}</script>` : '';
    const page = html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${options.title} · getresults</title><style nonce="${nonce}">${raw(STYLE)}</style></head>
<body><header><span class="brand">getresults</span>${nav}</header>
${liveMain}
<footer>${healthLine}</footer>${liveScript}</body></html>`;
    return c.html(page, options.status ?? 200);
  };
}

export type RenderPage = ReturnType<typeof createLayout>;
