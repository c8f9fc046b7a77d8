import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { executorOf, type SqlExecutor } from './hot-path-sql';
import type { FileState } from '../domain/file-state';

/**
 * The event trail as a hash chain: every `file_event` row, in `seq` order (1, 2, 3, … with no gaps), stores the hash of
 * the row before it (`prev_hash`, 64 zeros for the first) and `hash = SHA-256(prev_hash || canonical JSON of its
 * immutable fields)`. Editing, deleting or re-ordering a row breaks the chain at that row. See docs/audit.md.
 */

export const GENESIS_HASH = '0'.repeat(64);

/**
 * Transaction-scoped advisory lock that serialises appends to the chain. The two-key form lives in a key space of its
 * own, so it cannot collide with the single-key `hashtext(...)` locks taken elsewhere.
 */
const CHAIN_LOCK: readonly [number, number] = [0x6772, 0x0ae1];

/** The fields a row's hash covers, named as the columns are, in the form they are hashed in. */
export interface ChainedFields {
  seq: number;
  result_file_id: number;
  event_key: string;
  type: string;
  state: string | null;
  message: string;
  detail: unknown;
  actor: string;
  /** ISO 8601, UTC, milliseconds (`Date.prototype.toISOString`). */
  at: string;
}

export const CHAINED_FIELD_NAMES = ['seq', 'result_file_id', 'event_key', 'type', 'state', 'message', 'detail', 'actor', 'at'] as const;

/** JSON with object keys sorted (by UTF-16 code unit), no whitespace; undefined members dropped as JSON.stringify does. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.keys(value)
    .sort()
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(',')}}`;
}

export function eventHash(prevHash: string, fields: ChainedFields): string {
  return createHash('sha256').update(prevHash).update(canonicalJson(fields)).digest('hex');
}

/** What jsonb gives back for a value: the value after a JSON round trip (dates become strings, undefined goes). */
function asStoredJson(detail: Record<string, unknown> | null | undefined): Record<string, unknown> | null {
  return detail == null ? null : (JSON.parse(JSON.stringify(detail)) as Record<string, unknown>);
}

export interface NewEvent {
  resultFileId: number;
  eventKey: string;
  type: string;
  state: FileState | null;
  message: string;
  detail?: Record<string, unknown> | null;
  actor: string;
  at: Date;
}

/** The last event of the chain, as the next append extends it. */
export interface ChainTip {
  seq: number;
  hash: string;
}

/**
 * Takes the chain's advisory lock for the rest of the caller's transaction: writers then extend the chain one at a
 * time. Everything that decides what to append (the tip, which event keys exist) must be read after this, in a
 * statement of its own: under READ COMMITTED each statement sees what was committed before it started.
 */
export async function lockChain(tx: SqlExecutor & { isInTransaction?(): boolean }): Promise<void> {
  // An EntityManager can tell; a HotPathSql transaction always is one.
  if (tx.isInTransaction && !tx.isInTransaction()) throw new Error('Events are appended to the audit chain inside a transaction only.');
  // Constants written into the statement, no parameters: a HotPathSql transaction then sends it with its BEGIN.
  await tx.execute(`select pg_advisory_xact_lock(${CHAIN_LOCK[0]}, ${CHAIN_LOCK[1]})`);
}

/** SQL selecting the tip's `tip_seq` and `tip_hash`; callers fold it into the one read they make after lockChain. */
export const TIP_COLUMNS_SQL =
  // Qualified: a bare `seq` in ORDER BY would name a text output column and sort '9' after '10'.
  `(select t.seq::text from file_event t order by t.seq desc limit 1) as tip_seq,
   (select t.hash from file_event t order by t.seq desc limit 1) as tip_hash`;

export function tipOf(row: { tip_seq: string | null; tip_hash: string | null }): ChainTip | undefined {
  return row.tip_seq && row.tip_hash ? { seq: Number(row.tip_seq), hash: row.tip_hash } : undefined;
}

/**
 * One `insert ... values (...), (...)` that appends `events` after `tip`, hashed in order; `prefix` may put a CTE
 * before it (say, the update of the file's row), so a step's whole write is one round trip. Pure: the caller runs it.
 */
export function chainedInsert(tip: ChainTip | undefined, events: readonly NewEvent[], prefix = ''): { sql: string; params: unknown[] } {
  let seq = tip?.seq ?? 0;
  let prevHash = tip?.hash ?? GENESIS_HASH;
  const values: string[] = [];
  const params: unknown[] = [];
  for (const event of events) {
    seq += 1;
    const detail = asStoredJson(event.detail);
    const hash = eventHash(prevHash, {
      seq,
      result_file_id: event.resultFileId,
      event_key: event.eventKey,
      type: event.type,
      state: event.state,
      message: event.message,
      detail,
      actor: event.actor,
      at: event.at.toISOString(),
    });
    values.push('(?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?, ?, ?)');
    params.push(seq, event.resultFileId, event.eventKey, event.type, event.state, event.message, detail === null ? null : JSON.stringify(detail), event.actor, event.at, prevHash, hash);
    prevHash = hash;
  }
  return {
    sql: `${prefix} insert into file_event (seq, result_file_id, event_key, type, state, message, detail, actor, at, prev_hash, hash)
          values ${values.join(', ')} returning id`,
    params,
  };
}

