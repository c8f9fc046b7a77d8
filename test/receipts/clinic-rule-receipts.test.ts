import { recordFetches, type ScannedHit } from '../../src/receipts/record-fetches';
import { FileEvent, ForeignFetch, Receipt, ResultFile, UnknownFetch } from '../../src/db/entities';
import { FileLedger } from '../../src/db/file-ledger';
import { migrate, openOrm, type Orm } from '../../src/db/orm';
import { setReceiptRule } from '../../src/remote-folders/receipt-rules';
import type { FetchEvidence } from '../../src/workflows/definitions';
import { createTestDatabase, type TestDatabase } from '../harness/database';
import { fakeWorkflows } from '../harness/fake-workflows';

let db: TestDatabase;
let orm: Orm;
/** Signals the scan sent, by workflow ID. The scan's database writes are what these tests check; Temporal is in e2e. */
const signals: Array<{ workflowId: string; evidence: FetchEvidence }> = [];
const workflows = fakeWorkflows({
  deliverReceipt: async ({ workflowId }, evidence) => {
    signals.push({ workflowId, evidence });
    return 'delivered';
  },
});

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await openOrm(db.url);
  await migrate(orm);
});
afterAll(async () => {
  await orm?.close();
  await db?.drop();
});

let n = 0;
/** A file delivered to `clinicFolder`, waiting for the clinic to fetch it. */
async function delivered(clinicFolder: string): Promise<{ id: number; remotePath: string; workflowId: string }> {
  const ledger = new FileLedger(orm.em.fork());
  const i = ++n;
  const sha256 = `${i}`.padStart(64, 'c');
  const fileName = `066-1200000${i}-3.pdf`;
  const { resultFileId } = await ledger.register({
    workflowId: `file-${sha256}`,
    runId: `run-${i}`,
    fileName,
    uploadPath: `/upload/${fileName}`,
    sizeBytes: 100,
    sha256,
    uploadedAt: new Date(),
  });
  const remotePath = `${clinicFolder}/${fileName}`;
  await ledger.transition(resultFileId, 'AWAITING_ACK', { eventKey: `sent:${i}`, type: 'SENT', message: 'sent' }, { clinicFolder, remotePath, sentAt: new Date() });
  return { id: resultFileId, remotePath, workflowId: `file-${sha256}` };
}

function hit(remotePath: string, client: string, user: string | null, key: string): ScannedHit {
  return {
    hit: { path: `/${remotePath}`, target: `/${remotePath}`, time: Date.parse('2026-03-01T10:00:00Z'), client, user, status: 200, bytes: 100, vhost: undefined },
    evidenceKey: key,
    requestLine: `GET /${remotePath}`,
  };
}

const record = (pending: ScannedHit[]) => recordFetches({ orm, workflows, urlPrefix: '/' }, pending);
const state = async (id: number) => (await orm.em.fork().findOneOrFail(ResultFile, { id })).state;

