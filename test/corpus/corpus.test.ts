import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, symlinkSync, truncateSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createHostFileActivities } from '../../src/activities/host-file-activities';
import { SEED_PATTERNS } from '../../src/config/patterns';
import { IdentifierPatterns } from '../../src/domain/identifier-patterns';
import { openOrm } from '../../src/db/orm';
import { NAME_MAX } from '../../src/disk/name-limits';
import { reasonFileFor } from '../../src/disk/safe-move';
import { conflictNameFor, type Destination } from '../../src/transfer/destination';
import { addUser } from '../../src/web/auth/users';
import { createWebApp } from '../../src/web/app';
import { listTree, sha256OfBuffer } from '../harness/sshd';
import { startStack, type ChildHandle, type ResultFileRow, type Stack } from '../harness/stack';
import { waitFor } from '../harness/wait-for';
import { PASSWORD, TestBrowser } from '../web/web-harness';
import { encryptedPdf, htmlPage, pngBytes, resultPdf, scannedPdf, storedZipOfPdf, truncatedPdf, zipOfPdf } from './hostile-inputs';

/**
 * The corpus: hostile and broken inputs dropped into the upload folder of the real stack (Temporal, PostgreSQL,
 * OpenSSH, `getresults worker` and `getresults watch` as child processes). Each case states its expected end state and
 * why. At the end: both processes are alive, server B holds exactly the expected files, every rejected input is kept
 * beside its .reason.json with its reason in the database, and the technician page lists the rejections.
 */

const SEED_CSV = path.join(__dirname, '..', '..', 'config', 'remote_folders.csv');
const MAX_MB = 5;
const pad = (stem: string, ext: string, filler = 'x') => {
  const room = NAME_MAX - Buffer.byteLength(stem) - Buffer.byteLength(ext);
  let middle = '';
  while (Buffer.byteLength(middle + filler) <= room) middle += filler;
  return `${stem}${middle}${'_'.repeat(room - Buffer.byteLength(middle))}${ext}`;
};

type Expect =
  | { state: 'AWAITING_ACK'; remote: string }
  | { state: 'REJECTED'; code: string }
  | { state: 'DUPLICATE' }
  | { state: 'NONE' }; // never recorded: left alone or gone before pick-up

interface Case {
  name: string;
  why: string;
  /** Puts the input in place; runs once the stack is up. */
  make: (upload: string) => void | Promise<void>;
  expect: Expect;
}

const LONG_VALID = pad('066-12000111-3_', '.pdf');
const LONG_CONFLICT = pad('066-12000112-3_', '.pdf', 'y');
const LONG_UNICODE = pad('066-12000113-3_', '.pdf', 'é');
const LONG_REJECTED = pad('066-12000114-3_', '.pdf', 'z');

let stack: Stack;
let worker: ChildHandle;
let watcher: ChildHandle;
let outside: string;

/** Writes the way a careful uploader does: a temporary dot-name, then a rename into the upload folder. */
function drop(name: string, content: Buffer | string, mtime?: Date): void {
  const temp = path.join(stack.uploadDir, `.drop-${sha256OfBuffer(Buffer.from(name)).slice(0, 12)}.part`);
  writeFileSync(temp, content);
  if (mtime) utimesSync(temp, mtime, mtime);
  renameSync(temp, path.join(stack.uploadDir, name));
}

const LONG_AGO = new Date('2026-01-02T03:04:05Z');
const digawana = (name: string) => `viral_load/digawana/${name}`;

