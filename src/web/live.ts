import type { EntityManager } from '@mikro-orm/postgresql';
import { Hono } from 'hono';
import type { BaseEnv } from './context';

/**
 * Live pages (issue 12): the dashboard, the file list, a file's page, Pending and Upload follow state changes without a
 * reload, within about two seconds, and stay plain pages with scripts off.
 *
 * Every change of a file appends to its trail, and the trail's hash chain numbers each event (`file_event.seq`), so
 * the highest number says whether anything changed. A page carries the number it was drawn at; its script asks
 * `/live` for the current one each second (one index lookup) and, when it moved, fetches the page again and swaps in
 * its changing parts. Cheaper than a connection held open per page, and nothing to keep in step on the server.
 */
export const LIVE_REFRESH_HEADER = 'x-getresults-live';

/** The number of the newest event on any file's trail (0 before the first). */
export async function latestChange(em: EntityManager): Promise<number> {
  const [row] = await em.getConnection().execute<Array<{ seq: string | null }>>('select max(seq) as seq from file_event');
  return Number(row?.seq ?? 0);
}

export function createLiveRoutes() {
  const app = new Hono<BaseEnv>();
  app.get('/', async (c) => c.json({ seq: await latestChange(c.get('em')) }));
  return app;
}

/**
 * The script a live page runs (with the page's CSP nonce). It swaps the elements marked `data-live` (by id), or the
 * whole <main> when none is marked; it waits while someone types in a field or has ticked a box in it, and while the
 * tab is hidden. Its requests carry LIVE_REFRESH_HEADER, so they do not keep the session from going idle.
 */
export const LIVE_SCRIPT = `(function () {
  var main = document.querySelector('main[data-live-seq]');
  if (!main || !window.fetch || !window.DOMParser) return;
  var seq = main.getAttribute('data-live-seq');
  var src = main.getAttribute('data-live-src') || location.pathname + location.search;
  var headers = { '${LIVE_REFRESH_HEADER}': '1' };
  var busy = false;
  function held() {
    var a = document.activeElement;
    if (a && main.contains(a) && /^(INPUT|TEXTAREA|SELECT)$/.test(a.tagName) && a.type !== 'submit') return true;
    return !!main.querySelector('input[type=checkbox]:checked');
  }
  function swap(text) {
    var next = new DOMParser().parseFromString(text, 'text/html').querySelector('main[data-live-seq]');
    if (!next) return;
    var parts = main.querySelectorAll('[data-live]');
    if (parts.length) {
      Array.prototype.forEach.call(parts, function (el) { var n = next.querySelector('#' + el.id); if (n) el.replaceWith(n); });
    } else {
      main.innerHTML = next.innerHTML;
    }
    seq = next.getAttribute('data-live-seq');
    main.setAttribute('data-live-seq', seq);
  }
  function tick() {
    if (busy || document.hidden || held()) return;
    busy = true;
    fetch('/live', { credentials: 'same-origin', cache: 'no-store', headers: headers })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) {
        if (!d || String(d.seq) === seq) return;
        return fetch(src, { credentials: 'same-origin', cache: 'no-store', headers: headers })
          .then(function (r) { return r.ok ? r.text() : null; })
          .then(function (t) { if (t && !held()) swap(t); });
      })
      .catch(function () {})
      .then(function () { busy = false; });
  }
  setInterval(tick, 1000);
})();`;
