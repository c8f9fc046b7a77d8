import { randomBytes } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { csrfTokenFor, sameToken } from '../auth/sessions';
import type { BaseEnv } from '../context';
import { isHttps } from './session';

export const CSRF_FIELD = '_csrf';
/** Before login there is no session to bind to: the login form uses a double-submit cookie instead. */
const PRE_LOGIN_COOKIE = 'gr_login_csrf';
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

function sameOrigin(c: Context, value: string): boolean {
  try {
    return new URL(value).origin === new URL(c.req.url).origin;
  } catch {
    return false;
  }
}

async function submittedToken(c: Context): Promise<string | undefined> {
  const header = c.req.header('x-csrf-token');
  if (header) return header;
  const type = c.req.header('content-type') ?? '';
  if (!type.startsWith('multipart/form-data') && !type.startsWith('application/x-www-form-urlencoded')) return undefined;
  // parseBody caches the parsed form, so the route handler reads it again for free.
  const body = await c.req.parseBody({ all: true });
  const value = body[CSRF_FIELD];
  return typeof value === 'string' ? value : undefined;
}

/**
 * Two checks on every state-changing request: the browser's Origin (or Referer) must be this site, and the form must
 * carry the token bound to the caller's session. SameSite=Lax alone would leave same-site subdomains and old
 * browsers open.
 */
export function csrfProtection(options: {
  trustProxy: boolean;
  publicOrigin?: string;
  /**
   * Paths whose route reads a multipart form itself, as it streams in (the upload page): the token is checked there,
   * from the form's first field, before any file reaches the disk (src/web/uploads/receive-upload.ts). Parsing the
   * form here would hold the whole upload in memory first.
   */
  streamedFormPaths?: readonly string[];
}): MiddlewareHandler<BaseEnv> {
  const streamed = new Set(options.streamedFormPaths ?? []);
  const allowed = (c: Context, value: string) =>
    sameOrigin(c, value) || (options.publicOrigin !== undefined && new URL(value).origin === options.publicOrigin);
  return async function csrfProtection(c, next) {
    const session = c.get('session');
    let token: string;
    if (session) {
      token = csrfTokenFor(session.token);
    } else {
      token = getCookie(c, PRE_LOGIN_COOKIE) ?? '';
      if (!/^[A-Za-z0-9_-]{32}$/.test(token)) {
        token = randomBytes(24).toString('base64url');
        setCookie(c, PRE_LOGIN_COOKIE, token, { httpOnly: true, sameSite: 'Lax', secure: isHttps(c, options.trustProxy), path: '/login' });
      }
    }
    c.set('csrfToken', token);
    if (SAFE.has(c.req.method)) return next();

    const origin = c.req.header('origin');
    const referer = c.req.header('referer');
    const site = c.req.header('sec-fetch-site');
    if (site === 'cross-site' || (origin !== undefined && origin !== 'null' && !allowed(c, origin))) {
      return c.text('Refused: this form was sent from another site.', 403);
    }
    if (origin === 'null' || (origin === undefined && referer !== undefined && !allowed(c, referer))) {
      return c.text('Refused: this form was sent from another site.', 403);
    }
    if (streamed.has(c.req.path) && (c.req.header('content-type') ?? '').startsWith('multipart/form-data') && !c.req.header('x-csrf-token')) {
      return next(); // the route checks the token (see streamedFormPaths)
    }
    const sent = await submittedToken(c);
    if (!sent || !sameToken(sent, token)) {
      return c.text('Refused: the form is out of date or was not sent by this site. Go back, reload the page and try again.', 403);
    }
    await next();
  };
}