const CASES: Case[] = [
  { name: '066-12000100-3.pdf', why: 'control: a good result is delivered', make: () => drop('066-12000100-3.pdf', resultPdf('066-12000100-3')), expect: { state: 'AWAITING_ACK', remote: digawana('066-12000100-3.pdf') } },
  { name: '066-12000101-3.pdf', why: 'zero bytes: nothing to send', make: () => drop('066-12000101-3.pdf', ''), expect: { state: 'REJECTED', code: 'EMPTY_FILE' } },
  { name: '066-12000102-3.pdf', why: 'plain text named .pdf', make: () => drop('066-12000102-3.pdf', 'Viral load result for 066-12000102-3\n'), expect: { state: 'REJECTED', code: 'NOT_A_PDF' } },
  { name: '066-12000103-3.pdf', why: 'an HTML page (mentioning %PDF-) named .pdf: not a PDF, and rejected at once rather than after the 60 s "still being written" grace', make: () => drop('066-12000103-3.pdf', htmlPage('066-12000103-3')), expect: { state: 'REJECTED', code: 'NOT_A_PDF' } },
  { name: '066-12000104-3.pdf', why: 'a PNG image named .pdf', make: () => drop('066-12000104-3.pdf', pngBytes()), expect: { state: 'REJECTED', code: 'NOT_A_PDF' } },
  { name: '066-12000105-3.pdf', why: 'a ZIP (deflated) of a result named .pdf', make: () => drop('066-12000105-3.pdf', zipOfPdf('066-12000105-3')), expect: { state: 'REJECTED', code: 'NOT_A_PDF' } },
  { name: '066-12000106-3.pdf', why: 'a stored ZIP whose bytes hold a whole valid PDF: pdf.js reads it, but the clinic would get an archive', make: () => drop('066-12000106-3.pdf', storedZipOfPdf('066-12000106-3')), expect: { state: 'REJECTED', code: 'NOT_A_PDF' } },
  { name: '066-12000107-3.pdf', why: 'a PDF cut off while copying, not modified for a while', make: () => drop('066-12000107-3.pdf', truncatedPdf('066-12000107-3'), LONG_AGO), expect: { state: 'REJECTED', code: 'PDF_INCOMPLETE' } },
  { name: '066-12000108-3.pdf', why: 'password-protected (/Encrypt in the trailer; pdf.js: PasswordException "No password given")', make: () => drop('066-12000108-3.pdf', encryptedPdf('066-12000108-3')), expect: { state: 'REJECTED', code: 'PDF_ENCRYPTED' } },
  { name: '066-12000109-3.pdf', why: 'a scan: one image XObject, no text layer', make: () => drop('066-12000109-3.pdf', scannedPdf()), expect: { state: 'REJECTED', code: 'PDF_NO_TEXT' } },
  { name: '066-12000110-3.pdf', why: "the text holds another patient's identifier", make: () => drop('066-12000110-3.pdf', resultPdf('066-12000999-3')), expect: { state: 'REJECTED', code: 'IDENTIFIER_NOT_IN_TEXT' } },
  { name: '066-99000001-3.pdf', why: 'matches BHS and the extra OVERLAP pattern: the clinic cannot be decided safely', make: () => drop('066-99000001-3.pdf', resultPdf('066-99000001-3')), expect: { state: 'REJECTED', code: 'NAME_AMBIGUOUS' } },
  { name: 'results march.pdf', why: 'a name in no known style', make: () => drop('results march.pdf', resultPdf('results march')), expect: { state: 'REJECTED', code: 'NAME_NO_PATTERN' } },
  { name: '066-12000115-3.pdf', why: 'PDF header and %%EOF around garbage: damaged', make: () => drop('066-12000115-3.pdf', Buffer.concat([Buffer.from('%PDF-1.7\n'), Buffer.alloc(3000, 0x07), Buffer.from('\n%%EOF\n')])), expect: { state: 'REJECTED', code: 'PDF_UNREADABLE' } },
  { name: LONG_VALID, why: 'a 255-byte name: its .part name on server B would be 278 bytes (ENAMETOOLONG); the temporary name is shortened', make: () => drop(LONG_VALID, resultPdf('066-12000111-3')), expect: { state: 'AWAITING_ACK', remote: digawana(LONG_VALID) } },
  {
    name: LONG_CONFLICT,
    why: 'a 255-byte name already taken on server B by other content: the conflict name is shortened to fit, keeping hash and .pdf',
    make: () => {
      mkdirSync(path.join(stack.sshd.remoteRoot, 'viral_load', 'digawana'), { recursive: true });
      writeFileSync(path.join(stack.sshd.remoteRoot, digawana(LONG_CONFLICT)), 'someone else\'s file');
      drop(LONG_CONFLICT, resultPdf('066-12000112-3'));
    },
    expect: { state: 'AWAITING_ACK', remote: digawana(conflictNameFor(LONG_CONFLICT, sha256OfBuffer(resultPdf('066-12000112-3')))) },
  },
  { name: LONG_UNICODE, why: 'a 255-byte name of two-byte characters: shortening never splits a character', make: () => drop(LONG_UNICODE, resultPdf('066-12000113-3')), expect: { state: 'AWAITING_ACK', remote: digawana(LONG_UNICODE) } },
  { name: LONG_REJECTED, why: 'a 255-byte name that is rejected: "<name>.reason.json" would not fit, so it is shortened', make: () => drop(LONG_REJECTED, 'not a pdf'), expect: { state: 'REJECTED', code: 'NOT_A_PDF' } },
  { name: '066-12000116-3 final copy.pdf', why: 'spaces in the name', make: () => drop('066-12000116-3 final copy.pdf', resultPdf('066-12000116-3')), expect: { state: 'AWAITING_ACK', remote: digawana('066-12000116-3 final copy.pdf') } },
  { name: `066-12000117-3 "dr's" copy.pdf`, why: 'double and single quotes (the remote sha256sum command line must quote them)', make: () => drop(`066-12000117-3 "dr's" copy.pdf`, resultPdf('066-12000117-3')), expect: { state: 'AWAITING_ACK', remote: digawana(`066-12000117-3 "dr's" copy.pdf`) } },
  { name: '066-12000118-3\nline two.pdf', why: 'a newline in the name (sha256sum escapes such names in its output)', make: () => drop('066-12000118-3\nline two.pdf', resultPdf('066-12000118-3')), expect: { state: 'AWAITING_ACK', remote: digawana('066-12000118-3\nline two.pdf') } },
  { name: '066-12000119-3 résultat ✓ 結果.pdf', why: 'non-ASCII characters', make: () => drop('066-12000119-3 résultat ✓ 結果.pdf', resultPdf('066-12000119-3')), expect: { state: 'AWAITING_ACK', remote: digawana('066-12000119-3 résultat ✓ 結果.pdf') } },
  { name: '066-12000120-3 a\\b $(id) `x`.pdf', why: 'a backslash and shell syntax in the name: never interpreted', make: () => drop('066-12000120-3 a\\b $(id) `x`.pdf', resultPdf('066-12000120-3')), expect: { state: 'AWAITING_ACK', remote: digawana('066-12000120-3 a\\b $(id) `x`.pdf') } },
  { name: '-066-12000121-3.pdf', why: 'a leading dash (would read as an option); the anchored patterns do not match it', make: () => drop('-066-12000121-3.pdf', resultPdf('066-12000121-3')), expect: { state: 'REJECTED', code: 'NAME_NO_PATTERN' } },
  { name: '--help.pdf', why: 'a name that is an option', make: () => drop('--help.pdf', resultPdf('help text')), expect: { state: 'REJECTED', code: 'NAME_NO_PATTERN' } },
  { name: '066-12000122-3.pdf', why: 'a symlink to a valid result outside the upload folder: never followed, never sent', make: (up) => symlinkSync(path.join(outside, 'outside.pdf'), path.join(up, '066-12000122-3.pdf')), expect: { state: 'REJECTED', code: 'NOT_A_REGULAR_FILE' } },
  { name: '066-12000123-3.pdf', why: 'a dangling symlink (chokidar reports none: the folder listing finds it)', make: (up) => symlinkSync('/nonexistent/066-12000123-3.pdf', path.join(up, '066-12000123-3.pdf')), expect: { state: 'REJECTED', code: 'NOT_A_REGULAR_FILE' } },
  { name: '066-12000124-3.pdf', why: 'a FIFO: opening it for reading would block forever', make: (up) => void execFileSync('mkfifo', [path.join(up, '066-12000124-3.pdf')]), expect: { state: 'REJECTED', code: 'NOT_A_REGULAR_FILE' } },
  {
    name: '066-12000125-3.pdf',
    why: 'a folder (holding a valid PDF) named like a result: folders are not searched; moved aside whole',
    make: (up) => {
      mkdirSync(path.join(up, '066-12000125-3.pdf'));
      writeFileSync(path.join(up, '066-12000125-3.pdf', '066-12000125-3.pdf'), resultPdf('066-12000125-3'));
    },
    expect: { state: 'REJECTED', code: 'NOT_A_REGULAR_FILE' },
  },
  {
    name: '066-12000126-3.pdf',
    why: `${(2 ** 31 + 4096).toLocaleString('en')} bytes (sparse) against a ${MAX_MB} MiB limit: refused on its size, never read into memory`,
    make: (up) => {
      const temp = path.join(up, '.big.part');
      writeFileSync(temp, '%PDF-1.4\n');
      truncateSync(temp, 2 ** 31 + 4096);
      renameSync(temp, path.join(up, '066-12000126-3.pdf'));
    },
    expect: { state: 'REJECTED', code: 'TOO_LARGE' },
  },
  { name: '.066-12000127-3.pdf', why: 'a dot-name is an upload in progress: left alone', make: () => writeFileSync(path.join(stack.uploadDir, '.066-12000127-3.pdf'), resultPdf('066-12000127-3')), expect: { state: 'NONE' } },
  { name: '066-12000128-3.pdf.part', why: 'a .part name is an upload in progress: left alone', make: () => writeFileSync(path.join(stack.uploadDir, '066-12000128-3.pdf.part'), resultPdf('066-12000128-3')), expect: { state: 'NONE' } },
  {
    name: '066-12000129-3.pdf',
    why: 'deleted again within the stability window, before pick-up: nothing recorded, nothing sent',
    make: (up) => {
      writeFileSync(path.join(up, '066-12000129-3.pdf'), resultPdf('066-12000129-3'));
      unlinkSync(path.join(up, '066-12000129-3.pdf'));
    },
    expect: { state: 'NONE' },
  },
];

