/**
 * Shared parts of the fault-injection suite: a reproducible batch of valid result PDFs for many clinics, a dropper that
 * feeds them to the upload folder like a careful uploader, the invariant check run after every fault, and the summary
 * line each fault reports.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { resultPdf } from '../harness/pdf';
import { listTree, sha256OfFile } from '../harness/sshd';
import { startStack, type ChildHandle, type Stack } from '../harness/stack';
import type { TestTemporal } from '../harness/temporal';
import { waitFor } from '../harness/wait-for';
import { seededRandom } from '../harness/seeded-random';

const execFileAsync = promisify(execFile);
const ROOT = path.join(__dirname, '..', '..');
export const SEED_CSV = path.join(ROOT, 'config', 'remote_folders.csv');
const SUMMARY_FILE = path.join(ROOT, 'test-artifacts', 'faults-summary.txt');

/** The steps every delivered file goes through, in order. */
export const HAPPY_TRAIL = ['RECEIVED', 'VALIDATED', 'ROUTED', 'SENT', 'ARCHIVED'];

export { seededRandom };

export interface BatchFile {
  name: string;
  identifier: string;
  content: Buffer;
  sha256: string;
  /** `base_path/folder` the seed table routes it to. */
  clinicFolder: string;
}

interface SeedRow {
  basePath: string;
  folder: string;
  tag: string;
  label: string;
}

function seedRows(): SeedRow[] {
  const [, ...lines] = readFileSync(SEED_CSV, 'utf8').trim().split('\n');
  return lines.map((line) => {
    const [basePath, folder, tag, label] = line.trim().split(',');
    return { basePath: basePath!, folder: folder!, tag: tag!, label: label! };
  });
}

/**
 * `count` valid PDFs, mostly BHS (`066-HHnnnnnn-d`) spread over the BHS rows of the seed table, plus some CDC1
 * (`[123]HH-nnnn`) and CDC2 (`NN-HH-nnn-nn`). `batch` (0-99) keeps identifiers unique across the batches of one stack,
 * so no batch is mistaken for copies of another.
 */
export function makeBatch(options: { batch: number; count: number; seed: number }): BatchFile[] {
  const random = seededRandom(options.seed);
  const rows = seedRows();
  const byLabel = (label: string) => rows.filter((r) => r.label === label);
  const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)]!;
  const b = String(options.batch).padStart(2, '0');
  const files: BatchFile[] = [];
  for (let i = 0; i < options.count; i++) {
    const kind = i % 10 === 8 ? 'CDC1' : i % 10 === 9 ? 'CDC2' : 'BHS';
    const row = pick(byLabel(kind));
    const n = String(i).padStart(4, '0');
    const identifier =
      kind === 'BHS'
        ? `066-${row.tag}${b}${n}-${i % 10}`
        : kind === 'CDC1'
          ? `${1 + (options.batch % 3)}${row.tag}-${String(options.batch * 100 + Math.floor(i / 10)).padStart(4, '0')}`
          : `${b}-${row.tag}-${n.slice(0, 3)}-${n.slice(3)}${i % 10}`;
    const content = resultPdf(identifier);
    files.push({
      name: `${identifier}.pdf`,
      identifier,
      content,
      sha256: createHash('sha256').update(content).digest('hex'),
      clinicFolder: `${row.basePath}/${row.folder}`,
    });
  }
  if (new Set(files.map((f) => f.name)).size !== files.length) throw new Error('makeBatch produced a repeated name');
  return files;
}

/** Writes a file the way a careful uploader does: a temporary (ignored) name, then a rename into the upload folder. */
export function dropFile(uploadDir: string, file: BatchFile): void {
  const temp = path.join(uploadDir, `.${file.name}.part`);
  writeFileSync(temp, file.content);
  renameSync(temp, path.join(uploadDir, file.name));
}

