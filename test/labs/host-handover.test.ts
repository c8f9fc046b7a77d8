import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHandoverActivities, type HandoverActivities } from '../../src/activities/handover-activities';
import { FileHandover } from '../../src/db/entities';
import { FileLedger } from '../../src/db/file-ledger';
import { migrate, openOrm, type Orm } from '../../src/db/orm';
import { putHandover, withdrawUpload, claimUpload } from '../../src/labs/file-handover';
import { reinstateUploadHost, retireUploadHost } from '../../src/labs/retire-host';
import { registerUploadHost, type FileHost } from '../../src/labs/upload-hosts';
import { createTestDatabase, type TestDatabase } from '../harness/database';
import { resultPdf } from '../harness/pdf';

/**
 * The upload host's side of the handovers (issue 13), on a real PostgreSQL and real folders: what it hands the web
 * page and what it places in its upload folder is decided by the database and its own folders, never by the message.
 */
let db: TestDatabase;
let orm: Orm;
let root: string;
let host: FileHost;
let activities: HandoverActivities;
const dirs = { archive: '', upload: '', elsewhere: '' };
const sha = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
const handoverId = () => crypto.randomUUID();
let seq = 0;

async function archivedFile(name: string, options: { content?: Buffer; recordedSha?: string; hostName?: string; folder?: string; state?: 'AWAITING_ACK' | 'RECEIVED' } = {}) {
  const content = options.content ?? resultPdf(name.replace(/\.pdf$/, ''));
  const file = path.join(options.folder ?? dirs.archive, name);
  writeFileSync(file, content);
  const ledger = new FileLedger(orm.em.fork());
  const hostOf = options.hostName ? await registerUploadHost(orm.em.fork(), options.hostName, 'default') : host;
  const n = ++seq;
  const { resultFileId } = await ledger.register({
    workflowId: `file-${n}`,
    runId: `run-${n}`,
    fileName: name,
    uploadPath: `/upload/${name}`,
    sizeBytes: content.length,
    sha256: options.recordedSha ?? sha(content),
    uploadedAt: new Date(),
    host: hostOf,
  });
  if (options.state !== 'RECEIVED') {
    await ledger.transition(resultFileId, 'AWAITING_ACK', { eventKey: `seed:${n}`, type: 'ARCHIVED', message: 'Seeded.' }, { archivePath: file, sentAt: new Date() });
  }
  return { id: resultFileId, content };
}

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await openOrm(db.url);
  await migrate(orm);
  root = mkdtempSync(path.join(os.tmpdir(), 'gr-handover-'));
  for (const key of Object.keys(dirs) as Array<keyof typeof dirs>) mkdirSync((dirs[key] = path.join(root, key)));
  host = await registerUploadHost(orm.em.fork(), 'host-a', 'default');
  activities = createHandoverActivities({ orm, host, keptFileRoots: [dirs.archive], uploadDir: dirs.upload, maxFileBytes: 64 * 1024 });
});
afterAll(async () => {
  await orm?.close(true);
  await db?.drop();
  if (root) rmSync(root, { recursive: true, force: true });
});

const handovers = () => orm.em.fork().find(FileHandover, {}, { disableIdentityMap: true });

describe('handing an archived PDF to the web page', () => {
  test('puts the archived bytes, as recorded, into one handover row', async () => {
    const { id, content } = await archivedFile('066-12000001-3.pdf');
    const hid = handoverId();
    expect(await activities.handOverArchivedPdf({ handoverId: hid, resultFileId: id })).toEqual({ outcome: 'handed-over', sizeBytes: content.length });
    const [row] = (await handovers()).filter((h) => h.id === hid);
    expect(row).toMatchObject({ direction: 'to-web', resultFileId: id, fileName: '066-12000001-3.pdf', sha256: sha(content) });
    expect(Buffer.from(row!.content).equals(content)).toBe(true);
  });

  test('hands over nothing of another host, outside its folders, too large, or not what was recorded', async () => {
    const before = (await handovers()).length;
    const otherHost = await archivedFile('066-12000002-3.pdf', { hostName: 'host-b' });
    const outside = await archivedFile('066-12000003-3.pdf', { folder: dirs.elsewhere });
    const large = await archivedFile('066-12000004-3.pdf', { content: Buffer.concat([resultPdf('066-12000004-3'), Buffer.alloc(70 * 1024)]) });
    const changed = await archivedFile('066-12000005-3.pdf', { recordedSha: 'e'.repeat(64) });
    const ask = (resultFileId: number) => activities.handOverArchivedPdf({ handoverId: handoverId(), resultFileId });
    expect(await ask(otherHost.id)).toEqual({ outcome: 'missing' });
    expect(await ask(outside.id)).toEqual({ outcome: 'missing' });
    expect(await ask(large.id)).toEqual({ outcome: 'too-large', sizeBytes: large.content.length });
    expect(await ask(changed.id)).toEqual({ outcome: 'changed' });
    expect(await ask(987_654)).toEqual({ outcome: 'missing' });
    expect((await handovers()).length).toBe(before);
  });
});