const SLOW = '066-12000130-3.pdf';
const SLOW_CONTENT = resultPdf('066-12000130-3', { paddingBytes: 300_000 });

/** Appends `content` in chunks with pauses longer than the stability window, over about 3 s. */
async function writeSlowly(file: string, content: Buffer, chunks = 8, pauseMs = 400): Promise<void> {
  const size = Math.ceil(content.length / chunks);
  for (let i = 0; i < chunks; i++) {
    appendFileSync(file, content.subarray(i * size, (i + 1) * size));
    if (i < chunks - 1) await new Promise((r) => setTimeout(r, pauseMs));
  }
}

async function rowFor(name: string, state?: string, timeoutMs = 90_000): Promise<ResultFileRow> {
  return waitFor(
    `${JSON.stringify(name)} to reach ${state ?? 'any state'}`,
    async () => (await stack.fileRows()).find((r) => r.file_name === name && (!state || r.state === state)),
    { timeoutMs, intervalMs: 250 },
  ).catch(async (err: Error) => {
    // What there is instead, for whoever reads a failed run: the rows of that name and the processes' last words.
    const rows = (await stack.fileRows()).filter((r) => r.file_name === name).map((r) => `#${r.id} ${r.state} ${r.state_reason ?? ''}`);
    const tail = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').trimEnd().split('\n').slice(-15).join('\n') : '(no log)');
    throw new Error(`${err.message}\nits rows: ${rows.join('; ') || 'none'}\n--- watcher ---\n${tail(watcher.logFile)}\n--- worker ---\n${tail(worker.logFile)}`);
  });
}