/** Drops the batch over about `spreadMs` (all at once when 0), so files keep arriving while a fault is on. */
export async function dropBatch(uploadDir: string, files: BatchFile[], spreadMs = 0): Promise<void> {
  const chunks = spreadMs > 0 ? Math.max(1, Math.round(spreadMs / 250)) : 1;
  const perChunk = Math.ceil(files.length / chunks);
  for (let c = 0; c < chunks; c++) {
    files.slice(c * perChunk, (c + 1) * perChunk).forEach((f) => dropFile(uploadDir, f));
    if (c < chunks - 1) await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * The real stack with the settings of the fault suite: read-back verification instead of `sha256sum` over exec (which
 * costs ~0.4 s per file on this machine), and blocked transfers retried every 5 s so a refused login resumes by itself.
 */
export interface FaultStack {
  stack: Stack;
  worker: ChildHandle;
  watcher: ChildHandle;
  /** The current Temporal dev server (it changes when a test restarts it). */
  temporal: TestTemporal;
  stop(): Promise<void>;
}

export async function startFaultStack(): Promise<FaultStack> {
  const stack = await startStack({
    env: { GETRESULTS_SSH_REMOTE_SHA256SUM: 'false', GETRESULTS_BLOCKED_RETRY: '5s', GETRESULTS_STABLE_MS: '200' },
  });
  const loaded = await stack.cli(['folders', 'load', SEED_CSV]);
  if (loaded.code !== 0) throw new Error(`folders load failed: ${loaded.stderr}`);
  const fault: FaultStack = {
    stack,
    worker: stack.startWorker(),
    watcher: stack.startWatcher(),
    temporal: stack.temporal,
    async stop() {
      await unblockRemote(stack).catch(() => undefined);
      await stack.stop();
      // startStack cleans up the server it started; one started by restart() is ours to stop.
      if (fault.temporal !== stack.temporal) await fault.temporal.cleanup();
    },
  };
  return fault;
}

interface BatchRow {
  id: number;
  file_name: string;
  sha256: string;
  state: string;
  archive_path: string | null;
  remote_path: string | null;
}

async function batchRows(stack: Stack, files: BatchFile[]): Promise<BatchRow[]> {
  const result = await stack.pg.query<BatchRow>(
    'select id, file_name, sha256, state, archive_path, remote_path from result_file where file_name = any($1::text[]) order by id',
    [files.map((f) => f.name)],
  );
  return result.rows.map((r) => ({ ...r, id: Number(r.id) }));
}

function histogram(values: string[]): string {
  const counts = new Map<string, number>();
  values.forEach((v) => counts.set(v, (counts.get(v) ?? 0) + 1));
  return [...counts].map(([k, n]) => `${k}=${n}`).join(' ');
}

/** Waits until every file of the batch is sent and archived (AWAITING_ACK); returns the seconds since `sinceMs`. */
export async function waitDrained(stack: Stack, files: BatchFile[], sinceMs: number, timeoutMs = 240_000): Promise<number> {
  let last = '';
  try {
    await waitFor(
      'the whole batch to be delivered and archived',
      async () => {
        const rows = await batchRows(stack, files);
        const done = new Set(rows.filter((r) => r.state === 'AWAITING_ACK').map((r) => r.file_name));
        last = `${done.size}/${files.length} done; states: ${histogram(rows.map((r) => r.state))}`;
        return done.size === files.length;
      },
      { timeoutMs, intervalMs: 250 },
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}: ${last}`);
  }
  return (Date.now() - sinceMs) / 1000;
}

export interface DeliveryCount {
  files: number;
  delivered: number;
  duplicates: number;
  lost: number;
}

/**
 * What landed at the clinics, counted from server B's tree itself: a file is delivered when exactly its bytes are at its
 * clinic under its name; any further copy of it (the `__<hash12>` conflict name, or twice in the trail) is a duplicate.
 */
export async function countDeliveries(stack: Stack, files: BatchFile[]): Promise<DeliveryCount> {
  const tree = await listTree(stack.sshd.remoteRoot);
  const rows = await batchRows(stack, files);
  let delivered = 0;
  let duplicates = 0;
  for (const file of files) {
    const stem = path.parse(file.name).name;
    const copies = tree.filter((rel) => {
      const dir = path.posix.dirname(rel);
      const base = path.posix.basename(rel);
      return dir === file.clinicFolder && (base === file.name || base.startsWith(`${stem}__`));
    });
    const rightBytes = await Promise.all(copies.map(async (rel) => (await sha256OfFile(path.join(stack.sshd.remoteRoot, rel))) === file.sha256));
    if (rightBytes.some(Boolean)) delivered++;
    duplicates += Math.max(0, copies.length - 1);
    // Copies elsewhere (another clinic) would be misdeliveries: count them as duplicates too.
    duplicates += tree.filter((rel) => path.posix.basename(rel) === file.name && path.posix.dirname(rel) !== file.clinicFolder).length;
    duplicates += Math.max(0, rows.filter((r) => r.file_name === file.name && r.state !== 'DUPLICATE').length - 1);
  }
  return { files: files.length, delivered, duplicates, lost: files.length - delivered };
}

/**
 * The invariant every fault must leave intact: each file is at its clinic exactly once with the right SHA-256, no
 * temporary `.part` file is left on server B, each original is in the archive with the same bytes, the upload folder
 * is empty of the batch, and each file's database trail is complete and in order (`allowBlocked`: TRANSFER_BLOCKED
 * events may appear between ROUTED and SENT).
 */
export async function expectAllDeliveredExactlyOnce(
  stack: Stack,
  files: BatchFile[],
  options: { allowBlocked?: boolean } = {},
): Promise<DeliveryCount> {
  const count = await countDeliveries(stack, files);
  const tree = await listTree(stack.sshd.remoteRoot);
  expect(tree.filter((rel) => rel.endsWith('.part'))).toEqual([]);
  for (const file of files) {
    expect(tree.filter((rel) => path.posix.basename(rel).startsWith(path.parse(file.name).name))).toEqual([`${file.clinicFolder}/${file.name}`]);
    expect(await sha256OfFile(path.join(stack.sshd.remoteRoot, file.clinicFolder, file.name))).toBe(file.sha256);
  }
  expect(count).toEqual({ files: files.length, delivered: files.length, duplicates: 0, lost: 0 });

  const rows = await batchRows(stack, files);
  expect(rows.map((r) => r.file_name).sort()).toEqual(files.map((f) => f.name).sort());
  const archiveRoot = path.join(stack.dataDir, 'archive');
  const uploads = new Set(readdirSync(stack.uploadDir));
  const events = await stack.pg.query<{ result_file_id: string; type: string }>(
    'select result_file_id, type from file_event where result_file_id = any($1::bigint[]) order by id',
    [rows.map((r) => r.id)],
  );
  const trails = new Map<number, string[]>();
  for (const e of events.rows) trails.set(Number(e.result_file_id), [...(trails.get(Number(e.result_file_id)) ?? []), e.type]);
  const badTrails: string[] = [];
  for (const row of rows) {
    const file = files.find((f) => f.name === row.file_name)!;
    expect({ name: row.file_name, sha256: row.sha256, state: row.state, remote: row.remote_path }).toEqual({
      name: file.name,
      sha256: file.sha256,
      state: 'AWAITING_ACK',
      remote: `${file.clinicFolder}/${file.name}`,
    });
    expect(row.archive_path?.startsWith(archiveRoot + path.sep)).toBe(true);
    expect(existsSync(row.archive_path!) && (await sha256OfFile(row.archive_path!))).toBe(file.sha256);
    expect(uploads.has(file.name)).toBe(false);
    const trail = trails.get(row.id) ?? [];
    const withoutBlocked = options.allowBlocked ? trail.filter((t) => t !== 'TRANSFER_BLOCKED') : trail;
    const blockedInPlace = trail.indexOf('TRANSFER_BLOCKED') === -1 || (trail.indexOf('TRANSFER_BLOCKED') > trail.indexOf('ROUTED') && trail.lastIndexOf('TRANSFER_BLOCKED') < trail.indexOf('SENT'));
    if (withoutBlocked.join(',') !== HAPPY_TRAIL.join(',') || !blockedInPlace) badTrails.push(`${row.file_name}: ${trail.join(',')}`);
  }
  expect(badTrails).toEqual([]);
  return count;
}

/** Prints `fault=<name> files=N delivered=N duplicates=N lost=N drain_seconds=S` and appends it to the summary file. */
export function reportFault(name: string, count: DeliveryCount, drainSeconds: number, extra = ''): string {
  const line =
    `fault=${name} files=${count.files} delivered=${count.delivered} duplicates=${count.duplicates} lost=${count.lost} ` +
    `drain_seconds=${drainSeconds.toFixed(1)}${extra ? ` ${extra}` : ''}`;
  // Straight to stderr: jest shows it whether or not --verbose is on, without console.log's stack decoration.
  process.stderr.write(`${line}\n`);
  mkdirSync(path.dirname(SUMMARY_FILE), { recursive: true });
  appendFileSync(SUMMARY_FILE, `${new Date().toISOString()} ${line}\n`);
  return line;
}

/** Cuts every connection the product holds to the test database, as a PostgreSQL restart or failover would. */
export async function terminateBackends(stack: Stack): Promise<number> {
  const { rows } = await stack.pg.query<{ pid: number; killed: boolean }>(
    `select pid, pg_terminate_backend(pid) as killed from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()`,
    [stack.db.name],
  );
  return rows.filter((r) => r.killed).length;
}

/**
 * Makes the delivery tree unwritable for everyone, root included (sshd runs as root in tests and root ignores modes):
 * `chattr +i` on the base folder and every clinic folder in it. Where the filesystem has no immutable flag (overlayfs),
 * the base folder is moved aside and a regular file takes its name, so mkdir and uploads below it fail.
 */
export async function blockRemote(stack: Stack, baseFolder = 'viral_load'): Promise<'chattr' | 'file-in-the-way'> {
  const base = path.join(stack.sshd.remoteRoot, baseFolder);
  mkdirSync(base, { recursive: true });
  const dirs = [base, ...readdirSync(base, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => path.join(base, e.name))];
  try {
    await execFileAsync('chattr', ['+i', ...dirs]);
    blocked.set(stack, { how: 'chattr', dirs });
    return 'chattr';
  } catch {
    renameSync(base, `${base}.aside`);
    writeFileSync(base, 'not a folder\n');
    blocked.set(stack, { how: 'file-in-the-way', dirs: [base] });
    return 'file-in-the-way';
  }
}

const blocked = new Map<Stack, { how: 'chattr' | 'file-in-the-way'; dirs: string[] }>();

export async function unblockRemote(stack: Stack): Promise<void> {
  const state = blocked.get(stack);
  if (!state) return;
  blocked.delete(stack);
  if (state.how === 'chattr') {
    await execFileAsync('chattr', ['-i', ...state.dirs]);
  } else {
    const base = state.dirs[0]!;
    rmSync(base, { force: true });
    renameSync(`${base}.aside`, base);
  }
}

/** Counts lines matching `pattern` in a child's log (to show that a fault really bit). */
export function logMatches(file: string, pattern: RegExp): number {
  if (!existsSync(file)) return 0;
  return readFileSync(file, 'utf8').split('\n').filter((l) => pattern.test(l)).length;
}
