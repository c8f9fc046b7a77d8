import type { EntityManager } from '@mikro-orm/postgresql';
import { LoginFailure } from '../../db/entities';

export interface ThrottleOptions {
  maxFailures: number;
  windowMs: number;
}

export const DEFAULT_THROTTLE: ThrottleOptions = { maxFailures: 5, windowMs: 15 * 60 * 1000 };

/**
 * Refuses further tries for a (username, IP) pair after `maxFailures` refused logins within `windowMs`. Per pair, not
 * per username alone, so a stranger cannot lock a technician out by guessing wrong on purpose.
 */
export class LoginThrottle {
  constructor(
    private readonly em: EntityManager,
    private readonly options: ThrottleOptions = DEFAULT_THROTTLE,
  ) {}

  /** Milliseconds until the next try is allowed; 0 when allowed now. */
  async waitMs(username: string, ip: string, now = new Date()): Promise<number> {
    const since = new Date(now.getTime() - this.options.windowMs);
    const recent = await this.em.find(
      LoginFailure,
      { username, ip, at: { $gt: since } },
      { orderBy: { at: 'desc' }, limit: this.options.maxFailures, fields: ['at'] },
    );
    if (recent.length < this.options.maxFailures) return 0;
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
