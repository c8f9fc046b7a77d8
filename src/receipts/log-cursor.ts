/**
 * Where the log scan stands in server B's access log, and what to read next: the cursor (file identity, offset, a
 * fingerprint of the bytes before it) as the log_cursor table keeps it per log source, and the read plan that
 * follows the log through growth, rotation and truncation.
 */
import { createHash } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { LogCursor } from '../db/entities';
import type { LogSource } from './log-source';

export interface LogCursorState {
  fileIdentity: string;
  offset: number;
  tailFingerprint: string;
}

export interface LogSegment {
  /** Which file the bytes come from (the live log, or its rotated predecessor being finished). */
  file: string;
  fileIdentity: string;
  /** Absolute offset of `data[0]` in that file. */
  offset: number;
  data: Buffer;
}

export interface ReadPlan {
  /** Where reading starts, in order: at most the rest of the rotated file, then the live file. */
  parts: Array<{ file: string; fileIdentity: string; from: number; to: number }>;
  notes: string[];
}

/** First line (up to 4 KiB) identifies a log file; rotation gives the new file a new first line. */
const IDENTITY_BYTES = 4096;
/** Bytes before the cursor that must be unchanged for the cursor to still make sense. */
const TAIL_BYTES = 256;

export const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** The identity of a log file, or undefined while it has no complete first line (it is new and may still grow). */
export async function identityOf(source: LogSource, file: string): Promise<string | undefined> {
  const head = await source.read(file, 0, IDENTITY_BYTES);
  const newline = head.indexOf(0x0a);
  if (newline < 0) return undefined;
  return sha(head.subarray(0, newline + 1));
}

export async function tailFingerprint(source: LogSource, file: string, offset: number): Promise<string> {
  const from = Math.max(0, offset - TAIL_BYTES);
  return sha(await source.read(file, from, offset - from));
}

/**
 * Decides what to read since `cursor`. Handles the three ways a log changes under us: it grew (read the new part), it
 * was rotated (finish the old file under its rotated name, then read the new one from 0), and it was truncated or
 * rewritten in place (start again from 0; evidence keys make re-read lines harmless).
 */
export async function planRead(source: LogSource, live: string, rotated: string | undefined, cursor: LogCursorState | undefined): Promise<ReadPlan> {
  const notes: string[] = [];
  const parts: ReadPlan['parts'] = [];
  const liveSize = await source.size(live);
  const liveIdentity = liveSize ? await identityOf(source, live) : undefined;

  if (cursor && liveIdentity === cursor.fileIdentity && liveSize !== undefined) {
    if (liveSize < cursor.offset) {
      notes.push(`The log is shorter than where the last scan stopped (${liveSize} < ${cursor.offset} bytes): it was truncated; reading it again from the start.`);
      parts.push({ file: live, fileIdentity: liveIdentity, from: 0, to: liveSize });
    } else if ((await tailFingerprint(source, live, cursor.offset)) !== cursor.tailFingerprint) {
      notes.push('The log was rewritten in place since the last scan; reading it again from the start.');
      parts.push({ file: live, fileIdentity: liveIdentity, from: 0, to: liveSize });
    } else {
      parts.push({ file: live, fileIdentity: liveIdentity, from: cursor.offset, to: liveSize });
    }
    return { parts, notes };
  }

  if (cursor && rotated) {
    const rotatedSize = await source.size(rotated);
    const rotatedIdentity = rotatedSize ? await identityOf(source, rotated) : undefined;
    if (rotatedIdentity === cursor.fileIdentity && rotatedSize !== undefined && rotatedSize >= cursor.offset) {
      parts.push({ file: rotated, fileIdentity: rotatedIdentity, from: cursor.offset, to: rotatedSize });
      notes.push(`The log was rotated; finished the previous file (${rotated}) first.`);
    } else {
      notes.push(`The log was rotated and the file the last scan read is no longer at ${rotated}: lines written to it after that scan could not be read.`);
    }
  } else if (cursor) {
    notes.push('The log was replaced since the last scan and no rotated name is configured: lines written after that scan may be missing.');
  }
  if (liveIdentity && liveSize) parts.push({ file: live, fileIdentity: liveIdentity, from: 0, to: liveSize });
  else if (liveSize === undefined) notes.push(`The log ${live} does not exist (yet).`);
  return { parts, notes };
}

/** Yields the planned bytes in bounded chunks, so a gigabyte backlog never sits in memory at once. */
export async function* readPlanned(source: LogSource, plan: ReadPlan, chunkBytes: number): AsyncGenerator<LogSegment> {
  for (const part of plan.parts) {
    for (let offset = part.from; offset < part.to; offset += chunkBytes) {
      const data = await source.read(part.file, offset, Math.min(chunkBytes, part.to - offset));
      if (!data.length) break;
      yield { file: part.file, fileIdentity: part.fileIdentity, offset, data };
    }
  }
}

/** The cursor the last scan of `source` left, or undefined before its first scan. */
export async function loadCursor(orm: MikroORM, source: LogSource): Promise<LogCursorState | undefined> {
  const cursor = await orm.em.fork().findOne(LogCursor, { source: source.name });
  return cursor ? { fileIdentity: cursor.fileIdentity, offset: cursor.offset, tailFingerprint: cursor.tailFingerprint } : undefined;
}

/**
 * Moves the cursor of `source` to `offset` in `file`. Called only after the hits before `offset` are recorded, so a
 * crash re-reads (harmlessly: evidence keys) rather than skips.
 */
export async function saveCursor(orm: MikroORM, source: LogSource, file: string, fileIdentity: string, offset: number): Promise<void> {
  const fingerprint = await tailFingerprint(source, file, offset);
  await orm.em.fork().getConnection().execute(
    `insert into log_cursor (source, file_identity, "offset", tail_fingerprint, updated_at) values (?, ?, ?, ?, now())
     on conflict (source) do update set file_identity = excluded.file_identity, "offset" = excluded."offset",
       tail_fingerprint = excluded.tail_fingerprint, updated_at = now()`,
    [source.name, fileIdentity, offset, fingerprint],
    'run',
  );
}
