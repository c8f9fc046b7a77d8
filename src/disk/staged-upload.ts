/**
 * Putting a file into the upload folder under the name it came with: which names the folder takes (the watcher
 * leaves some alone), and how a staged copy gets its name without ever replacing a waiting file. Used by the web
 * page's uploads and by a host taking a handed-over upload (src/activities/handover-activities.ts).
 */
import { link, open, unlink } from 'node:fs/promises';
import path from 'node:path';
import { isTransientName } from '../trigger/ignored-names';

export type NameCheck = { ok: true; name: string } | { ok: false; problem: string };

/** Longest name in UTF-8 bytes: leaves room for the temporary `.<name>.<random>.part` within the usual 255. */
const MAX_NAME_BYTES = 200;
// Control characters, and the bidirectional overrides that can make "evil‮fdp.exe" read as "evilexe.pdf".
const FORBIDDEN = /[\p{Cc}\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/u;

/**
 * The name an upload is stored under, or why it cannot be. Names are kept as sent (Unicode included, NFC), never
 * rewritten behind the uploader's back: a name that is not a plain file name is refused with a reason.
 */
export function checkUploadName(raw: string): NameCheck {
  const name = raw.normalize('NFC');
  if (!name.trim()) return { ok: false, problem: 'The file has no name.' };
  if (name.includes('/') || name.includes('\\')) return { ok: false, problem: 'The name holds a folder separator (/ or \\).' };
  if (name.includes('..')) return { ok: false, problem: 'The name holds "..".' };
  if (FORBIDDEN.test(name)) return { ok: false, problem: 'The name holds control or text-direction characters.' };
  if (name !== name.trim()) return { ok: false, problem: 'The name starts or ends with a space.' };
  // The watcher ignores these (hidden files, lock files, half-written downloads): such a file would never be sent.
  if (isTransientName(name)) return { ok: false, problem: 'Names starting with "." or "~$", or ending in ~, .part, .tmp and the like are not taken from the upload folder.' };
  if (!/\.pdf$/i.test(name)) return { ok: false, problem: 'Only PDF files (.pdf) are accepted.' };
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) return { ok: false, problem: `The name is longer than ${MAX_NAME_BYTES} bytes.` };
  return { ok: true, name };
}

export function looksLikePdf(data: Uint8Array): boolean {
  return Buffer.from(data.subarray(0, 1024)).includes('%PDF-');
}

export type StoreResult = { stored: true; path: string } | { stored: false; reason: 'exists' };

/**
 * Gives a staged upload (a hidden `.part` file in the upload folder, already flushed to disk: receive-upload.ts) its
 * real name, so the watcher only ever sees it complete. By hard link rather than rename, because link refuses to
 * replace a file of the same name still waiting in the folder, where rename would silently overwrite it. The staged
 * file is gone afterwards either way.
 */
export async function commitStaged(uploadDir: string, tempPath: string, name: string): Promise<StoreResult> {
  const folder = path.resolve(uploadDir);
  const target = path.join(folder, name);
  if (path.dirname(target) !== folder || path.dirname(tempPath) !== folder) throw new Error('refusing a name outside the upload folder');
  try {
    await link(tempPath, target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return { stored: false, reason: 'exists' };
    throw err;
  } finally {
    await unlink(tempPath).catch(() => undefined);
  }
  // The new directory entry must survive a crash too, or the upload could vanish after we said "saved".
  const dir = await open(folder, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
  return { stored: true, path: target };
}
