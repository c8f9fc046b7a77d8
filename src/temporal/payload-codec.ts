import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { UNENCRYPTED_PAYLOAD_KEY, type UnencryptedPayloadMark } from '../workflows/untrusted-messages';

/**
 * Patient data (file names, identifiers, clinic folders) travels through Temporal inside payloads: workflow inputs,
 * activity results, signals, queries, and (with the failure converter in data-converter.ts) failure messages. This
 * codec encrypts each whole payload with AES-256-GCM before it leaves the process, so Temporal's database and UI hold
 * ciphertext only. The key id rides in the payload's metadata, so several keys can be known at once (rotation).
 */

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const KEY_ID = /^[A-Za-z0-9_.-]{1,64}$/;

export interface PayloadKeyRing {
  /** Encrypts every new payload. */
  currentKeyId: string;
  /** Every key a stored payload may name, the current one included. */
  keys: ReadonlyMap<string, Buffer>;
}

/** Where the keys come from: the settings GETRESULTS_PAYLOAD_KEYS_FILE, or GETRESULTS_PAYLOAD_KEY + _KEY_ID. */
export interface PayloadKeySettings {
  keysFile?: string;
  key?: string;
  keyId?: string;
}

export class PayloadCryptoError extends Error {
  override readonly name = 'PayloadCryptoError';
}

const utf8 = (value: string) => new TextEncoder().encode(value);
const text = (value: Uint8Array | null | undefined) => (value ? Buffer.from(value).toString('utf8') : undefined);

function keyFromBase64(keyId: string, base64: string, source: string): Buffer {
  if (!KEY_ID.test(keyId)) throw new Error(`${source}: key id "${keyId}" may hold only letters, digits, dot, dash and underscore.`);
  const value = base64.trim();
  const key = Buffer.from(value, 'base64');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value) || key.length !== KEY_BYTES) {
    throw new Error(`${source}: key "${keyId}" is not ${KEY_BYTES} bytes of base64 (openssl rand -base64 32 makes one).`);
  }
  return key;
}

/**
 * Reads a keys file. Either JSON, `{"current": "2026-06", "keys": {"2025-11": "<base64>", "2026-06": "<base64>"}}`, or
 * lines of `keyId=<base64>` (blank lines and `#` comments allowed) with the current key's line starting with `*`.
 */
export function parseKeysFile(content: string, source: string): PayloadKeyRing {
  const keys = new Map<string, Buffer>();
  let current: string | undefined;
  const trimmed = content.trim();
  if (trimmed.startsWith('{')) {
    let json: { current?: unknown; keys?: unknown };
    try {
      json = JSON.parse(trimmed) as typeof json;
    } catch (err) {
      throw new Error(`${source} is not valid JSON: ${(err as Error).message}`);
    }
    if (typeof json.keys !== 'object' || json.keys === null) throw new Error(`${source} needs a "keys" object of keyId: base64 key.`);
    for (const [id, value] of Object.entries(json.keys)) {
      if (typeof value !== 'string') throw new Error(`${source}: key "${id}" must be a base64 string.`);
      keys.set(id, keyFromBase64(id, value, source));
    }
    if (typeof json.current !== 'string') throw new Error(`${source} needs "current": the id of the key that encrypts new data.`);
    current = json.current;
  } else {
    for (const [index, raw] of content.split('\n').entries()) {
      const line = raw.trim();
      if (!line || line.startsWith('#')) continue;
      const marked = line.startsWith('*');
      const entry = marked ? line.slice(1).trim() : line;
      const eq = entry.indexOf('=');
      if (eq <= 0) throw new Error(`${source} line ${index + 1}: expected keyId=<base64 key> (the current key's line starts with *).`);
      const id = entry.slice(0, eq).trim();
      if (keys.has(id)) throw new Error(`${source}: key "${id}" appears twice.`);
      keys.set(id, keyFromBase64(id, entry.slice(eq + 1), source));
      if (marked) {
        if (current) throw new Error(`${source}: more than one key is marked current with *.`);
        current = id;
      }
    }
    if (!current) throw new Error(`${source}: mark the key that encrypts new data by starting its line with *.`);
  }
  if (!keys.has(current)) throw new Error(`${source}: the current key "${current}" is not among its keys.`);
  return { currentKeyId: current, keys };
}

/** The key ring the settings describe, or undefined when none is configured. */
export function loadKeyRing(settings: PayloadKeySettings): PayloadKeyRing | undefined {
  if (settings.keysFile) {
    let content: string;
    try {
      content = readFileSync(settings.keysFile, 'utf8');
    } catch (err) {
      throw new Error(`GETRESULTS_PAYLOAD_KEYS_FILE ${settings.keysFile} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}).`);
    }
    return parseKeysFile(content, `GETRESULTS_PAYLOAD_KEYS_FILE ${settings.keysFile}`);
  }
  if (settings.key) {
    if (!settings.keyId) throw new Error('GETRESULTS_PAYLOAD_KEY needs GETRESULTS_PAYLOAD_KEY_ID (a name for the key, stored with every payload).');
    const keys = new Map([[settings.keyId, keyFromBase64(settings.keyId, settings.key, 'GETRESULTS_PAYLOAD_KEY')]]);
    return { currentKeyId: settings.keyId, keys };
  }
  return undefined;
}

/**
 * The codec for a process that talks to Temporal. Without a key it refuses to start: patient data must never reach
 * Temporal in clear.
 */