describe('recording fetches under a clinic folder\'s receipt rule', () => {
  it('keeps a fetch from outside the rule as a foreign access with the reason, not an acknowledgement, and once only', async () => {
    const file = await delivered('viral_load/digawana');
    await setReceiptRule(orm.em.fork(), 'viral_load/digawana', { allowedClients: ['10.20.0.0/16'], allowedUsers: [] }, 'ada');

    const counts = await record([hit(file.remotePath, '10.9.9.9', null, 'k1')]);
    expect(counts).toEqual({ hits: 1, matched: 0, unknownHits: 0, foreignHits: 1 });
    expect(await state(file.id)).toBe('AWAITING_ACK');
    expect(signals.filter((s) => s.workflowId === file.workflowId)).toEqual([]);
    const em = orm.em.fork();
    expect(await em.count(Receipt, { resultFileId: file.id })).toBe(0);
    const foreign = await em.find(ForeignFetch, { resultFileId: file.id });
    expect(foreign).toMatchObject([
      { client: '10.9.9.9', remoteUser: null, clinicFolder: 'viral_load/digawana', status: 200, reason: "client 10.9.9.9 is not one of viral_load/digawana's addresses" },
    ]);
    const events = await em.find(FileEvent, { resultFileId: file.id, type: 'FOREIGN_FETCH' });
    expect(events).toHaveLength(1);
    expect(events[0]!.message).toContain("not counted as receipt: client 10.9.9.9 is not one of viral_load/digawana's addresses");
    expect(events[0]!.state).toBeNull();

    // The same log line read again (a retried chunk): counted by the scan, recorded nowhere twice.
    await record([hit(file.remotePath, '10.9.9.9', null, 'k1')]);
    expect(await orm.em.fork().count(ForeignFetch, { resultFileId: file.id })).toBe(1);
    expect(await orm.em.fork().count(FileEvent, { resultFileId: file.id, type: 'FOREIGN_FETCH' })).toBe(1);
  });

  it('acknowledges a fetch from an allowed range, an IPv4-mapped address, or an allowed user', async () => {
    await setReceiptRule(orm.em.fork(), 'viral_load/gweta', { allowedClients: ['10.20.0.0/16', '2001:db8:5::/48'], allowedUsers: ['gweta'] }, 'ada');
    const [byRange, byMapped, byUser, byV6] = [await delivered('viral_load/gweta'), await delivered('viral_load/gweta'), await delivered('viral_load/gweta'), await delivered('viral_load/gweta')];
    const counts = await record([
      hit(byRange.remotePath, '10.20.1.2', null, 'k2'),
      hit(byMapped.remotePath, '::ffff:10.20.1.3', null, 'k3'),
      hit(byUser.remotePath, '198.51.100.1', 'gweta', 'k4'),
      hit(byV6.remotePath, '2001:db8:5::9', null, 'k5'),
    ]);
    expect(counts).toEqual({ hits: 4, matched: 4, unknownHits: 0, foreignHits: 0 });
    for (const f of [byRange, byMapped, byUser, byV6]) expect(await state(f.id)).toBe('ACKNOWLEDGED');
    expect((await orm.em.fork().findOneOrFail(Receipt, { resultFileId: byUser.id })).remoteUser).toBe('gweta');
    expect(signals.map((s) => s.workflowId)).toEqual(expect.arrayContaining([byRange.workflowId, byMapped.workflowId, byUser.workflowId, byV6.workflowId]));
  });

  it('a folder without a rule counts any fetch, as before; a foreign fetch of an acknowledged file is still kept', async () => {
    const open = await delivered('viral_load/bokaa');
    expect(await record([hit(open.remotePath, '203.0.113.5', null, 'k6')])).toMatchObject({ matched: 1, foreignHits: 0 });
    expect(await state(open.id)).toBe('ACKNOWLEDGED');

    await setReceiptRule(orm.em.fork(), 'viral_load/bokaa', { allowedClients: [], allowedUsers: ['bokaa'] }, 'ada');
    expect(await record([hit(open.remotePath, '203.0.113.5', 'someone', 'k7')])).toMatchObject({ matched: 0, foreignHits: 1 });
    expect(await state(open.id)).toBe('ACKNOWLEDGED');
    expect((await orm.em.fork().findOneOrFail(ForeignFetch, { evidenceKey: 'k7' })).reason).toBe(`user "someone" is not one of viral_load/bokaa's users`);
  });

  it('the rule in force when the log is read decides: after allowing the address, the next fetch acknowledges', async () => {
    const file = await delivered('viral_load/lerala');
    await setReceiptRule(orm.em.fork(), 'viral_load/lerala', { allowedClients: ['10.30.0.0/16'], allowedUsers: [] }, 'ada');
    expect(await record([hit(file.remotePath, '127.0.0.1', null, 'k8')])).toMatchObject({ foreignHits: 1 });
    await setReceiptRule(orm.em.fork(), 'viral_load/lerala', { allowedClients: ['10.30.0.0/16', '127.0.0.1/32'], allowedUsers: [] }, 'ada');
    expect(await record([hit(file.remotePath, '127.0.0.1', null, 'k9')])).toMatchObject({ matched: 1, foreignHits: 0 });
    expect(await state(file.id)).toBe('ACKNOWLEDGED');
    const ack = await orm.em.fork().findOneOrFail(Receipt, { resultFileId: file.id });
    expect(ack).toMatchObject({ evidenceKey: 'k9', first: true });
  });
});

describe('a fetch of a withdrawn file', () => {
  it('counts as nothing: kept as a fetch of a path we have no delivery for, the file stays withdrawn and no workflow is woken', async () => {
    const file = await delivered('viral_load/withdrawn-clinic');
    await new FileLedger(orm.em.fork()).recordWithdrawn(file.id, { withdrawalId: 'w-r-1', actor: 'tom', reason: 'wrong clinic', outcome: 'moved', movedTo: `.withdrawn/${file.remotePath}.w-r-1` });
    const counts = await record([hit(file.remotePath, '10.20.0.5', null, 'withdrawn-1')]);
    expect(counts).toEqual({ hits: 1, matched: 0, unknownHits: 1, foreignHits: 0 });
    expect(await state(file.id)).toBe('WITHDRAWN');
    expect(signals.filter((s) => s.workflowId === file.workflowId)).toEqual([]);
    const em = orm.em.fork();
    expect(await em.count(Receipt, { resultFileId: file.id })).toBe(0);
    expect(await em.count(UnknownFetch, { remotePath: file.remotePath })).toBe(1);
  });
});
