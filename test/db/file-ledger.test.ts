import { createLedgerActivities, type LedgerActivities } from '../../src/activities/ledger-activities';
import { verifyChain } from '../../src/db/audit-chain';
import { FileEvent, ResultFile } from '../../src/db/entities';
import { FileLedger } from '../../src/db/file-ledger';
import { HotPathSql } from '../../src/db/hot-path-sql';
import { migrate, openOrm, type Orm } from '../../src/db/orm';
import { createTestDatabase, type TestDatabase } from '../harness/database';

let db: TestDatabase;
let orm: Orm;
let hotPath: HotPathSql;
let ledger: LedgerActivities;

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await openOrm(db.url);
  await migrate(orm);
  // As the workers run it: the per-file writes on their own pool.
  hotPath = HotPathSql.forOrm(orm);
  ledger = createLedgerActivities({ orm, hotPath });
});
afterAll(async () => {
  await hotPath?.close();
  await orm?.close(true);
  await db?.drop();
});

const upload = (runId: string, uploadPath: string) => ({
  workflowId: 'file-abc',
  runId,
  fileName: '066-12000001-3.pdf',
  uploadPath,
  sizeBytes: 10,
  sha256: 'ab'.repeat(32),
  uploadedAt: '2026-12-01T08:00:00.000Z',
});

describe('copies announced during a delivery', () => {
  test('a copy that was set aside gets a DUPLICATE row of its own; one already gone leaves none', async () => {
    const { resultFileId } = await ledger.registerUpload(upload('run-1', '/upload/066-12000001-3.pdf'));
    const kept = await ledger.recordCopySetAside({
      resultFileId,
      copy: upload('run-1:copy:0', '/upload/copy.pdf'),
      duplicatePath: '/duplicates/066-12000001-3.pdf',
    });
    // Our own file, announced again by a restarted watcher just as it was archived: nothing was there to set aside.
    const gone = await ledger.recordCopySetAside({ resultFileId, copy: upload('run-1:copy:1', '/upload/066-12000001-3.pdf'), duplicatePath: null });
    expect(gone).toBeNull();
    const rows = await orm.em.fork().find(ResultFile, { sha256: 'ab'.repeat(32) }, { orderBy: { id: 'asc' } });
    expect(rows.map((r) => [r.id, r.state, r.duplicateOf])).toEqual([
      [resultFileId, 'RECEIVED', null],
      [kept, 'DUPLICATE', resultFileId],
    ]);
  });
});

