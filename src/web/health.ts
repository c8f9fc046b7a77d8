import { Hono } from 'hono';

export type HealthCheck = () => Promise<void>;

export interface HealthReport {
  healthy: boolean;
  components: Record<string, 'up' | 'down'>;
  checkedAt: Date;
}

/** Runs each dependency's check in parallel with a short timeout. */
export async function runHealthChecks(checks: Record<string, HealthCheck>): Promise<HealthReport> {
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
  return { healthy: entries.every(([, state]) => state === 'up'), components: Object.fromEntries(entries), checkedAt: new Date() };
}

export interface HealthMonitor {
  current(): Promise<HealthReport>;
}

/** The page footer shows health on every page: a short cache keeps that from costing a check per page view. */
export function createHealthMonitor(checks: Record<string, HealthCheck>, maxAgeMs = 10_000): HealthMonitor {
  let last: { at: number; report: Promise<HealthReport> } | undefined;
  return {
    current() {
      if (!last || Date.now() - last.at > maxAgeMs) last = { at: Date.now(), report: runHealthChecks(checks) };
      return last.report;
    },
  };
}

/**
 * `GET /health`: each dependency's check, uncached. With /login, the only route that answers anonymously; it tells
 * no more than up or down.
 */
export function createHealthRoutes(checks: Record<string, HealthCheck>) {
  return new Hono().get('/', async (c) => {
    const { healthy, components } = await runHealthChecks(checks);
    return c.json({ status: healthy ? 'ok' : 'degraded', components }, healthy ? 200 : 503);
  });
}
