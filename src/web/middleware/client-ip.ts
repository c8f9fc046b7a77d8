import type { MiddlewareHandler } from 'hono';
import type { BaseEnv } from '../context';

interface NodeBindings {
  incoming?: { socket?: { remoteAddress?: string } };
}

/**
 * The caller's address, for the login rate limit. X-Forwarded-For is only believed when the operator says a proxy
 * sets it (`trustProxy`); otherwise anyone could claim a fresh address for every guess.
 */
export function clientIp(options: { trustProxy: boolean }): MiddlewareHandler<BaseEnv> {
  return async function clientIp(c, next) {
    const forwarded = options.trustProxy ? c.req.header('x-forwarded-for')?.split(',')[0]?.trim() : undefined;
    const socket = (c.env as NodeBindings | undefined)?.incoming?.socket?.remoteAddress;
    c.set('clientIp', (forwarded || socket || 'unknown').slice(0, 64));
    await next();
  };
}
