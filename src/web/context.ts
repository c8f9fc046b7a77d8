import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { ActiveSession } from './auth/sessions';

/** Variables every request carries once the app-level middleware has run. */
export interface BaseVariables {
  /** Forked per request: entities never leak between requests or users. */
  em: EntityManager;
  session: ActiveSession | undefined;
  /** Token the page's forms must send back (bound to the session, or to the pre-login cookie on /login). */
  csrfToken: string;
  clientIp: string;
  /** Set by secureHeaders: inline <style>/<script> carry it, so the CSP can forbid every other inline code. */
  secureHeadersNonce?: string;
}

export type BaseEnv = { Variables: BaseVariables };

/**
 * The signed-in session, for routes mounted behind `requireLogin`. Reaching one without a session is a wiring bug,
 * answered with 401 rather than trusted.
 */
export function signedIn(c: Context<BaseEnv>): ActiveSession {
  const session = c.get('session');
  if (!session) throw new HTTPException(401, { message: 'Sign in first.' });
  return session;
}
