import type { Context, MiddlewareHandler } from 'hono';
import { getCookie, setCookie, deleteCookie } from 'hono/cookie';
import { SESSION_COOKIE, findSession, type ActiveSession } from '../auth/sessions';
import type { BaseEnv } from '../context';
import { LIVE_REFRESH_HEADER } from '../live';

/** HTTPS as the browser sees it: directly, or (when a trusted proxy says so) in front of us. */
export function isHttps(c: Context, trustProxy: boolean): boolean {
  if (new URL(c.req.url).protocol === 'https:') return true;
  return trustProxy && c.req.header('x-forwarded-proto')?.split(',')[0]?.trim() === 'https';
}

export function setSessionCookie(c: Context, session: ActiveSession, trustProxy: boolean): void {
  setCookie(c, SESSION_COOKIE, session.token, {
    httpOnly: true,
    sameSite: 'Lax',
    secure: isHttps(c, trustProxy),
    path: '/',
    expires: session.expiresAt,
  });
}

export function clearSessionCookie(c: Context): void {
  deleteCookie(c, SESSION_COOKIE, { path: '/' });
}

/** Finds the signed-in user from the session cookie (if any); refusing anonymous callers is `requireLogin`'s job. */
export function loadSession(options: { idleMs?: number } = {}): MiddlewareHandler<BaseEnv> {
  return async function loadSession(c, next) {
    const token = getCookie(c, SESSION_COOKIE);
    // A live page's own refreshes (src/web/live.ts) do not count as use of the session.
    const byPerson = c.req.header(LIVE_REFRESH_HEADER) === undefined;
    c.set('session', token ? await findSession(c.get('em'), token, new Date(), options.idleMs, byPerson) : undefined);
    await next();
  };
}

/**
 * Everything but `publicPaths` needs a session. Browsers asking for a page are sent to the login form (and back
 * afterwards); anything else (forms, PDFs in scripts, API calls) gets a plain 401 so nothing is half-done.
 */
export function requireLogin(options: { publicPaths: string[] }): MiddlewareHandler<BaseEnv> {
  return async function requireLogin(c, next) {
    const path = c.req.path;
    if (c.get('session') || options.publicPaths.some((p) => path === p || path.startsWith(`${p}/`))) return next();
    const wantsPage = (c.req.method === 'GET' || c.req.method === 'HEAD') && (c.req.header('accept') ?? '').includes('text/html');
    if (wantsPage) {
      const url = new URL(c.req.url);
      return c.redirect(`/login?next=${encodeURIComponent(url.pathname + url.search)}`, 302);
    }
    return c.text('Sign in first.', 401);
  };
}

export function requireAdmin(): MiddlewareHandler<BaseEnv> {
  return async function requireAdmin(c, next) {
    if (c.get('session')?.user.role !== 'admin') return c.text('Only an administrator may do this.', 403);
    await next();
  };
}
