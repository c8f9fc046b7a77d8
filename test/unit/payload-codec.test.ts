import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DefaultFailureConverter, ApplicationFailure, defaultPayloadConverter, type Payload } from '@temporalio/common';
import { Hono } from 'hono';
import { loadConfig } from '../../src/config/config';
import type { ActiveSession } from '../../src/web/auth/sessions';
import type { BaseEnv } from '../../src/web/context';
import { createCodecRoutes } from '../../src/web/routes/codec';
import { failureConverter } from '../../src/temporal/data-converter';
import { UNENCRYPTED_PAYLOAD_KEY, isUnencryptedPayload, whyRefused } from '../../src/workflows/untrusted-messages';
import {
  AesGcmPayloadCodec,
  ENCRYPTED_ENCODING,
  KEY_ID_METADATA,
  createKeysFile,
  loadKeyRing,
  parseKeysFile,
  requirePayloadCodec,
  type PayloadKeyRing,
} from '../../src/temporal/payload-codec';

const ring = (current: string, keys: Record<string, Buffer>): PayloadKeyRing => ({ currentKeyId: current, keys: new Map(Object.entries(keys)) });
const text = (v: Uint8Array | null | undefined) => Buffer.from(v ?? new Uint8Array()).toString('utf8');
const SECRET = { fileName: '066-12000001-3.pdf', clinicFolder: 'viral_load/digawana' };

