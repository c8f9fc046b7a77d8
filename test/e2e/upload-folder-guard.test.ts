import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import type { HostFileActivities } from '../../src/activities/host-file-activities';
import { sha256OfBuffer } from '../../src/disk/hash';
import { fileActivitiesIn } from '../harness/host-file-activities-in';
import { resultPdf } from '../harness/pdf';

/**
 * Issue 11: a workflow's input and its copyUploaded signal carry paths, and anyone who can reach Temporal can forge
 * them. On real files: a path that is not directly in the upload folder is never read, moved or sent, whichever way
 * it points out (another folder, `..`, a symlinked folder).
 */
let dir: string;
let files: HostFileActivities;
let outsideFile: string;
const content = resultPdf('066-12000001-3');

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gr-guard-'));
  for (const sub of ['upload', 'outside', 'server-b']) mkdirSync(path.join(dir, sub));
  outsideFile = path.join(dir, 'outside', '066-12000001-3.pdf');
  writeFileSync(outsideFile, content);
  symlinkSync(path.join(dir, 'outside'), path.join(dir, 'upload', 'linked'));
  files = fileActivitiesIn(dir);
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Each way out, as a path built once the folders exist. */
const forgedPaths: Array<[string, () => string]> = [
  ['another folder', () => outsideFile],
  ['.. out of the upload folder', () => `${path.join(dir, 'upload')}/../outside/066-12000001-3.pdf`],
  ['a symlinked folder inside it', () => path.join(dir, 'upload', 'linked', '066-12000001-3.pdf')],
  ['a relative path', () => 'outside/066-12000001-3.pdf'],
];
const ref = (uploadPath: string) => ({ uploadPath, fileName: '066-12000001-3.pdf', sha256: sha256OfBuffer(content), uploadedAt: '2026-12-02T08:00:00.000Z' });

function untouched(): void {
  expect(readFileSync(outsideFile)).toEqual(content);
  for (const sub of ['archive', 'rejected', 'duplicates']) expect(existsSync(path.join(dir, sub))).toBe(false);
  expect(existsSync(path.join(dir, 'server-b', 'viral_load'))).toBe(false);
}

describe.each(forgedPaths)('a path through %s', (_how, pathOf) => {
  let forged: string;
  beforeAll(() => {
    forged = pathOf();
  });

  test('is rejected by the check without being read, and the rejection moves nothing', async () => {
    const checked = await files.validateUpload(ref(forged));
    expect(checked).toEqual({ outcome: 'rejected', result: { ok: false, code: 'OUTSIDE_UPLOAD_FOLDER', reason: expect.stringContaining('not in the upload folder') } });
    expect(await files.quarantineRejected({ ...ref(forged), code: 'OUTSIDE_UPLOAD_FOLDER', reason: 'x' })).toEqual({ rejectedPath: forged });
    untouched();
  });

  test('is not set aside as a copy (a forged copyUploaded signal), nor archived, nor sent', async () => {
    expect(await files.setAsideDuplicate(ref(forged))).toEqual({ duplicatePath: null, refused: expect.stringContaining('not in the upload folder') });
    await expect(files.archiveOriginal(ref(forged))).rejects.toBeInstanceOf(ApplicationFailure);
    const send = new MockActivityEnvironment().run(() => files.transferFile({ ...ref(forged), sizeBytes: content.length, folder: 'viral_load/digawana' }));
    await expect(send).rejects.toMatchObject({ type: 'FileSuperseded' });
    untouched();
  });
});

test('a file directly in the upload folder is checked and archived as always', async () => {
  const inside = path.join(dir, 'upload', '066-12000001-3.pdf');
  writeFileSync(inside, content);
  expect(await files.validateUpload(ref(inside))).toMatchObject({ outcome: 'valid' });
  const { archivePath } = await files.archiveOriginal(ref(inside));
  expect(readFileSync(archivePath)).toEqual(content);
  expect(existsSync(inside)).toBe(false);
  expect(readFileSync(outsideFile)).toEqual(content);
});
