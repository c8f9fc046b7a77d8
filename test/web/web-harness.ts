import { SEED_PATTERNS } from '../../src/config/patterns';
import { IdentifierPatterns } from '../../src/domain/identifier-patterns';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileLedger } from '../../src/db/file-ledger';
import { migrate, openOrm, type Orm } from '../../src/db/orm';
import type { FileState } from '../../src/domain/file-state';
import { addUser } from '../../src/web/auth/users';
import { createWebApp, type WebDeps } from '../../src/web/app';
import { createTestDatabase, type TestDatabase } from '../harness/database';

export const ORIGIN = 'http://gr.test';
export const PASSWORD = 'correct horse battery';

export interface WebTestEnv {
  db: TestDatabase;
  orm: Orm;
  dataDir: string;
  uploadDir: string;
  archiveDir: string;
  app: ReturnType<typeof createWebApp>;
  close(): Promise<void>;
}

/** A migrated throwaway database, folders of its own, two users (admin `ada`, technician `tom`) and the web app. */
export async function startWebTestEnv(overrides: Partial<WebDeps> = {}): Promise<WebTestEnv> {
  const db = await createTestDatabase();
  const orm = await openOrm(db.url);
  await migrate(orm);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'gr-web-'));
  const uploadDir = path.join(dataDir, 'upload');
  const archiveDir = path.join(dataDir, 'archive');
  mkdirSync(uploadDir);
  mkdirSync(archiveDir);
  await addUser(orm.em.fork(), 'ada', PASSWORD, 'admin');
  await addUser(orm.em.fork(), 'tom', PASSWORD, 'technician');
  const app = createWebApp({
    healthChecks: { database: async () => void (await orm.em.fork().getConnection().execute('select 1')) },
    orm,
    uploadDir,
    maxFileBytes: 1024 * 1024,
    temporalNamespace: 'default',
    temporalUiUrl: 'http://temporal-ui.test:8233',
    pdfRoots: [archiveDir],
    patterns: new IdentifierPatterns(SEED_PATTERNS),
    ...overrides,
  });
  return {
    db,
    orm,
    dataDir,
    uploadDir,
    archiveDir,
    app,
    async close() {
      await orm.close();
      await db.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** What TestBrowser sends its requests to: the app in this process (`app.request`), or a real server through fetch. */
export interface RequestTarget {
  request(url: string, init: RequestInit): Response | Promise<Response>;
}

/** A web page served by another process, for a TestBrowser given its origin. */
export const OVER_HTTP: RequestTarget = { request: (url, init) => fetch(url, init) };

/**
 * A browser-like client for `app.request` (or a real server, OVER_HTTP): keeps cookies, sends Origin on POSTs, reads
 * CSRF tokens from pages.
 */
export class TestBrowser {
  readonly cookies = new Map<string, string>();
  csrf = '';

  constructor(
    private readonly app: RequestTarget,
    private readonly headers: Record<string, string> = {},
    private readonly origin = ORIGIN,
  ) {}

  async request(url: string, init: RequestInit & { html?: boolean; noOrigin?: boolean } = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    for (const [k, v] of Object.entries(this.headers)) if (!headers.has(k)) headers.set(k, v);
    if (init.html !== false && !headers.has('accept')) headers.set('accept', 'text/html');
    if (this.cookies.size) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    if (init.method === 'POST' && !init.noOrigin && !headers.has('origin')) headers.set('origin', this.origin);
    const res = await this.app.request(new URL(url, this.origin).toString(), { ...init, headers });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const [name, value] = pair!.split('=') as [string, string];
      if (/max-age=0/i.test(line) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const type = res.headers.get('content-type') ?? '';
    if (type.startsWith('text/html')) {
      const text = await res.clone().text();
      const m = /name="_csrf" value="([^"]+)"/.exec(text);
      if (m) this.csrf = m[1]!;
    }
    return res;
  }

  form(url: string, fields: Record<string, string | string[]>, extra: RequestInit = {}): Promise<Response> {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(fields)) for (const one of ([] as string[]).concat(v)) body.append(k, one);
    return this.request(url, { method: 'POST', body, redirect: 'manual', ...extra });
  }

  async login(username: string, password = PASSWORD): Promise<Response> {
    await this.request('/login');
    return this.form('/login', { _csrf: this.csrf, username, password, next: '/' });
  }
}

let runCounter = 0;

/** A result_file row (through the ledger, as the workflow writes it), then moved to `state` with `patch`. */
export async function seedFile(
  orm: Orm,
  input: { fileName: string; sha256?: string; state?: FileState; identifier?: string; archivePath?: string | null; clinicFolder?: string; uploadedAt?: Date },
): Promise<number> {
  const em = orm.em.fork();
  const ledger = new FileLedger(em);
  const n = ++runCounter;
  const sha256 = input.sha256 ?? `${n}`.padStart(64, 'a');
  const { resultFileId } = await ledger.register({
    workflowId: `file-${sha256}`,
    runId: `run-${n}-${Date.now()}`,
    fileName: input.fileName,
    uploadPath: `/nowhere/${input.fileName}`,
    sizeBytes: 1234,
    sha256,
    uploadedAt: input.uploadedAt ?? new Date(),
  });
  if (input.state && input.state !== 'RECEIVED') {
    await ledger.transition(
      resultFileId,
      input.state,
      { eventKey: `seed:${n}`, type: input.state, message: `Seeded as ${input.state}.` },
      {
        identifier: input.identifier ?? null,
        archivePath: input.archivePath ?? null,
        clinicFolder: input.clinicFolder ?? null,
        ...(input.state === 'ACKNOWLEDGED' ? { acknowledgedAt: new Date(), sentAt: new Date() } : {}),
        ...(input.state === 'AWAITING_ACK' || input.state === 'SENT' ? { sentAt: new Date() } : {}),
      },
    );
  } else if (input.identifier || input.archivePath) {
    await ledger.transition(resultFileId, null, { eventKey: `seed:${n}`, type: 'NOTE', message: 'seed' }, {
      identifier: input.identifier ?? null,
      archivePath: input.archivePath ?? null,
    });
  }
  return resultFileId;
}
