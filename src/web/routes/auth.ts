import { Hono } from 'hono';
import { getCookie } from 'hono/cookie';
import { LoginThrottle, type ThrottleOptions } from '../auth/login-throttle';
import { normaliseUsername } from '../auth/passwords';
import { SESSION_COOKIE, createSession, endSession } from '../auth/sessions';
import { authenticate } from '../auth/users';
import type { BaseEnv } from '../context';
import { clearSessionCookie, setSessionCookie } from '../middleware/session';
import { html } from '../views/html';
import { csrfField, flash, type RenderPage } from '../views/layout';

export interface AuthRouteDeps {
  renderPage: RenderPage;
  trustProxy: boolean;
  throttle?: Partial<ThrottleOptions>;
}

/**
 * Where to go after signing in: a path on this site, or `/`. Browsers drop tabs and newlines from URLs and read a
 * backslash as a slash, so `/\t/evil.example` or `/\\evil.example` would leave the site: a value with a control
 * character or a backslash is refused, and so is a path holding an encoded slash, backslash or control character, or
 * anything that does not resolve to a path on this origin.
 */
export function safeNext(value: unknown): string {
  if (typeof value !== 'string' || value.length > 2000) return '/';
  if (/[\u0000-\u001f\u007f\\]/.test(value)) return '/';
  // Encoded, in the path: a slash or backslash some server or proxy may decode, or a control character.
  if (/%(2f|5c|[01][0-9a-f]|7f)/i.test(value.split(/[?#]/)[0] ?? '')) return '/';
  if (!value.startsWith('/') || value.startsWith('//')) return '/';
  const base = 'http://this.invalid';
  let url: URL;
  try {
    url = new URL(value, base);
  } catch {
    return '/';
  }
  return url.origin === base ? `${url.pathname}${url.search}${url.hash}` : '/';
}

/** `/login` and `/logout`. */
export function createAuthRoutes(deps: AuthRouteDeps) {
  const app = new Hono<BaseEnv>();

  const form = (c: Parameters<RenderPage>[0], opts: { next: string; username?: string; message?: string; status?: 200 | 401 | 429 }) =>
    deps.renderPage(c, {
      title: 'Sign in',
      status: opts.status,
      body: html`<div class="card">
  <h1>Sign in</h1>
  ${opts.message ? flash('bad', opts.message) : ''}
  <form method="post" action="/login">
    ${csrfField(c)}<input type="hidden" name="next" value="${opts.next}">
    <p><label>Username<br><input type="text" name="username" value="${opts.username ?? ''}" autocomplete="username" required autofocus></label></p>
    <p><label>Password<br><input type="password" name="password" autocomplete="current-password" required></label></p>
    <p><button class="primary" type="submit">Sign in</button></p>
  </form>
  <p class="muted small">Accounts are made by an administrator with <code>getresults users add</code>.</p>
</div>`,
    });

  app.get('/login', (c) => {
    if (c.get('session')) return c.redirect(safeNext(c.req.query('next')), 302);
    return form(c, { next: safeNext(c.req.query('next')) });
  });

  app.post('/login', async (c) => {
    const body = await c.req.parseBody();
    const username = normaliseUsername(typeof body.username === 'string' ? body.username : '').slice(0, 64);
    const password = typeof body.password === 'string' ? body.password : '';
    const next = safeNext(body.next);
    const em = c.get('em');
    const ip = c.get('clientIp');
    const throttle = new LoginThrottle(em, deps.throttle);
    const wait = await throttle.wait(username, ip);
    if (wait.ms > 0) {
      const minutes = Math.ceil(wait.ms / 60_000);
      const when = `Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`;
      c.header('Retry-After', String(Math.ceil(wait.ms / 1000)));
      const message =
        wait.by === 'address'
          ? `Too many wrong passwords from this computer, for any user name. ${when}`
          : `Too many wrong passwords. ${when}`;
      return form(c, { next, username, status: 429, message });
    }
    const user = await authenticate(em, username, password);
    if (!user) {
      await throttle.recordFailure(username, ip);
      // One message for unknown user, wrong password and disabled account: the form does not confirm usernames.
      return form(c, { next, username, status: 401, message: 'Wrong username or password.' });
    }
    await throttle.clear(username, ip);
    const old = getCookie(c, SESSION_COOKIE);
    if (old) await endSession(em, old); // a fresh token at every login: a planted cookie cannot become a session
    setSessionCookie(c, await createSession(em, user, ip), deps.trustProxy);
    return c.redirect(next, 303);
  });

  app.post('/logout', async (c) => {
    const session = c.get('session');
    if (session) await endSession(c.get('em'), session.token);
    clearSessionCookie(c);
    return c.redirect('/login', 303);
  });

  return app;
}
