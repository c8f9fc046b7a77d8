import type { MiddlewareHandler } from 'hono';
import type { Orm } from '../../db/orm';
import type { BaseEnv } from '../context';

/** One EntityManager fork per request: the ORM's identity map must not be shared between requests. */
export function requestEntityManager(options: { orm: Orm }): MiddlewareHandler<BaseEnv> {
  return async function requestEntityManager(c, next) {
    c.set('em', options.orm.em.fork());
    await next();
  };
}
