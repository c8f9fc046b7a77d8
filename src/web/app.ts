import { Hono } from 'hono';
import { secureHeaders } from 'hono/secure-headers';
import { createHealthRoutes, type HealthCheck } from './health';

export interface WebDeps {
  healthChecks: Record<string, HealthCheck>;
}

export function createWebApp(deps: WebDeps) {
  const app = new Hono();
  app.use('*', secureHeaders());
  app.route('/health', createHealthRoutes(deps.healthChecks));
  app.get('/', (c) =>
    c.text('getresults-distribute is running. The technicians\' page is not built yet; operators can use the Temporal UI.'),
  );
  return app;
}
