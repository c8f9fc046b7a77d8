import { Hono } from 'hono';

export type HealthCheck = () => Promise<void>;

/**
 * `GET /health`: each dependency's check, run in parallel with a short timeout. The only route (with login, later)
 * that answers anonymously; it tells no more than up or down.
 */
export function createHealthRoutes(checks: Record<string, HealthCheck>) {
  return new Hono().get('/', async (c) => {
    const entries = await Promise.all(
      Object.entries(checks).map(async ([name, check]) => {
        const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 3000).unref());
        try {
          await Promise.race([check(), timeout]);
          return [name, 'up'] as const;
        } catch {
          return [name, 'down'] as const;
        }
      }),
    );
    const components = Object.fromEntries(entries);
    const healthy = entries.every(([, state]) => state === 'up');
    return c.json({ status: healthy ? 'ok' : 'degraded', components }, healthy ? 200 : 503);
  });
}