describe('placing a web upload in the host\'s upload folder', () => {
  const upload = async (name: string, content: Buffer) => {
    const id = handoverId();
    await putHandover(orm.em.fork(), { id, direction: 'to-host', fileName: name, sha256: sha(content), content });
    return id;
  };
  const visible = () => readdirSync(dirs.upload).filter((n) => !n.startsWith('.'));

  test('gives the upload its name in the folder, whole, and drops the handover', async () => {
    const content = resultPdf('066-12000011-3');
    const id = await upload('066-12000011-3.pdf', content);
    expect(await activities.placeWebUpload({ handoverId: id })).toEqual({ outcome: 'placed' });
    expect(readFileSync(path.join(dirs.upload, '066-12000011-3.pdf')).equals(content)).toBe(true);
    expect(readdirSync(dirs.upload).filter((n) => n.startsWith('.'))).toEqual([]);
    expect((await handovers()).some((h) => h.id === id)).toBe(false);
  });

  test('never replaces a different file of the same name still waiting there', async () => {
    const id = await upload('066-12000011-3.pdf', resultPdf('066-12000011-3', { pages: ['Corrected result for 066-12000011-3'] }));
    expect(await activities.placeWebUpload({ handoverId: id })).toEqual({ outcome: 'name-taken' });
    expect(readFileSync(path.join(dirs.upload, '066-12000011-3.pdf')).equals(resultPdf('066-12000011-3'))).toBe(true);
  });

  test('places nothing once the page has withdrawn it, and the page cannot withdraw one the host has taken', async () => {
    const withdrawn = await upload('066-12000012-3.pdf', resultPdf('066-12000012-3'));
    expect(await withdrawUpload(orm.em.fork(), withdrawn)).toBe(true);
    expect(await activities.placeWebUpload({ handoverId: withdrawn })).toEqual({ outcome: 'withdrawn' });
    expect(visible()).not.toContain('066-12000012-3.pdf');

    // A worker that died after taking it: the retry places it, and the page's late withdrawal changes nothing.
    const taken = await upload('066-12000013-3.pdf', resultPdf('066-12000013-3'));
    expect(await claimUpload(orm.em.fork(), taken)).toBe(true);
    expect(await withdrawUpload(orm.em.fork(), taken)).toBe(false);
    expect(await activities.placeWebUpload({ handoverId: taken })).toEqual({ outcome: 'placed' });
    expect(visible()).toContain('066-12000013-3.pdf');
  });

  test('refuses a name the page would have refused, or content that is not what the row says', async () => {
    const sneaky = handoverId();
    const content = resultPdf('066-12000014-3');
    await putHandover(orm.em.fork(), { id: sneaky, direction: 'to-host', fileName: '../066-12000014-3.pdf', sha256: sha(content), content });
    const tampered = handoverId();
    await putHandover(orm.em.fork(), { id: tampered, direction: 'to-host', fileName: '066-12000015-3.pdf', sha256: 'f'.repeat(64), content });
    expect(await activities.placeWebUpload({ handoverId: sneaky })).toEqual({ outcome: 'withdrawn' });
    expect(await activities.placeWebUpload({ handoverId: tampered })).toEqual({ outcome: 'withdrawn' });
    expect(visible()).not.toContain('066-12000015-3.pdf');
    expect(readdirSync(root)).toEqual(expect.not.arrayContaining(['066-12000014-3.pdf']));
    expect((await handovers()).some((h) => h.id === sneaky || h.id === tampered)).toBe(false);
  });
});

describe('retiring an upload host', () => {
  test('is refused while the host holds a file not yet at its clinic, then done, and undone', async () => {
    await registerUploadHost(orm.em.fork(), 'host-c', 'default');
    const held = await archivedFile('066-12000021-3.pdf', { hostName: 'host-c', state: 'RECEIVED' });
    expect(await retireUploadHost(orm.em.fork(), 'host-c')).toEqual({ retired: false, notYetDelivered: [{ id: held.id, state: 'RECEIVED' }] });

    await new FileLedger(orm.em.fork()).transition(held.id, 'AWAITING_ACK', { eventKey: 'seed:sent-c', type: 'ARCHIVED', message: 'Seeded.' }, { sentAt: new Date() });
    const retired = await retireUploadHost(orm.em.fork(), 'host-c');
    expect(retired).toMatchObject({ retired: true, already: false, awaitingFetch: 1 });
    expect(await retireUploadHost(orm.em.fork(), 'host-c')).toMatchObject({ retired: true, already: true, awaitingFetch: 1 });
    expect(await reinstateUploadHost(orm.em.fork(), 'host-c')).toBe(true);
    expect(await reinstateUploadHost(orm.em.fork(), 'host-c')).toBe(false);
    await expect(retireUploadHost(orm.em.fork(), 'no-such-host')).rejects.toThrow('There is no upload host "no-such-host"');
  });
});
