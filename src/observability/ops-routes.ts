import { timingSafeEqual } from 'node:crypto';
import { Hono } from 'hono';
import { runHealthChecks, type HealthCheck } from '../web/health';
import { metricsText, type ProcessMetrics } from './metrics';

export interface OpsRouteDeps {
  /** What the process depends on (database, Temporal, server B's SSH for a file worker): /readyz runs each. */
  readiness: Record<string, HealthCheck>;
  metrics: ProcessMetrics;
  /** The Temporal SDK's Prometheus exporter of this process, when it runs workers. */
  sdkMetricsUrl?: string;
  /**
   * Bearer tokens that may read /metrics (GETRESULTS_METRICS_TOKEN_FILE). Without any, only a client on this machine
   * (loopback) may: counts by lab and state are no patient data, but they are the lab's business.
   */
  metricsTokens?: readonly string[];
  /**
   * The port is reached through a reverse proxy on this machine (GETRESULTS_TRUST_PROXY): every client then arrives
   * from loopback, so loopback proves nothing and /metrics needs a token.
   */
  behindProxy?: boolean;
}

interface NodeBindings {
  incoming?: { socket?: { remoteAddress?: string } };
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/;

function holdsToken(header: string | undefined, tokens: readonly string[]): boolean {
  const presented = Buffer.from(/^Bearer (.+)$/.exec(header ?? '')?.[1] ?? '');
  return tokens.some((t) => {
    const expected = Buffer.from(t);
    return expected.length === presented.length && timingSafeEqual(expected, presented);
  });
}

/**
 * `/healthz` (the process is alive: answers without asking anything), `/readyz` (what it depends on answers: 503 and
 * the one that does not, by name only) and `/metrics` (Prometheus text). No login, and nothing of a patient in any of
 * them. Served on the web port by `start` and `web`, and on GETRESULTS_METRICS_PORT by `worker` and `watch`.
 */
export function createOpsRoutes(deps: OpsRouteDeps) {
  const app = new Hono<{ Bindings: NodeBindings }>();
  app.get('/healthz', (c) => c.json({ status: 'alive' }));
  app.get('/readyz', async (c) => {
    const { healthy, components } = await runHealthChecks(deps.readiness);
    return c.json({ status: healthy ? 'ready' : 'not ready', components }, healthy ? 200 : 503);
  });
  app.get('/metrics', async (c) => {
    const tokens = deps.metricsTokens ?? [];
    const allowed = tokens.length
      ? holdsToken(c.req.header('authorization'), tokens)
      : !deps.behindProxy && LOOPBACK.test(c.env?.incoming?.socket?.remoteAddress ?? '');
    if (!allowed) {
      return c.text(
        tokens.length
          ? 'A bearer token from GETRESULTS_METRICS_TOKEN_FILE is needed.\n'
          : deps.behindProxy
            ? 'Behind a reverse proxy (GETRESULTS_TRUST_PROXY), metrics need a bearer token: set GETRESULTS_METRICS_TOKEN_FILE.\n'
            : 'Metrics are served to this machine only (set GETRESULTS_METRICS_TOKEN_FILE to let Prometheus in from elsewhere).\n',
        403,
      );
    }
    return c.body(await metricsText(deps.metrics, deps.sdkMetricsUrl), 200, { 'Content-Type': deps.metrics.registry.contentType });
  });
  return app;
}

