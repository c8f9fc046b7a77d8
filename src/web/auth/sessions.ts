import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { User, WebSession } from '../../db/entities';
import type { IUser } from '../../db/entities/user';

export const SESSION_COOKIE = 'gr_session';
export const SESSION_LIFETIME_MS = 12 * 60 * 60 * 1000;
/** A session unused this long ends too (a lab PC left signed in); GETRESULTS_SESSION_IDLE_MINUTES. */
export const SESSION_IDLE_MS = 30 * 60 * 1000;
/** How stale `lastSeenAt` may get before a request writes it again: not a database write on every request. */
const LAST_SEEN_GRANULARITY_MS = 60 * 1000;

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * The CSRF token is derived from the session token, so it is bound to the session without being stored, changes with
 * every login, and cannot be computed by a page that does not hold the (HttpOnly) cookie.
 */
export function csrfTokenFor(sessionToken: string): string {
  return createHmac('sha256', sessionToken).update('getresults csrf v1').digest('base64url');
}

export function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export interface ActiveSession {
  token: string;
  user: IUser;
  expiresAt: Date;
}

export async function createSession(em: EntityManager, user: IUser, ip: string, now = new Date()): Promise<ActiveSession> {
  const token = randomBytes(32).toString('base64url');
  const expiresAt = new Date(now.getTime() + SESSION_LIFETIME_MS);
  em.create(WebSession, { tokenHash: hashToken(token), userId: user.id, createdAt: now, expiresAt, lastSeenAt: now, ip });
  // Housekeeping rides on logins: expired rows go, so the table stays the size of the signed-in population.
  await em.flush();
  await em.nativeDelete(WebSession, { expiresAt: { $lt: now } });
  return { token, user, expiresAt };
}

/**
 * The session for a cookie token, or undefined when unknown, expired, unused for `idleMs`, or its user is disabled or
 * gone. Finding it counts as using it, unless `use` is false: a page refreshing itself (src/web/live.ts) is not a
 * person at the PC, and must not keep a forgotten session open.
 */
export async function findSession(
  em: EntityManager,
  token: string,
  now = new Date(),
  idleMs = SESSION_IDLE_MS,
  use = true,
): Promise<ActiveSession | undefined> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return undefined;
  const session = await em.findOne(WebSession, {
    tokenHash: hashToken(token),
    expiresAt: { $gt: now },
    lastSeenAt: { $gt: new Date(now.getTime() - idleMs) },
  });
  if (!session) return undefined;
  if (use && now.getTime() - session.lastSeenAt.getTime() > LAST_SEEN_GRANULARITY_MS) {
    await em.nativeUpdate(WebSession, { tokenHash: session.tokenHash }, { lastSeenAt: now });
  }
  const user = await em.findOne(User, { id: session.userId, disabled: false });
  return user ? { token, user, expiresAt: session.expiresAt } : undefined;
}

export async function endSession(em: EntityManager, token: string): Promise<void> {
  await em.nativeDelete(WebSession, { tokenHash: hashToken(token) });
}

export async function endAllSessionsOf(em: EntityManager, userId: number): Promise<number> {
  return em.nativeDelete(WebSession, { userId });
}
