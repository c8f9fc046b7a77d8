import type { IdentifierPatterns } from '../domain/identifier-patterns';
import { randomBytes } from 'node:crypto';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { NONCE, secureHeaders } from 'hono/secure-headers';
import type { Logger } from '../observability/logger';
import { logRequests } from './middleware/request-log';
import type { Orm } from '../db/orm';
import type { FileHost } from '../labs/upload-hosts';
import type { UploadPlacement } from './uploads/upload-placement';
import { createOpsRoutes, type OpsRouteDeps } from '../observability/ops-routes';
import type { ResultWorkflows } from '../temporal/result-workflows';
import type { ThrottleOptions } from './auth/login-throttle';
import type { BaseEnv } from './context';
import { createHealthMonitor, createHealthRoutes, type HealthCheck } from './health';
import { clientIp } from './middleware/client-ip';
import { csrfProtection } from './middleware/csrf';
import { requestEntityManager } from './middleware/request-em';
import { loadSession, requireAdmin, requireLogin } from './middleware/session';
import { createAuthRoutes } from './routes/auth';
import { createCodecRoutes, type CodecRouteDeps } from './routes/codec';
import { createDashboardRoutes } from './routes/dashboard';
import { createFileRoutes } from './routes/files';
import { createFolderRoutes } from './routes/folders';
import { createPendingRoutes } from './routes/pending';
import { createSecurityRoutes } from './routes/security';
import { createLiveRoutes } from './live';
import { createReportCsvRoute, createReportRoutes } from './routes/report';
import { createReceiptRoutes } from './routes/receipts';
import { boundUploads, createUploadRoutes } from './routes/upload';
import { html } from './views/html';
import { createLayout, type RenderPage } from './views/layout';

export interface WebDeps {
  healthChecks: Record<string, HealthCheck>;
  orm: Orm;
  /** The watched upload folder: uploads are written here, atomically. */
  uploadDir: string;
  /** Largest single PDF accepted (config.maxFileBytes). */
  maxFileBytes: number;
  /** Largest upload request (several files at once); default 5 × maxFileBytes. */
  maxUploadBytes?: number;
  /** Upload requests received at once; default 4 (GETRESULTS_WEB_MAX_CONCURRENT_UPLOADS). */
  maxConcurrentUploads?: number;
  /** Absent when no Temporal address is configured: retry is then unavailable, everything else works. */
  workflows?: ResultWorkflows;
  temporalNamespace: string;
  /** Base URL of the Temporal UI, for the header link and each file's workflow link. */
  temporalUiUrl?: string;
  /**
   * Task queue of this web process's own upload host (fileTaskQueueFor(config.hostId)), for files received before
   * hosts were recorded (migration 0011): their archive is taken to be here. A file that records its host is resent
   * and withdrawn on that host's queue. Absent: Resend says it is unavailable for such old files.
   */
  fileTaskQueue?: string;
  /** The upload host whose folder `uploadDir` is: web uploads become its lab's files, and its archive is on this disk. */
  uploadHost?: FileHost;
  /** Where uploads go instead of `uploadDir`, when GETRESULTS_WEB_UPLOAD_HOST names another host (upload-placement.ts). */
  uploadPlacement?: UploadPlacement;
  /**
   * Folders PDFs may be served from (archive, rejected, duplicates). A path recorded in the database outside them is
   * refused: a defence in depth should a row ever be written wrongly.
   */
  pdfRoots: string[];
  /** The lab's naming styles: a rejected file's page says what its name claims, in the styles' words. */
  patterns?: IdentifierPatterns;
  /** Believe X-Forwarded-For/-Proto (only behind a reverse proxy that sets them). */
  trustProxy?: boolean;
  /** The site's public origin when a proxy rewrites Host (e.g. https://results.lab.example). */
  publicOrigin?: string;
  loginThrottle?: Partial<ThrottleOptions>;
  /** A session unused this long ends (default SESSION_IDLE_MS, 30 minutes). */
  sessionIdleMs?: number;
  /** The Temporal codec endpoint at /codec (present when this process has the payload keys). */
  codec?: CodecRouteDeps;
  /** /healthz, /readyz and /metrics, answered before the login gate (src/observability/ops-routes.ts). */
  ops?: OpsRouteDeps;
  /** Log each request (its id, route pattern, status, time; never its path or query, which may name a patient). */
  requestLog?: Logger;
}

const PUBLIC_PATHS = ['/login', '/health'];
const FORM_LIMIT_BYTES = 2 * 1024 * 1024;

function errorPage(renderPage: RenderPage, c: Context<BaseEnv>, status: 400 | 403 | 404 | 413 | 500, title: string, message: string) {
  // Errors before the session is known still get a page, without header links.
  return renderPage(c, { title, status, body: html`<h1>${title}</h1><p>${message}</p><p><a href="/">Back to the dashboard</a></p>` });
}