describe('the ledger hot path (SQL under the chain lock)', () => {
  const events = async (resultFileId: number) =>
    (await orm.em.fork().find(FileEvent, { resultFileId }, { orderBy: { seq: 'asc' } })).map((e) => [e.type, e.state]);

  test('registration is once per run; the same content again is a DUPLICATE of the live delivery, noted on it', async () => {
    const sha256 = 'cd'.repeat(32);
    const first = await ledger.registerUpload({ ...upload('run-a', '/upload/a.pdf'), sha256 });
    expect(await ledger.registerUpload({ ...upload('run-a', '/upload/a.pdf'), sha256 })).toEqual({ ...first, recorded: {} });
    const second = await ledger.registerUpload({ ...upload('run-b', '/upload/b.pdf'), sha256 });
    expect(second).toEqual({ resultFileId: expect.any(Number), duplicateOf: first.resultFileId });
    expect(await events(first.resultFileId)).toEqual([
      ['RECEIVED', 'RECEIVED'],
      ['COPY_UPLOADED', null],
    ]);
    expect(await events(second.resultFileId)).toEqual([
      ['RECEIVED', 'DUPLICATE'],
      ['DUPLICATE', 'DUPLICATE'],
    ]);
    const row = await orm.em.fork().findOneOrFail(ResultFile, { id: second.resultFileId });
    expect(row).toMatchObject({ state: 'DUPLICATE', duplicateOf: first.resultFileId, stateReason: expect.stringContaining(`file #${first.resultFileId}`) });
  });

  test('steps land once each, set their columns, and an acknowledged file never steps back to SENT', async () => {
    const { resultFileId } = await ledger.registerUpload({ ...upload('run-c', '/upload/c.pdf'), sha256: 'ef'.repeat(32) });
    const file = new FileLedger(orm.em.fork());
    const validated = { state: null, event: { eventKey: 'run-c:validated', type: 'VALIDATED', message: 'ok' }, patch: { identifier: '066-12000001-3' } };
    const routed = { state: 'RECEIVED' as const, event: { eventKey: 'run-c:routed', type: 'ROUTED', message: 'routed' }, patch: { clinicFolder: 'viral_load/x' } };
    await file.transitions(resultFileId, [validated, routed]);
    await file.transitions(resultFileId, [validated, routed]); // a retried step: nothing twice
    await file.transition(resultFileId, 'ACKNOWLEDGED', { eventKey: 'ack:1', type: 'ACKNOWLEDGED', message: 'fetched' });
    await file.transition(resultFileId, 'SENT', { eventKey: 'run-c:sent', type: 'SENT', message: 'sent' }, { remotePath: 'viral_load/x/c.pdf' });
    expect(await events(resultFileId)).toEqual([
      ['RECEIVED', 'RECEIVED'],
      ['VALIDATED', null],
      ['ROUTED', 'RECEIVED'],
      ['ACKNOWLEDGED', 'ACKNOWLEDGED'],
      ['SENT', 'SENT'],
    ]);
    const row = await orm.em.fork().findOneOrFail(ResultFile, { id: resultFileId });
    expect(row).toMatchObject({ state: 'ACKNOWLEDGED', identifier: '066-12000001-3', clinicFolder: 'viral_load/x', remotePath: 'viral_load/x/c.pdf' });
    expect(await verifyChain(orm.em.fork())).toMatchObject({ ok: true, firstBreak: null });
  });

  test('a run registering again reads back what it recorded, so a step run again after a crash resumes there', async () => {
    const run = 'run-d';
    const { resultFileId } = await ledger.registerUpload({ ...upload(run, '/upload/d.pdf'), sha256: '12'.repeat(32) });
    const delivery = { remotePath: 'viral_load/x/d.pdf', renamedBecauseOfConflict: false, alreadyPresent: false, verifiedBy: 'remote-sha256sum' as const };
    await ledger.recordSent({ resultFileId, runId: run, destination: 'viral_load/x', delivery, sha256: '12'.repeat(32) });
    expect((await ledger.registerUpload({ ...upload(run, '/upload/d.pdf'), sha256: '12'.repeat(32) })).recorded).toEqual({
      sent: { ...delivery, destination: 'viral_load/x', sha256: '12'.repeat(32) },
    });
    await ledger.recordArchived({ resultFileId, runId: run, archivePath: '/archive/d.pdf', ackTimeout: '30d' });
    expect((await ledger.registerUpload({ ...upload(run, '/upload/d.pdf'), sha256: '12'.repeat(32) })).recorded).toMatchObject({
      sent: { remotePath: 'viral_load/x/d.pdf' },
      archivePath: '/archive/d.pdf',
    });
    // Another run's steps are not this run's.
    const other = await ledger.registerUpload({ ...upload('run-e', '/upload/e.pdf'), sha256: '34'.repeat(32) });
    await ledger.recordRejected({ resultFileId: other.resultFileId, runId: 'run-e', code: 'PDF_INVALID', reason: 'Not a PDF.', rejectedPath: '/rejected/e.pdf' });
    expect((await ledger.registerUpload({ ...upload('run-e', '/upload/e.pdf'), sha256: '34'.repeat(32) })).recorded).toEqual({
      rejected: { code: 'PDF_INVALID', reason: 'Not a PDF.' },
    });
  });

  test('a quick send records the check, the route and the delivery in one transaction, found by plain SQL', async () => {
    const em = orm.em.fork();
    await em.execute(`insert into remote_folder (lab_id, base_path, folder, folder_tag, label, created_at, updated_at) values (1, 'viral_load', 'quickclinic', '77', 'BHP', now(), now()) on conflict do nothing`);
    const run = 'run-q';
    const { resultFileId } = await ledger.registerUpload({ ...upload(run, '/upload/q.pdf'), sha256: '56'.repeat(32) });
    const identification = { label: 'BHP', identifier: '066-77000001-3', hint: '77' };
    expect(await ledger.routeFile({ resultFileId, runId: run, attempt: 0, identification, pages: 2, deferRouted: true })).toEqual({ clinicFolder: 'viral_load/quickclinic' });
    expect(await events(resultFileId)).toEqual([['RECEIVED', 'RECEIVED']]);
    const delivery = { remotePath: 'viral_load/quickclinic/q.pdf', renamedBecauseOfConflict: false, alreadyPresent: false, verifiedBy: 'read-back' as const };
    await ledger.recordSent({ resultFileId, runId: run, destination: 'viral_load/quickclinic', delivery, sha256: '56'.repeat(32), routed: { attempt: 0, identification, pages: 2 } });
    expect(await events(resultFileId)).toEqual([
      ['RECEIVED', 'RECEIVED'],
      ['VALIDATED', null],
      ['ROUTED', 'RECEIVED'],
      ['SENT', 'SENT'],
    ]);
    const row = await orm.em.fork().findOneOrFail(ResultFile, { id: resultFileId });
    expect(row).toMatchObject({ state: 'SENT', identifier: '066-77000001-3', clinicFolder: 'viral_load/quickclinic', remotePath: 'viral_load/quickclinic/q.pdf' });
    expect(await ledger.routeFile({ resultFileId, runId: 'run-other', attempt: 0, identification: { ...identification, hint: '78' }, pages: 2, deferRouted: true })).toBeNull();
    expect(await verifyChain(orm.em.fork())).toMatchObject({ ok: true, firstBreak: null });
  });

  test('concurrent files on the hot path and a web action on the ORM extend one unbroken chain', async () => {
    const files = await Promise.all(
      Array.from({ length: 24 }, (_, i) => ledger.registerUpload({ ...upload(`run-c${i}`, `/upload/c${i}.pdf`), sha256: (i + 100).toString(16).padStart(64, '0') })),
    );
    await Promise.all([
      ...files.map(({ resultFileId }, i) =>
        ledger.recordSent({
          resultFileId,
          runId: `run-c${i}`,
          destination: 'viral_load/x',
          delivery: { remotePath: `viral_load/x/c${i}.pdf`, renamedBecauseOfConflict: false, alreadyPresent: false, verifiedBy: 'read-back' },
          sha256: 'ff'.repeat(32),
          routed: { attempt: 0, identification: { label: 'BHP', identifier: '066-12000001-3', hint: '12' }, pages: 1 },
        }),
      ),
      // The web page's actions write through the ORM, in their own transaction.
      new FileLedger(orm.em.fork()).transition(files[0]!.resultFileId, null, { eventKey: 'web:note:1', type: 'NOTE', message: 'checked by a person', actor: 'tech1' }),
    ]);
    expect(await verifyChain(orm.em.fork())).toMatchObject({ ok: true, firstBreak: null });
    const sent = await orm.em.fork().count(FileEvent, { resultFileId: { $in: files.map((f) => f.resultFileId) }, type: 'SENT' });
    expect(sent).toBe(24);
  });
});

