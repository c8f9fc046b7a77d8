import { randomUUID } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { Logger } from '../../observability/logger';

/**
 * One log line per request: a random request id (sent back as X-Request-Id, so a technician's report of a failed
 * page can be found), the method, the route pattern that answered (`/files/:id`, never the path itself: a search
 * query or a file name would put a patient in the log), the status and the time taken.
 */
export function logRequests(log: Logger): MiddlewareHandler {
  return async (c, next) => {
    const requestId = randomUUID();
    const started = performance.now();
    c.header('X-Request-Id', requestId);
    try {
      await next();
    } finally {
      log.info(
        { requestId, method: c.req.method, route: c.req.routePath, status: c.res.status, ms: Math.round(performance.now() - started) },
        'request',
      );
    }
  };
}