beforeAll(async () => {
  outside = await mkdtemp(path.join(os.tmpdir(), 'gr-outside-'));
  await writeFile(path.join(outside, 'outside.pdf'), resultPdf('066-12000122-3'));
  const patternsFile = path.join(outside, 'patterns.json');
  await writeFile(patternsFile, JSON.stringify([...SEED_PATTERNS, { label: 'OVERLAP', regex: '^066-99', hint: { start: 4, end: 6 } }]));
  stack = await startStack({ env: { GETRESULTS_PATTERNS_FILE: patternsFile, GETRESULTS_MAX_FILE_MB: String(MAX_MB) } });
  expect((await stack.cli(['folders', 'load', SEED_CSV])).code).toBe(0);
  worker = stack.startWorker();
  watcher = stack.startWatcher();
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe('the corpus of hostile and broken inputs, on the real stack', () => {
  it('handles every input as expected, crashes nothing, sends only what should be sent and keeps every rejection', async () => {
    for (const c of CASES) await c.make(stack.uploadDir);

    // A writer appending slowly, pausing longer than GETRESULTS_STABLE_MS between chunks.
    const slowWriter = writeSlowly(path.join(stack.uploadDir, SLOW), SLOW_CONTENT);

    // Replaced while it waits: A waits for a folder (hint 97 unmapped), B is renamed over it, then the folder appears.
    const replacedA = resultPdf('066-97000001-3');
    const replacedB = resultPdf('066-97000001-3', { paddingBytes: 1000 });
    drop('066-97000001-3.pdf', replacedA);
    await waitFor('A to wait for a folder', async () => (await stack.fileRows()).find((r) => r.sha256 === sha256OfBuffer(replacedA) && r.state === 'NEEDS_FOLDER'));
    drop('066-97000001-3.pdf', replacedB);
    await waitFor('B to wait for a folder', async () => (await stack.fileRows()).find((r) => r.sha256 === sha256OfBuffer(replacedB) && r.state === 'NEEDS_FOLDER'));
    const csv = path.join(outside, 'clinic-97.csv');
    writeFileSync(csv, 'base_path,folder,folder_tag,label\nviral_load,clinic97,97,BHS\n');
    expect((await stack.cli(['folders', 'load', csv])).code).toBe(0);

    await slowWriter;

    // Duplicate by content under another name, once the original is delivered.
    const dupContent = resultPdf('066-12000131-3');
    drop('066-12000131-3.pdf', dupContent);
    await rowFor('066-12000131-3.pdf', 'AWAITING_ACK');
    drop('066-12000131-3 (copy).pdf', dupContent);

    // Wait for every case to reach its end state.
    for (const c of CASES) {
      if (c.expect.state === 'NONE') continue;
      const row = await rowFor(c.name, c.expect.state);
      if (c.expect.state === 'REJECTED') expect({ name: c.name, code: row.rejection_code }).toEqual({ name: c.name, code: c.expect.code });
      if (c.expect.state === 'AWAITING_ACK') expect({ name: c.name, remote: row.remote_path }).toEqual({ name: c.name, remote: c.expect.remote });
    }
    await rowFor('066-12000131-3 (copy).pdf', 'DUPLICATE');
    const slowRow = await rowFor(SLOW, 'AWAITING_ACK');
    expect(slowRow.sha256).toBe(sha256OfBuffer(SLOW_CONTENT));
    const aRow = await waitFor('A to be superseded', async () => (await stack.fileRows()).find((r) => r.sha256 === sha256OfBuffer(replacedA) && r.state === 'SUPERSEDED'));
    // Both wake at the folder mapping: when B's workflow has already sent and archived the new content, A finds the
    // path empty rather than replaced. Either way A's content was never sent (checked on server B below).
    expect(aRow.state_reason).toMatch(/replaced|removed from the upload folder after it was checked/);
    await waitFor('B to be delivered', async () => (await stack.fileRows()).find((r) => r.sha256 === sha256OfBuffer(replacedB) && r.state === 'AWAITING_ACK'));
    await waitFor('the upload folder to hold only in-progress names', () => {
      const left = readdirSync(stack.uploadDir).sort();
      return JSON.stringify(left) === JSON.stringify(['.066-12000127-3.pdf', '066-12000128-3.pdf.part']) || undefined;
    });

    const rows = await stack.fileRows();
    // Never recorded: the in-progress names and the file deleted before pick-up.
    for (const c of CASES.filter((k) => k.expect.state === 'NONE')) expect(rows.filter((r) => r.file_name === c.name)).toEqual([]);
    // The slow writer: delivered once, complete; earlier partial hand-offs (if any) stopped as SUPERSEDED, none rejected.
    const slowRows = rows.filter((r) => r.file_name === SLOW);
    expect(slowRows.filter((r) => r.state === 'AWAITING_ACK')).toHaveLength(1);
    expect(slowRows.filter((r) => r.state !== 'AWAITING_ACK').every((r) => r.state === 'SUPERSEDED')).toBe(true);

    // Server B holds exactly what should have been sent, each with the right content, and no temporary files.
    const expectedRemote = [
      ...CASES.flatMap((c) => (c.expect.state === 'AWAITING_ACK' ? [c.expect.remote] : [])),
      digawana(LONG_CONFLICT), // the other party's file, untouched
      digawana(SLOW),
      'viral_load/clinic97/066-97000001-3.pdf',
      digawana('066-12000131-3.pdf'),
    ].sort();
    expect(await listTree(stack.sshd.remoteRoot)).toEqual(expectedRemote);
    expect(readFileSync(path.join(stack.sshd.remoteRoot, digawana(SLOW)))).toEqual(SLOW_CONTENT);
    expect(readFileSync(path.join(stack.sshd.remoteRoot, 'viral_load/clinic97/066-97000001-3.pdf'))).toEqual(replacedB);
    expect(readFileSync(path.join(stack.sshd.remoteRoot, digawana(LONG_CONFLICT)), 'utf8')).toBe("someone else's file");

    // Every rejection is kept in the rejected folder beside its .reason.json, its reason in the database.
    const rejected = rows.filter((r) => r.state === 'REJECTED');
    expect(rejected.length).toBe(CASES.filter((c) => c.expect.state === 'REJECTED').length);
    for (const row of rejected) {
      expect(row.state_reason).toBeTruthy();
      expect(row.archive_path!.startsWith(path.join(stack.dataDir, 'rejected') + path.sep)).toBe(true);
      expect(() => lstatSync(row.archive_path!)).not.toThrow();
      const reason = JSON.parse(readFileSync(reasonFileFor(row.archive_path!, row.sha256), 'utf8'));
      expect(reason).toMatchObject({ code: row.rejection_code, reason: row.state_reason, path: row.archive_path });
    }
    const kept = (name: string) => rejected.find((r) => r.file_name === name)!.archive_path!;
    expect(lstatSync(kept('066-12000122-3.pdf')).isSymbolicLink()).toBe(true);
    expect(lstatSync(kept('066-12000123-3.pdf')).isSymbolicLink()).toBe(true);
    expect(lstatSync(kept('066-12000124-3.pdf')).isFIFO()).toBe(true);
    expect(readdirSync(kept('066-12000125-3.pdf'))).toEqual(['066-12000125-3.pdf']);
    expect(lstatSync(kept('066-12000126-3.pdf')).size).toBe(2 ** 31 + 4096);
    expect(existsSync(path.join(outside, 'outside.pdf'))).toBe(true); // the symlink's target is untouched
    expect(rejected.find((r) => r.file_name === '066-12000124-3.pdf')!.state_reason).toMatch(/not a regular file but a named pipe/);

    // The technician page lists the rejections.
    const orm = await openOrm(stack.db.url);
    try {
      await addUser(orm.em.fork(), 'tom', PASSWORD, 'technician');
      const app = createWebApp({
        healthChecks: {},
        orm,
        uploadDir: stack.uploadDir,
        maxFileBytes: MAX_MB * 1024 * 1024,
        temporalNamespace: 'default',
        pdfRoots: [path.join(stack.dataDir, 'rejected')],
      });
      const browser = new TestBrowser(app);
      expect((await browser.login('tom')).status).toBe(303);
      const page = await (await browser.request('/files?state=REJECTED')).text();
      for (const name of ['066-12000101-3.pdf', '066-12000108-3.pdf', '066-12000122-3.pdf', '066-12000124-3.pdf', '066-12000126-3.pdf', '066-99000001-3.pdf']) {
        expect({ name, listed: page.includes(name) }).toEqual({ name, listed: true });
      }
    } finally {
      await orm.close();
    }

    // Nothing crashed.
    expect(worker.process.exitCode).toBeNull();
    expect(worker.process.signalCode).toBeNull();
    expect(watcher.process.exitCode).toBeNull();
    expect(watcher.process.signalCode).toBeNull();
  }, 170_000);
});

describe('a file replaced or swapped while it is being checked (the file activities alone)', () => {
  const patterns = new IdentifierPatterns(SEED_PATTERNS);
  const noDestination = {} as Destination;

  it.each([
    ['replaced by other content', (file: string) => writeFileSync(file, resultPdf('066-12000001-3', { paddingBytes: 10 }))],
    ['swapped for a symlink to the same content', (file: string) => {
      const elsewhere = `${file}.elsewhere`;
      renameSync(file, path.join(path.dirname(file), '..', 'moved.pdf'));
      symlinkSync(path.join(path.dirname(file), '..', 'moved.pdf'), elsewhere);
      renameSync(elsewhere, file);
    }],
    ['removed', (file: string) => unlinkSync(file)],
  ])('reports the run as superseded when the file was %s after pick-up', async (_what, change) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gr-corpus-'));
    mkdirSync(path.join(dir, 'upload'));
    const file = path.join(dir, 'upload', '066-12000001-3.pdf');
    const content = resultPdf('066-12000001-3');
    writeFileSync(file, content);
    const activities = createHostFileActivities({
      uploadDir: path.join(dir, 'upload'),
      patterns,
      destination: noDestination,
      maxFileBytes: 1 << 20,
      archiveDir: path.join(dir, 'archive'),
      rejectedDir: path.join(dir, 'rejected'),
      duplicatesDir: path.join(dir, 'duplicates'),
    });
    const ref = { uploadPath: file, fileName: '066-12000001-3.pdf', sha256: sha256OfBuffer(content) };
    change(file);
    expect(await activities.validateUpload(ref)).toMatchObject({ outcome: 'superseded' });
  });
});