describe('a withdrawn file', () => {
  test('stays withdrawn whatever its run records later, and its content may be sent again as a new delivery', async () => {
    const sha256 = 'e7'.repeat(32);
    const first = { ...upload('run-w1', '/upload/066-12000301-3.pdf'), sha256, fileName: '066-12000301-3.pdf' };
    const { resultFileId } = await ledger.registerUpload(first);
    await ledger.recordSent({ resultFileId, runId: 'run-w1', destination: 'test', sha256, delivery: { remotePath: 'viral_load/x/066-12000301-3.pdf', renamedBecauseOfConflict: false, alreadyPresent: false, verifiedBy: 'read-back' } });
    await ledger.recordArchived({ resultFileId, runId: 'run-w1', archivePath: '/archive/066-12000301-3.pdf', ackTimeout: '30d' });
    const ledgerOf = () => new FileLedger(orm.em.fork());
    const withdrawal = { withdrawalId: 'w-301-1', actor: 'tom', reason: 'sent to the wrong clinic', outcome: 'moved' as const, movedTo: '.withdrawn/viral_load/x/066-12000301-3.pdf.w-301-1' };
    await ledgerOf().recordWithdrawn(resultFileId, withdrawal);
    await ledgerOf().recordWithdrawn(resultFileId, withdrawal); // a retried activity lands once
    // The run had not heard of it: its deadline passes and it records so, without bringing the file back.
    await ledger.recordUnacknowledged({ resultFileId, runId: 'run-w1', ackTimeout: '30d' });
    const row = await orm.em.fork().findOneOrFail(ResultFile, { id: resultFileId });
    expect(row.state).toBe('WITHDRAWN');
    expect(row.stateReason).toBe('Withdrawn by tom: sent to the wrong clinic');
    const events = await orm.em.fork().find(FileEvent, { resultFileId }, { orderBy: { seq: 'asc' } });
    expect(events.filter((e) => e.type === 'WITHDRAWN')).toMatchObject([
      { actor: 'tom', state: 'WITHDRAWN', message: 'Withdrawn by tom: sent to the wrong clinic. Moved aside on server B to .withdrawn/viral_load/x/066-12000301-3.pdf.w-301-1; the clinic no longer sees it.' },
    ]);
    expect(events.at(-1)!.type).toBe('UNACKNOWLEDGED');
    // The same content uploaded again is a delivery of its own, not a duplicate of the withdrawn one.
    const again = await ledger.registerUpload({ ...first, runId: 'run-w2', workflowId: 'file-cd2', uploadPath: '/upload/066-12000301-3-again.pdf' });
    expect(again.duplicateOf).toBeUndefined();
    expect(again.resultFileId).not.toBe(resultFileId);
    expect(await verifyChain(orm.em.fork())).toMatchObject({ ok: true });
  });
});