/** Uploads may be large; every other form is small, and refusing early keeps a stray huge POST from being buffered. */
function bodyLimits(options: { uploadBytes: number; renderPage: RenderPage }): MiddlewareHandler<BaseEnv> {
  const tooLarge = (limit: number) => (c: Context<BaseEnv>) =>
    errorPage(
      options.renderPage,
      c,
      413,
      'Upload too large',
      `Nothing was saved: the upload is over ${Math.floor(limit / 1024 / 1024)} MiB. Send fewer or smaller files at once.`,
    );
  const form = bodyLimit({ maxSize: FORM_LIMIT_BYTES, onError: tooLarge(FORM_LIMIT_BYTES) });
  return async function bodyLimits(c, next) {
    if (c.req.path !== '/upload') return form(c, next);
    // The upload route counts the bytes as they stream to disk and stops at the limit; a declared length over it is
    // refused before a byte is read. (Hono's bodyLimit would buffer a body sent without a length.)
    const declared = Number(c.req.header('content-length') ?? NaN);
    if (declared > options.uploadBytes) return tooLarge(options.uploadBytes)(c);
    return next();
  };
}

/**
 * The technicians' web page. Order matters: security headers, size limits and the per-request EntityManager first,
 * then the session, the login gate (anonymous callers never get a body parsed), then CSRF checks on every POST.
 */
export function createWebApp(deps: WebDeps) {
  const trustProxy = deps.trustProxy ?? false;
  const health = createHealthMonitor(deps.healthChecks);
  const renderPage = createLayout({ temporalUiUrl: deps.temporalUiUrl, health });
  const app = new Hono<BaseEnv>();

  if (deps.requestLog) app.use('*', logRequests(deps.requestLog));
  app.use(
    '*',
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        scriptSrc: [NONCE],
        styleSrc: [NONCE],
        imgSrc: ["'self'", 'data:'],
        frameSrc: ["'self'"],
        objectSrc: ["'none'"],
        frameAncestors: ["'self'"],
        formAction: ["'self'"],
        baseUri: ["'none'"],
      },
      referrerPolicy: 'same-origin',
    }),
  );
  // No page of ours may come back from the browser's cache or a proxy's: after Sign out, Back must show the login page,
  // not a file list from a shared lab PC's cache. Responses that chose their own policy (a PDF) keep it.
  app.use('*', async (c, next) => {
    await next();
    if (!c.res.headers.has('Cache-Control')) c.res.headers.set('Cache-Control', 'no-store');
  });
  app.route('/health', createHealthRoutes(deps.healthChecks));
  if (deps.ops) app.route('/', createOpsRoutes(deps.ops));
  // Before anything reads the body: beyond the bound an upload is turned away unread.
  app.use('/upload', boundUploads(deps.maxConcurrentUploads ?? 4, renderPage));
  app.use('*', bodyLimits({ uploadBytes: deps.maxUploadBytes ?? deps.maxFileBytes * 5, renderPage }));
  app.use('*', requestEntityManager({ orm: deps.orm }));
  app.use('*', clientIp({ trustProxy }));
  app.use('*', loadSession({ idleMs: deps.sessionIdleMs }));
  // Before the login gate and CSRF checks: the codec answers CORS preflights and does its own session-or-token check.
  if (deps.codec) app.route('/codec', createCodecRoutes(deps.codec));
  app.use('*', requireLogin({ publicPaths: PUBLIC_PATHS }));
  app.use('*', csrfProtection({ trustProxy, publicOrigin: deps.publicOrigin, streamedFormPaths: ['/upload'] }));
  app.use('/folders/*', requireAdmin());
  app.use('/folders', requireAdmin());
  app.use('/security', requireAdmin());

  app.route('/', createAuthRoutes({ renderPage, trustProxy, throttle: deps.loginThrottle }));
  app.route('/', createDashboardRoutes({ renderPage }));
  app.route('/files', createFileRoutes({ renderPage, ...deps }));
  app.route('/pending', createPendingRoutes({ renderPage, uploadDir: deps.uploadDir, workflows: deps.workflows }));
  app.route('/receipts', createReceiptRoutes({ renderPage }));
  app.route('/report', createReportRoutes({ renderPage }));
  app.route('/live', createLiveRoutes());
  app.route('/report.csv', createReportCsvRoute());
  app.route('/upload', createUploadRoutes({ renderPage, ...deps }));
  app.route('/folders', createFolderRoutes({ renderPage, workflows: deps.workflows }));
  app.route('/security', createSecurityRoutes({ renderPage }));

  app.notFound((c) => errorPage(renderPage, c, 404, 'Not found', 'There is no such page or file.'));
  app.onError((err, c) => {
    if (err instanceof HTTPException) {
      if (err.status === 400 || err.status === 403 || err.status === 404 || err.status === 413) {
        return errorPage(renderPage, c, err.status, err.status === 404 ? 'Not found' : 'Request refused', err.message);
      }
      return err.getResponse();
    }
    // The log gets the error's kind and a request id, never its message or the URL: a database error's message holds
    // the statement with its values (identifiers, file names), and a URL may carry a search with a newline in it.
    const requestId = randomBytes(6).toString('hex');
    const { code: rawCode } = err as { code?: unknown };
    const code = typeof rawCode === 'string' && /^\w{1,12}$/.test(rawCode) ? ` (code ${rawCode})` : '';
    process.stderr.write(`${new Date().toISOString()} web: request ${requestId} ${c.req.method} ${c.req.routePath} failed: ${err.name}${code}\n`);
    return errorPage(renderPage, c, 500, 'Something went wrong', `The error was logged as request ${requestId}. Try again; if it persists, tell an operator that number.`);
  });
  return app;
}