export function requirePayloadCodec(settings: PayloadKeySettings, command: string): AesGcmPayloadCodec {
  const ring = loadKeyRing(settings);
  if (!ring) {
    throw new Error(
      `${command} needs the payload encryption key that every getresults process shares: set GETRESULTS_PAYLOAD_KEYS_FILE ` +
        `(e.g. the payload-keys.json that "getresults start" generated in its data folder) or GETRESULTS_PAYLOAD_KEY and ` +
        `GETRESULTS_PAYLOAD_KEY_ID. Data is never sent to Temporal unencrypted.`,
    );
  }
  return new AesGcmPayloadCodec(ring);
}

/** A new keys file holding one random current key, readable by this user only; used by `start` on first run. */
export async function createKeysFile(file: string): Promise<PayloadKeyRing> {
  const id = `key-${new Date().toISOString().slice(0, 10).replace(/-/g, '')}`;
  const key = randomBytes(KEY_BYTES);
  await mkdir(path.dirname(file), { recursive: true });
  // 'wx': never overwrite an existing key file; losing a key makes every payload it encrypted unreadable.
  await writeFile(file, `${JSON.stringify({ current: id, keys: { [id]: key.toString('base64') } }, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  return { currentKeyId: id, keys: new Map([[id, key]]) };
}

/**
 * What decode does with a payload that is not ours (issue 11). `mark`, for every process that acts on payloads: the
 * payload is replaced by an `UnencryptedPayloadMark` naming only its encoding and size, so a workflow input or signal
 * sent in clear (the `temporal` CLI, the UI's signal form) is never believed; the workflow records and ignores it
 * (src/workflows/untrusted-messages.ts). Throwing instead would fail every later workflow task of that file. `pass`,
 * for the codec server that only shows payloads to a person in the Temporal UI: a clear payload is shown as sent.
 */
export type UnencryptedPayloads = 'mark' | 'pass';

const JSON_ENCODING = 'json/plain';

function markUnencrypted(payload: Payload): Payload {
  const mark: UnencryptedPayloadMark = {
    [UNENCRYPTED_PAYLOAD_KEY]: { encoding: (text(payload.metadata?.[METADATA_ENCODING_KEY]) ?? 'none').slice(0, 64), bytes: payload.data?.length ?? 0 },
  };
  return { metadata: { [METADATA_ENCODING_KEY]: utf8(JSON_ENCODING) }, data: utf8(JSON.stringify(mark)) };
}

export class AesGcmPayloadCodec implements PayloadCodec {
  constructor(
    private readonly ring: PayloadKeyRing,
    private readonly unencrypted: UnencryptedPayloads = 'mark',
  ) {
    for (const [id, key] of ring.keys) {
      if (key.length !== KEY_BYTES) throw new Error(`Payload key "${id}" is ${key.length} bytes; AES-256 needs ${KEY_BYTES}.`);
    }
    if (!ring.keys.has(ring.currentKeyId)) throw new Error(`The current payload key "${ring.currentKeyId}" is not among the keys.`);
  }

  get currentKeyId(): string {
    return this.ring.currentKeyId;
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.encrypt(payload));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (text(payload.metadata?.[METADATA_ENCODING_KEY]) === ENCRYPTED_ENCODING) return this.decrypt(payload);
      return this.unencrypted === 'mark' ? markUnencrypted(payload) : payload;
    });
  }

  /** The same keys, with clear payloads passed through: for the codec server (see UnencryptedPayloads). */
  forDisplay(): AesGcmPayloadCodec {
    return new AesGcmPayloadCodec(this.ring, 'pass');
  }

  private encrypt(payload: Payload): Payload {
    const keyId = this.ring.currentKeyId;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.ring.keys.get(keyId)!, iv);
    // The key id is authenticated too: a payload relabelled with another key id fails instead of decrypting oddly.
    cipher.setAAD(Buffer.from(keyId, 'utf8'));
    const plain = temporal.api.common.v1.Payload.encode(payload).finish();
    const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return { metadata: { [METADATA_ENCODING_KEY]: utf8(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8(keyId) }, data };
  }

  private decrypt(payload: Payload): Payload {
    const keyId = text(payload.metadata?.[KEY_ID_METADATA]);
    if (!keyId) throw new PayloadCryptoError(`An encrypted payload carries no ${KEY_ID_METADATA}; it cannot be decrypted.`);
    const key = this.ring.keys.get(keyId);
    if (!key) {
      throw new PayloadCryptoError(
        `A payload was encrypted with key "${keyId}", which is not configured here (known: ${[...this.ring.keys.keys()].join(', ')}). ` +
          `Add that key to GETRESULTS_PAYLOAD_KEYS_FILE: old keys must be kept for as long as Temporal keeps their data.`,
      );
    }
    const data = Buffer.from(payload.data ?? new Uint8Array());
    if (data.length < IV_BYTES + TAG_BYTES) throw new PayloadCryptoError(`An encrypted payload (key "${keyId}") is too short to be genuine.`);
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(keyId, 'utf8'));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new PayloadCryptoError(`An encrypted payload failed authentication with key "${keyId}": it was altered, or the key is not the one that encrypted it.`);
    }
    const decoded = temporal.api.common.v1.Payload.decode(plain);
    return { metadata: decoded.metadata, data: decoded.data };
  }
}