describe('recorded fetches', () => {
  const fetch = (evidenceKey: string) => ({
    evidenceKey,
    accessedAt: '2026-12-02T09:00:00.000Z',
    client: '10.20.0.5',
    requestLine: 'GET /viral_load/digawana/066-12000001-3.pdf',
    status: 200,
    remotePath: 'viral_load/digawana/066-12000001-3.pdf',
  });

  test('a log line is recorded once, in the table it was first judged into: a receipt is not also unknown, nor the reverse', async () => {
    const { resultFileId } = await ledger.registerUpload({ ...upload('run-fetch', '/upload/fetched.pdf'), workflowId: 'file-fetched', sha256: 'f1'.repeat(32) });
    const files = new FileLedger(orm.em.fork());
    await files.recordReceipts(resultFileId, [fetch('line:receipt')]);
    // Re-read once the file was withdrawn: the scan would call it unknown.
    expect(await files.recordUnknownFetch(fetch('line:receipt'))).toBe(false);
    expect(await files.recordUnknownFetch(fetch('line:unknown'))).toBe(true);
    // Re-read once a file was delivered at that path: still the unknown fetch it was.
    await files.recordReceipts(resultFileId, [fetch('line:unknown')]);
    const sql = orm.em.getConnection();
    expect(await sql.execute('select evidence_key from receipt where result_file_id = ?', [resultFileId])).toEqual([{ evidence_key: 'line:receipt' }]);
    expect(await sql.execute(`select evidence_key from unknown_fetch where evidence_key like 'line:%'`)).toEqual([{ evidence_key: 'line:unknown' }]);
  });
});