/**
 * Appends an event to the chain inside the caller's transaction and returns its id: under the lock (lockChain) it
 * reads the tip, hashes and inserts the row at once, not through the unit of work, so the next append, in this
 * transaction or another, finds this row as the tip. Needs READ COMMITTED (the default): under a snapshot taken before
 * the lock the tip could be stale, and the unique `seq` would then refuse the insert rather than fork the chain.
 */
export async function appendChainedEvent(em: EntityManager, event: NewEvent): Promise<number> {
  await lockChain(executorOf(em));
  const [tip] = await em.execute<Array<{ tip_seq: string | null; tip_hash: string | null }>>(`select ${TIP_COLUMNS_SQL}`);
  const insert = chainedInsert(tip && tipOf(tip), [event]);
  const [row] = await em.execute<Array<{ id: string }>>(insert.sql, insert.params);
  return Number(row!.id);
}

/** A file_event row as read for hashing: numbers as text, jsonb as text, `at` formatted by the database. */
export interface RawEventRow {
  id: string;
  seq: string | null;
  result_file_id: string;
  event_key: string;
  type: string;
  state: string | null;
  message: string;
  detail: string | null;
  actor: string;
  at: string;
  prev_hash: string | null;
  hash: string | null;
}

/**
 * Selects RawEventRow columns; `at` as toISOString would print it (the column holds milliseconds at most). The
 * outputs reuse the column names as text, so sort and filter on the table's columns (`e.seq`), never the bare name.
 */
export const RAW_EVENT_COLUMNS = `id::text as id, seq::text as seq, result_file_id::text as result_file_id, event_key, type, state, message,
  detail::text as detail, actor, to_char(at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as at, prev_hash, hash`;

export function chainedFieldsOf(row: RawEventRow, seq: number): ChainedFields {
  return {
    seq,
    result_file_id: Number(row.result_file_id),
    event_key: row.event_key,
    type: row.type,
    state: row.state,
    message: row.message,
    detail: row.detail === null ? null : JSON.parse(row.detail),
    actor: row.actor,
    at: row.at,
  };
}

export type ChainBreakKind = 'missing-rows' | 'prev-hash' | 'content';

export interface ChainBreak {
  kind: ChainBreakKind;
  /** The event (file_event.id) where the chain breaks. */
  id: number;
  seq: number;
  resultFileId: number;
  /** What the chain says this row's hash (`content`) or prev_hash (the other kinds) should be. */
  expected: string;
  stored: string;
  explanation: string;
}

export interface ChainReport {
  ok: boolean;
  /** Rows checked (up to and including the broken one). */
  checked: number;
  /** The last intact row: note its seq and hash somewhere else to detect later removal of rows from the end. */
  head: { id: number; seq: number; hash: string } | null;
  firstBreak: ChainBreak | null;
}

const VERIFY_BATCH = 10_000;

/**
 * Walks the whole chain in `seq` order, 10 000 rows per query (keyset pagination on the unique seq index), and stops
 * at the first broken link.
 */
export async function verifyChain(em: EntityManager, options: { batchSize?: number } = {}): Promise<ChainReport> {
  const batchSize = options.batchSize ?? VERIFY_BATCH;
  let checked = 0;
  let expectedSeq = 1;
  let prevHash = GENESIS_HASH;
  let head: ChainReport['head'] = null;
  for (;;) {
    const rows = await em.execute<RawEventRow[]>(
      `select ${RAW_EVENT_COLUMNS} from file_event e where e.seq >= ? order by e.seq limit ?`,
      [expectedSeq, batchSize],
    );
    for (const row of rows) {
      checked += 1;
      const brk = checkRow(row, expectedSeq, prevHash, head);
      if (brk) return { ok: false, checked, head, firstBreak: brk };
      expectedSeq += 1;
      prevHash = row.hash as string;
      head = { id: Number(row.id), seq: Number(row.seq), hash: prevHash };
    }
    if (rows.length < batchSize) break;
  }
  return { ok: true, checked, head, firstBreak: null };
}

function checkRow(row: RawEventRow, expectedSeq: number, prevHash: string, before: ChainReport['head']): ChainBreak | null {
  const seq = Number(row.seq);
  const at = { id: Number(row.id), seq, resultFileId: Number(row.result_file_id) };
  const previous = before ? `event #${before.id} (seq ${before.seq})` : 'the start of the chain';
  if (seq !== expectedSeq) {
    const missing = seq - 1 === expectedSeq ? `seq ${expectedSeq} is` : `seq ${expectedSeq}…${seq - 1} are`;
    return {
      kind: 'missing-rows',
      ...at,
      expected: prevHash,
      stored: row.prev_hash ?? '',
      explanation: `${missing} missing between ${previous} and this event: rows were deleted.`,
    };
  }
  if (row.prev_hash !== prevHash) {
    return {
      kind: 'prev-hash',
      ...at,
      expected: prevHash,
      stored: row.prev_hash ?? '',
      explanation: `prev_hash does not match the hash of ${previous}: that row's hash or this row's prev_hash was rewritten.`,
    };
  }
  const computed = eventHash(prevHash, chainedFieldsOf(row, seq));
  if (computed !== row.hash) {
    return {
      kind: 'content',
      ...at,
      expected: computed,
      stored: row.hash ?? '',
      explanation:
        `the row no longer matches its hash: one of ${CHAINED_FIELD_NAMES.join(', ')} was changed after it was written ` +
        '(a hash cannot tell which; compare with a backup).',
    };
  }
  return null;
}
