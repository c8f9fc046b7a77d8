import type { EntityManager } from '@mikro-orm/postgresql';
import { LoginFailure } from '../../db/entities';

export interface ThrottleOptions {
  /** Wrong passwords for one user name from one address. */
  maxFailures: number;
  /** Wrong passwords from one address, whatever the user names (password spraying; a shared lab PC's typos count). */
  maxFailuresPerAddress: number;
  windowMs: number;
}

export const DEFAULT_THROTTLE: ThrottleOptions = { maxFailures: 5, maxFailuresPerAddress: 10, windowMs: 15 * 60 * 1000 };

/** Which limit holds a login back, and for how long. */
export interface ThrottleWait {
  ms: number;
  by: 'user-and-address' | 'address';
}

/**
 * Refuses further tries after too many refused logins within `windowMs`: for a (username, IP) pair after
 * `maxFailures`, so a stranger cannot lock a technician out by guessing wrong on purpose from elsewhere; and for an IP
 * after `maxFailuresPerAddress` across user names, so one machine cannot try a password on every account.
 */
export class LoginThrottle {
  private readonly options: ThrottleOptions;

  constructor(
    private readonly em: EntityManager,
    options: Partial<ThrottleOptions> = {},
  ) {
    this.options = { ...DEFAULT_THROTTLE, ...options };
  }

  /** How long until the next try is allowed (ms 0: now), and which limit holds it back. */
  async wait(username: string, ip: string, now = new Date()): Promise<ThrottleWait> {
    const pair = await this.waitFor({ username, ip }, this.options.maxFailures, now);
    const address = await this.waitFor({ ip }, this.options.maxFailuresPerAddress, now);
    return address > pair ? { ms: address, by: 'address' } : { ms: pair, by: 'user-and-address' };
  }

  /** Milliseconds until the next try is allowed; 0 when allowed now. */
  async waitMs(username: string, ip: string, now = new Date()): Promise<number> {
    return (await this.wait(username, ip, now)).ms;
  }

  private async waitFor(where: { username?: string; ip: string }, max: number, now: Date): Promise<number> {
    const since = new Date(now.getTime() - this.options.windowMs);
    const recent = await this.em.find(LoginFailure, { ...where, at: { $gt: since } }, { orderBy: { at: 'desc' }, limit: max, fields: ['at'] });
    if (recent.length < max) return 0;
    const oldestCounted = recent[recent.length - 1]!.at;
    return Math.max(0, oldestCounted.getTime() + this.options.windowMs - now.getTime());
  }

  async recordFailure(username: string, ip: string, now = new Date()): Promise<void> {
    this.em.create(LoginFailure, { username, ip, at: now });
    await this.em.flush();
  }

  /** A successful login forgives the pair's earlier mistakes. */
  async clear(username: string, ip: string): Promise<void> {
    await this.em.nativeDelete(LoginFailure, { username, ip });
  }
}
