import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { Hono, type Context } from 'hono';
import { cors } from 'hono/cors';
import type { BaseEnv } from '../context';

/**
 * The codec server Temporal's UI and CLI call to show our encrypted payloads decoded (POST /encode and /decode with
 * `{"payloads": [...]}`, payloads in proto JSON: metadata values and data in base64). Only for a signed-in user of this
 * web page (the UI sends the session cookie when "include credentials" is on) or a holder of a codec token; the
 * Temporal UI's origin is allowed cross-origin, with credentials.
 *
 * Encoding is for admins only: an encrypted payload is what the workflows take as a message from a getresults
 * process (a clear one they record and ignore), so a technician's session or a codec token may read payloads but not
 * make them. The workflows still check every message they get (src/workflows/untrusted-messages.ts).
 */
export interface CodecRouteDeps {
  codec: PayloadCodec;
  /** Our Temporal namespace: a request naming another (X-Namespace) is refused. */
  namespace: string;
  /** Browser origins allowed to call it: the Temporal UI's. */
  allowedOrigins: string[];
  /** Bearer tokens accepted besides a session (GETRESULTS_CODEC_TOKEN_FILE). */
  tokens?: string[];
  /**
   * Whether the deployment serves more than one lab. Payloads carry file names and paths of every lab, so then only an
   * admin of the whole deployment (or a token) may use the codec. Absent: one lab.
   */
  severalLabs?: () => Promise<boolean>;
}

interface JsonPayload {
  metadata?: Record<string, string> | null;
  data?: string | null;
}

/** One token a line; blank lines and `#` comments skipped. */
export function readCodecTokens(file: string): string[] {
  let content: string;
  try {
    content = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`GETRESULTS_CODEC_TOKEN_FILE ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}).`);
  }
  const tokens = content.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  if (tokens.some((t) => t.length < 24)) throw new Error(`GETRESULTS_CODEC_TOKEN_FILE ${file}: every token must be at least 24 characters.`);
  return tokens;
}

const digest = (value: string) => createHash('sha256').update(value).digest();

function fromJson(payload: JsonPayload): Payload {
  if (typeof payload !== 'object' || payload === null) throw new Error('each payload must be an object');
  const metadata: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(payload.metadata ?? {})) {
    if (typeof v !== 'string') throw new Error('metadata values must be base64 strings');
    metadata[k] = Buffer.from(v, 'base64');
  }
  return { metadata, data: payload.data ? Buffer.from(payload.data, 'base64') : undefined };
}

function toJson(payload: Payload): JsonPayload {
  return {
    metadata: Object.fromEntries(Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
    data: payload.data ? Buffer.from(payload.data).toString('base64') : undefined,
  };
}

export function createCodecRoutes(deps: CodecRouteDeps) {
  const tokenDigests = (deps.tokens ?? []).map(digest);
  const allowed = new Set(deps.allowedOrigins);
  const app = new Hono<BaseEnv>();

  const hasToken = (c: Context<BaseEnv>) => {
    const match = /^Bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '');
    if (!match) return false;
    const sent = digest(match[1]!);
    return tokenDigests.some((t) => timingSafeEqual(t, sent));
  };

  app.use(
    '*',
    cors({
      origin: (origin) => (allowed.has(origin) ? origin : null),
      allowMethods: ['POST', 'OPTIONS'],
      allowHeaders: ['Content-Type', 'X-Namespace', 'Authorization'],
      credentials: true,
      maxAge: 600,
    }),
  );

  const handle = (operation: 'encode' | 'decode') => async (c: Context<BaseEnv>) => {
    const session = c.get('session');
    if (!session && !hasToken(c)) return c.json({ error: 'Sign in to the getresults web page, or send a codec token.' }, 401);
    // Payloads carry file names and paths of every lab; a user of one lab must not read another's through the codec.
    if (session && session.user.labId !== null && !hasToken(c) && (await deps.severalLabs?.())) {
      return c.json({ error: 'The codec decodes payloads of every lab: only an admin of the whole deployment (or a codec token) may use it.' }, 403);
    }
    if (operation === 'encode' && session?.user.role !== 'admin') {
      return c.json({ error: 'Only an admin signed in to the getresults web page may encode payloads; a codec token decodes only.' }, 403);
    }
    // A session cookie alone must not let another site use the codec: only our own pages and the Temporal UI may.
    const origin = c.req.header('origin');
    if (origin && origin !== new URL(c.req.url).origin && !allowed.has(origin)) {
      return c.json({ error: `Origin ${origin} may not use the codec.` }, 403);
    }
    const namespace = c.req.header('x-namespace');
    if (namespace && namespace !== deps.namespace) return c.json({ error: `This codec serves namespace ${deps.namespace} only.` }, 403);
    if (!(c.req.header('content-type') ?? '').startsWith('application/json')) return c.json({ error: 'Send application/json.' }, 415);
    let payloads: Payload[];
    try {
      const body = (await c.req.json()) as { payloads?: unknown };
      if (!Array.isArray(body.payloads)) throw new Error('expected {"payloads": [...]}');
      payloads = (body.payloads as JsonPayload[]).map(fromJson);
    } catch (err) {
      return c.json({ error: `Bad request: ${(err as Error).message}` }, 400);
    }
    try {
      const result = operation === 'encode' ? await deps.codec.encode(payloads) : await deps.codec.decode(payloads);
      return c.json({ payloads: result.map(toJson) });
    } catch (err) {
      // Codec errors name key ids only, never content.
      return c.json({ error: (err as Error).message }, 400);
    }
  };

  app.post('/encode', handle('encode'));
  app.post('/decode', handle('decode'));
  return app;
}