describe('the AES-256-GCM payload codec', () => {
  const k1 = randomBytes(32);
  const k2 = randomBytes(32);

  it('round-trips a payload, labels it binary/encrypted with its key id, and leaves nothing readable', async () => {
    const codec = new AesGcmPayloadCodec(ring('k1', { k1 }));
    const plain = defaultPayloadConverter.toPayload(SECRET);
    const [encoded] = await codec.encode([plain]);
    expect(text(encoded!.metadata!.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(text(encoded!.metadata![KEY_ID_METADATA])).toBe('k1');
    expect(Buffer.from(encoded!.data!).includes('066-12000001-3')).toBe(false);
    expect(Object.keys(encoded!.metadata!).sort()).toEqual(['encoding', KEY_ID_METADATA].sort()); // json/plain is hidden too
    const [decoded] = await codec.decode([encoded!]);
    expect(defaultPayloadConverter.fromPayload(decoded!)).toEqual(SECRET);
    // A fresh IV each time: equal inputs never give equal ciphertexts.
    const [again] = await codec.encode([plain]);
    expect(Buffer.from(again!.data!).equals(Buffer.from(encoded!.data!))).toBe(false);
  });

  it('hands the workflows a mark, not the content, for a payload sent without our encryption; shows it as sent for display', async () => {
    const codec = new AesGcmPayloadCodec(ring('k1', { k1 }));
    const forged = defaultPayloadConverter.toPayload({ evidenceKey: 'forged-1', client: '6.6.6.6' });
    const [marked] = await codec.decode([forged]);
    const value: unknown = defaultPayloadConverter.fromPayload(marked!);
    expect(isUnencryptedPayload(value)).toBe(true);
    expect(value).toEqual({ [UNENCRYPTED_PAYLOAD_KEY]: { encoding: 'json/plain', bytes: forged.data!.length } });
    expect(JSON.stringify(value)).not.toContain('6.6.6.6');
    expect(whyRefused(value, 'a receipt')).toMatch(/without our payload encryption \(json\/plain, \d+ bytes\)/);
    // The codec server only shows payloads to a person: there a clear one is shown as it was sent.
    expect(await codec.forDisplay().decode([forged])).toEqual([forged]);
    // Our own payloads decode as before, in both.
    const [ours] = await codec.encode([forged]);
    expect(defaultPayloadConverter.fromPayload(await codec.decode([ours!]).then((p) => p[0]!))).toEqual({ evidenceKey: 'forged-1', client: '6.6.6.6' });
  });

  it('refuses, naming the key, a payload encrypted with a key it does not know', async () => {
    const [encoded] = await new AesGcmPayloadCodec(ring('k2', { k2 })).encode([defaultPayloadConverter.toPayload(SECRET)]);
    const other = new AesGcmPayloadCodec(ring('k1', { k1 }));
    await expect(other.decode([encoded!])).rejects.toThrow(/key "k2", which is not configured here \(known: k1\)/);
  });

  it('refuses a payload whose ciphertext, tag or key label was altered', async () => {
    const codec = new AesGcmPayloadCodec(ring('k1', { k1, k2 }));
    const [encoded] = await codec.encode([defaultPayloadConverter.toPayload(SECRET)]);
    const flipped = (at: number): Payload => {
      const data = Buffer.from(encoded!.data!);
      data[at] = data[at]! ^ 0x01;
      return { ...encoded!, data };
    };
    await expect(codec.decode([flipped(20)])).rejects.toThrow(/failed authentication with key "k1"/);
    await expect(codec.decode([flipped(encoded!.data!.length - 1)])).rejects.toThrow(/failed authentication/);
    const relabelled = { ...encoded!, metadata: { ...encoded!.metadata, [KEY_ID_METADATA]: Buffer.from('k2') } };
    await expect(codec.decode([relabelled])).rejects.toThrow(/failed authentication with key "k2"/);
    await expect(codec.decode([{ ...encoded!, data: Buffer.alloc(5) }])).rejects.toThrow(/too short/);
  });

  it('after rotation encrypts with the new key and still decrypts what the old key encrypted', async () => {
    const before = new AesGcmPayloadCodec(ring('k1', { k1 }));
    const [old] = await before.encode([defaultPayloadConverter.toPayload(SECRET)]);
    const rotated = new AesGcmPayloadCodec(parseKeysFile(`k1=${k1.toString('base64')}\n*k2=${k2.toString('base64')}\n`, 'keys'));
    const [fresh] = await rotated.encode([defaultPayloadConverter.toPayload(SECRET)]);
    expect(text(fresh!.metadata![KEY_ID_METADATA])).toBe('k2');
    expect(defaultPayloadConverter.fromPayload((await rotated.decode([old!]))[0]!)).toEqual(SECRET);
    expect(defaultPayloadConverter.fromPayload((await rotated.decode([fresh!]))[0]!)).toEqual(SECRET);
  });

  it('keeps failure messages and stack traces out of the clear when used with our failure converter', async () => {
    const codec = new AesGcmPayloadCodec(ring('k1', { k1 }));
    expect(failureConverter).toBeInstanceOf(DefaultFailureConverter);
    const failure = failureConverter.errorToFailure(ApplicationFailure.create({ message: 'cannot open 066-12000001-3.pdf' }), defaultPayloadConverter);
    expect(failure.message).not.toContain('066-12000001-3');
    expect(failure.stackTrace ?? '').not.toContain('066-12000001-3');
    const [encoded] = await codec.encode([failure.encodedAttributes!]);
    expect(Buffer.from(encoded!.data!).includes('066-12000001-3')).toBe(false);
  });
});

describe('payload keys from settings', () => {
  const k1 = randomBytes(32).toString('base64');
  const k2 = randomBytes(32).toString('base64');

  it('reads a JSON keys file and a line keys file', () => {
    const json = parseKeysFile(JSON.stringify({ current: 'b', keys: { a: k1, b: k2 } }), 'f');
    expect(json.currentKeyId).toBe('b');
    expect([...json.keys.keys()]).toEqual(['a', 'b']);
    const lines = parseKeysFile(`# old key, kept for decoding\na=${k1}\n\n* b = ${k2}\n`, 'f');
    expect(lines.currentKeyId).toBe('b');
    expect(lines.keys.get('a')!.toString('base64')).toBe(k1);
  });

  it('explains what is wrong with a keys file', () => {
    expect(() => parseKeysFile(`a=${k1}\n`, 'f')).toThrow(/mark the key that encrypts new data/);
    expect(() => parseKeysFile(`*a=${k1}\n*b=${k2}\n`, 'f')).toThrow(/more than one key is marked current/);
    expect(() => parseKeysFile(`*a=c2hvcnQ=\n`, 'f')).toThrow(/key "a" is not 32 bytes of base64/);
    expect(() => parseKeysFile(JSON.stringify({ current: 'x', keys: { a: k1 } }), 'f')).toThrow(/current key "x" is not among/);
    expect(() => parseKeysFile(`*a b=${k1}\n`, 'f')).toThrow(/may hold only letters/);
  });

  it('refuses to run without a key, naming the settings', () => {
    expect(loadKeyRing({})).toBeUndefined();
    expect(() => requirePayloadCodec({}, 'getresults worker')).toThrow(/getresults worker needs .*GETRESULTS_PAYLOAD_KEYS_FILE.*GETRESULTS_PAYLOAD_KEY/);
    expect(() => loadConfig({ GETRESULTS_PAYLOAD_KEY: k1 })).toThrow(/GETRESULTS_PAYLOAD_KEY needs GETRESULTS_PAYLOAD_KEY_ID/);
    expect(() => loadConfig({ GETRESULTS_PAYLOAD_KEY: k1, GETRESULTS_PAYLOAD_KEY_ID: 'a', GETRESULTS_PAYLOAD_KEYS_FILE: '/x' })).toThrow(/not both/);
    const config = loadConfig({ GETRESULTS_PAYLOAD_KEY: k1, GETRESULTS_PAYLOAD_KEY_ID: 'a' });
    expect(requirePayloadCodec(config.payloadKeys, 'x').currentKeyId).toBe('a');
    expect(() => requirePayloadCodec({ keysFile: '/nonexistent/keys' }, 'x')).toThrow(/GETRESULTS_PAYLOAD_KEYS_FILE \/nonexistent\/keys cannot be read/);
  });

  it('generates a keys file readable by its owner only, and never overwrites one', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gr-keys-'));
    try {
      const file = path.join(dir, 'payload-keys.json');
      const made = await createKeysFile(file);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const read = loadKeyRing({ keysFile: file })!;
      expect(read.currentKeyId).toBe(made.currentKeyId);
      expect(read.keys.get(made.currentKeyId)!.equals(made.keys.get(made.currentKeyId)!)).toBe(true);
      const before = readFileSync(file, 'utf8');
      await expect(createKeysFile(file)).rejects.toThrow(/EEXIST/);
      expect(readFileSync(file, 'utf8')).toBe(before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the codec endpoint (/codec/encode, /codec/decode)', () => {
  const codec = new AesGcmPayloadCodec(ring('k1', { k1: randomBytes(32) }));
  const TOKEN = 'a-codec-token-long-enough-to-count';
  const UI = 'http://temporal-ui.test:8233';
  /** The web app's loadSession stands in as a header: the route only asks whether there is a session. */
  const session: ActiveSession = {
    token: 'test-session',
    user: { id: 1, username: 'anna', passwordHash: 'unused', role: 'technician', disabled: false, createdAt: new Date(), passwordChangedAt: new Date(), labId: 1 },
    expiresAt: new Date(Date.now() + 3_600_000),
  };
  const app = new Hono<BaseEnv>()
    .use('*', async (c, next) => {
      const as = c.req.header('x-test-session');
      c.set('session', as === 'admin' ? { ...session, user: { ...session.user, username: 'ada', role: 'admin' } } : as ? session : undefined);
      await next();
    })
    .route('/codec', createCodecRoutes({ codec, namespace: 'default', allowedOrigins: [UI], tokens: [TOKEN] }));
  const post = (op: string, body: unknown, headers: Record<string, string>) =>
    app.request(`http://gr.test/codec/${op}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const asJson = (p: Payload) => ({
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
    data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
  });

  it('decodes for a signed-in user from the Temporal UI, with CORS and credentials for that origin', async () => {
    const [encrypted] = await codec.encode([defaultPayloadConverter.toPayload(SECRET)]);
    const res = await post('decode', { payloads: [asJson(encrypted!)] }, { 'x-test-session': '1', origin: UI, 'x-namespace': 'default' });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(UI);
    expect(res.headers.get('access-control-allow-credentials')).toBe('true');
    const { payloads } = (await res.json()) as { payloads: Array<{ metadata: Record<string, string>; data: string }> };
    expect(JSON.parse(Buffer.from(payloads[0]!.data, 'base64').toString('utf8'))).toEqual(SECRET);
    expect(Buffer.from(payloads[0]!.metadata.encoding!, 'base64').toString()).toBe('json/plain');
  });

  it('encodes for a signed-in admin only, decodes for a bearer token, and answers the UI\'s preflight', async () => {
    const plain = asJson(defaultPayloadConverter.toPayload(SECRET));
    const byToken = await post('encode', { payloads: [plain] }, { authorization: `Bearer ${TOKEN}` });
    expect(byToken.status).toBe(403);
    expect(((await byToken.json()) as { error: string }).error).toMatch(/admin/);
    expect((await post('encode', { payloads: [plain] }, { 'x-test-session': '1' })).status).toBe(403);
    const enc = await post('encode', { payloads: [plain] }, { 'x-test-session': 'admin' });
    expect(enc.status).toBe(200);
    const encoded = ((await enc.json()) as { payloads: unknown[] }).payloads;
    expect(JSON.stringify(encoded)).not.toContain(Buffer.from('066-12000001-3').toString('base64').slice(0, 12));
    const dec = await post('decode', { payloads: encoded }, { authorization: `Bearer ${TOKEN}` });
    expect(((await dec.json()) as { payloads: unknown[] }).payloads).toEqual([plain]);
    const preflight = await app.request('http://gr.test/codec/decode', {
      method: 'OPTIONS',
      headers: { origin: UI, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-namespace' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(UI);
    expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('x-namespace');
  });

  it('refuses anonymous callers, wrong tokens, other origins and other namespaces', async () => {
    const body = { payloads: [] };
    expect((await post('decode', body, {})).status).toBe(401);
    expect((await post('decode', body, { authorization: 'Bearer not-the-token-at-all-no-no' })).status).toBe(401);
    const foreign = await post('decode', body, { 'x-test-session': '1', origin: 'https://evil.example' });
    expect(foreign.status).toBe(403);
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
    expect((await post('decode', body, { 'x-test-session': '1', 'x-namespace': 'other' })).status).toBe(403);
    expect((await post('decode', { nope: 1 }, { 'x-test-session': '1' })).status).toBe(400);
  });

  it('answers a payload it cannot decrypt with a 400 naming the key, not the content', async () => {
    const [foreign] = await new AesGcmPayloadCodec(ring('k9', { k9: randomBytes(32) })).encode([defaultPayloadConverter.toPayload(SECRET)]);
    const res = await post('decode', { payloads: [asJson(foreign!)] }, { 'x-test-session': '1' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/key "k9"/);
  });
});
