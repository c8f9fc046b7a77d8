import { existsSync, linkSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { HostFileActivities } from '../../src/activities/host-file-activities';
import { createFileSteps, type FileSteps } from '../../src/activities/file-steps';
import { createLedgerActivities, type LedgerActivities } from '../../src/activities/ledger-activities';
import { verifyChain } from '../../src/db/audit-chain';
import { FileEvent, ResultFile } from '../../src/db/entities';
import { HotPathSql } from '../../src/db/hot-path-sql';
import { migrate, openOrm, type Orm } from '../../src/db/orm';
import { sha256OfBuffer } from '../../src/disk/hash';
import { createTestDatabase, type TestDatabase } from '../harness/database';
import { fileActivitiesIn } from '../harness/host-file-activities-in';
import { resultPdf } from '../harness/pdf';

/**
 * The quick send (distributeFileV3's first step) on real files and a real PostgreSQL: the whole happy path in one
 * step, and the step run again after its first attempt died between archiving the file and recording it (a local
 * activity's work is durable only once its workflow task completes, so a crashed worker's step runs again).
 */
let db: TestDatabase;
let orm: Orm;
let hotPath: HotPathSql;
let dir: string;
let files: HostFileActivities;
let ledger: LedgerActivities;
let steps: FileSteps;

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await openOrm(db.url);
  await migrate(orm);
  await orm.em.fork().execute(
    `insert into remote_folder (lab_id, label, folder_tag, folder, base_path, created_at, updated_at) values (1, 'BHS', '12', 'digawana', 'viral_load', now(), now())`,
  );
  hotPath = HotPathSql.forOrm(orm);
  dir = await mkdtemp(path.join(os.tmpdir(), 'gr-quick-'));
  for (const sub of ['upload', 'server-b']) mkdirSync(path.join(dir, sub));
  files = fileActivitiesIn(dir);
  ledger = createLedgerActivities({ orm, hotPath });
  steps = createFileSteps({ files, ledger });
});
afterAll(async () => {
  await hotPath?.close();
  await orm?.close(true);
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function upload(identifier: string, runId: string) {
  const fileName = `${identifier}.pdf`;
  const content = resultPdf(identifier);
  const uploadPath = path.join(dir, 'upload', fileName);
  writeFileSync(uploadPath, content);
  return {
    workflowId: `file-${runId}`,
    runId,
    fileName,
    uploadPath,
    sizeBytes: content.length,
    sha256: sha256OfBuffer(content),
    uploadedAt: '2026-12-02T08:00:00.000Z',
    ackTimeout: '30d',
  };
}

async function trail(resultFileId: number) {
  const em = orm.em.fork();
  const row = await em.findOneOrFail(ResultFile, { id: resultFileId });
  const events = await em.find(FileEvent, { resultFileId }, { orderBy: { seq: 'asc' } });
  return { state: row.state, clinicFolder: row.clinicFolder, remotePath: row.remotePath, archivePath: row.archivePath, events: events.map((e) => e.type) };
}

/** As the worker runs the step: a local activity (the transfer asks its context whether it may heartbeat). */
const asLocalActivity = <T>(work: () => Promise<T>): Promise<T> => new MockActivityEnvironment({ isLocal: true }).run(work);

const DELIVERED_TRAIL = ['RECEIVED', 'VALIDATED', 'ROUTED', 'SENT', 'ARCHIVED'];

test('one step checks, sends, archives and records a file; run again, it finds all of it done', async () => {
  const input = upload('066-12000001-3', 'run-happy');
  const first = await asLocalActivity(() => steps.receiveAndSend(input));
  expect(first).toMatchObject({ kind: 'delivered', clinicFolder: 'viral_load/digawana', delivery: { remotePath: 'viral_load/digawana/066-12000001-3.pdf', alreadyPresent: false } });
  if (first.kind !== 'delivered') throw new Error('not delivered');
  expect(existsSync(input.uploadPath)).toBe(false);
  expect(existsSync(first.archivePath)).toBe(true);
  expect(await trail(first.resultFileId)).toEqual({
    state: 'AWAITING_ACK',
    clinicFolder: 'viral_load/digawana',
    remotePath: 'viral_load/digawana/066-12000001-3.pdf',
    archivePath: first.archivePath,
    events: DELIVERED_TRAIL,
  });
  // A crash after the step finished but before its workflow task completed: the step runs again and changes nothing.
  expect(await asLocalActivity(() => steps.receiveAndSend(input))).toEqual(first);
  expect((await trail(first.resultFileId)).events).toEqual(DELIVERED_TRAIL);
});

test('the first attempt died after sending and archiving, before recording: the step sends from the archive and records once', async () => {
  const input = upload('066-12000002-3', 'run-crashed');
  // What the first attempt got done before the worker died.
  const { resultFileId } = await ledger.registerUpload(input);
  await asLocalActivity(() =>
    files.transferFile({ uploadPath: input.uploadPath, fileName: input.fileName, sha256: input.sha256, sizeBytes: input.sizeBytes, folder: 'viral_load/digawana' }),
  );
  const { archivePath } = await files.archiveOriginal(input);

  const again = await asLocalActivity(() => steps.receiveAndSend(input));
  expect(again).toMatchObject({ kind: 'delivered', resultFileId, archivePath, delivery: { remotePath: 'viral_load/digawana/066-12000002-3.pdf', alreadyPresent: true } });
  expect(await trail(resultFileId)).toMatchObject({ state: 'AWAITING_ACK', archivePath, events: DELIVERED_TRAIL });
  // One copy at the clinic, one in the archive, nothing left in the upload folder.
  expect(readdirSync(path.join(dir, 'server-b', 'viral_load', 'digawana')).filter((f) => f.includes('12000002'))).toEqual(['066-12000002-3.pdf']);
  expect(existsSync(input.uploadPath)).toBe(false);
  expect(await verifyChain(orm.em.fork())).toMatchObject({ ok: true });
});

test('the first attempt died between the archive\'s link and its unlink: the upload left in place is removed, the file recorded once', async () => {
  const input = upload('066-12000003-3', 'run-half-archived');
  const { resultFileId } = await ledger.registerUpload(input);
  await asLocalActivity(() =>
    files.transferFile({ uploadPath: input.uploadPath, fileName: input.fileName, sha256: input.sha256, sizeBytes: input.sizeBytes, folder: 'viral_load/digawana' }),
  );
  // What moveIntoFolder had done when the worker died: the archive's hard link made, the upload not yet unlinked.
  const archived = path.join(dir, 'archive', '2026', '12', '02', input.fileName);
  mkdirSync(path.dirname(archived), { recursive: true });
  linkSync(input.uploadPath, archived);

  const again = await asLocalActivity(() => steps.receiveAndSend(input));
  expect(again).toMatchObject({ kind: 'delivered', resultFileId, archivePath: archived, delivery: { alreadyPresent: true } });
  expect(existsSync(input.uploadPath)).toBe(false);
  expect(existsSync(archived)).toBe(true);
  expect(await trail(resultFileId)).toMatchObject({ state: 'AWAITING_ACK', archivePath: archived, events: DELIVERED_TRAIL });
});
