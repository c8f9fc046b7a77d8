import { readFileSync } from 'node:fs';
import net from 'node:net';
import { serve } from '@hono/node-server';
import type { Config } from '../config/config';
import { createOpsRoutes, type OpsRouteDeps } from './ops-routes';

/** The bearer tokens of GETRESULTS_METRICS_TOKEN_FILE, one per line (blank lines and # comments skipped). */
export function readMetricsTokens(file: string | undefined): string[] | undefined {
  if (!file) return undefined;
  const tokens = readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  if (!tokens.length) throw new Error(`GETRESULTS_METRICS_TOKEN_FILE (${file}) holds no token.`);
  return tokens;
}

/** A loopback port nothing listens on now, for the Temporal SDK's metrics exporter (which only we read). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * /healthz, /readyz and /metrics on GETRESULTS_METRICS_PORT, for a process without a web page (worker, watch).
 * Resolves to its URL, and to a stop function; undefined when no port is set.
 */
export async function serveOps(config: Config['ops'], deps: Omit<OpsRouteDeps, 'metricsTokens'>): Promise<{ url: string; stop(): Promise<void> } | undefined> {
  if (config.port === undefined) return undefined;
  const app = createOpsRoutes({ ...deps, metricsTokens: readMetricsTokens(config.tokenFile) });
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, () => resolve(s));
    s.once('error', (err: NodeJS.ErrnoException) => reject(new Error(`/metrics cannot listen on ${config.host}:${config.port} (${err.code}); set GETRESULTS_METRICS_PORT.`)));
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  return {
    url: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
