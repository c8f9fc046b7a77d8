import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findInotifywait } from '../../src/trigger/inotify-events';
import { watchUploads, type Detection, type PickUpReason, type UploadWatcher } from '../../src/trigger/watcher';
import { receiveUploadForm } from '../../src/web/uploads/receive-upload';
import { commitStaged } from '../../src/disk/staged-upload';
import { resultPdf } from '../harness/pdf';
import { waitFor } from '../harness/wait-for';

interface Taken {
  name: string;
  why: PickUpReason;
  /** SHA-256 of the content when it was handed over: a file taken half-written would show a different hash. */
  sha256: string;
}

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

async function appendSlowly(file: string, content: Buffer, chunks: number, pauseMs: number): Promise<void> {
  const size = Math.ceil(content.length / chunks);
  for (let i = 0; i < chunks; i++) {
    appendFileSync(file, content.subarray(i * size, (i + 1) * size));
    if (i < chunks - 1) await new Promise((r) => setTimeout(r, pauseMs));
  }
}

const detections: Array<Exclude<Detection, 'auto'>> = ['inotify', 'poll'];
if (!findInotifywait()) throw new Error('These tests need inotifywait (apt-get install inotify-tools); .ci/run installs it.');

describe.each(detections)('upload watcher (%s)', (detection) => {
  let dir: string;
  let staging: string;
  let watcher: UploadWatcher;
  let taken: Taken[];
  const reasons = (name: string) => taken.filter((t) => t.name === name).map((t) => t.why);

  async function startWatcher(stableMs = 500): Promise<void> {
    taken = [];
    const whys = new Map<string, PickUpReason>();
    watcher = watchUploads({
      uploadDir: dir,
      stableMs,
      concurrency: 4,
      detection,
      log: () => undefined,
      onTaken: (file, why) => whys.set(file, why),
      submit: async (file) => {
        taken.push({ name: path.basename(file), why: whys.get(file) ?? 'polled', sha256: sha(readFileSync(file)) });
        return { kind: 'started', workflowId: 'test' };
      },
    });
    await watcher.ready;
    expect(watcher.detection()).toBe(detection);
  }

  beforeEach(() => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'gr-watch-'));
    dir = path.join(root, 'upload');
    staging = path.join(root, 'staging');
    for (const d of [dir, staging]) mkdirSync(d);
  });
  afterEach(async () => {
    await watcher?.close();
    rmSync(path.dirname(dir), { recursive: true, force: true });
  });

  test('a file renamed into the folder is taken once, whole', async () => {
    await startWatcher();
    const content = resultPdf('066-12000001-3');
    writeFileSync(path.join(staging, '066-12000001-3.pdf'), content);
    renameSync(path.join(staging, '066-12000001-3.pdf'), path.join(dir, '066-12000001-3.pdf'));
    await waitFor('the file to be taken', () => taken.length > 0);
    await watcher.idle();
    expect(taken.map((t) => t.sha256)).toEqual([sha(content)]);
    if (detection === 'inotify') expect(reasons('066-12000001-3.pdf')).toEqual(['moved-in']);
  });

  test('a PDF written slowly in place is taken only once it is whole', async () => {
    await startWatcher();
    const content = resultPdf('066-12000002-3', { paddingBytes: 200_000 });
    // Pauses longer than the quiet window (100 ms), shorter than the stability window (500 ms).
    await appendSlowly(path.join(dir, '066-12000002-3.pdf'), content, 6, 250);
    await waitFor('the file to be taken', () => taken.length > 0);
    await watcher.idle();
    expect(taken.map((t) => t.sha256)).toEqual([sha(content)]);
    if (detection === 'inotify') expect(reasons('066-12000002-3.pdf')).toEqual(['whole-pdf']);
  });

  test('a file that is not a PDF is taken after the stability window, for the workflow to reject visibly', async () => {
    await startWatcher(300);
    writeFileSync(path.join(dir, '066-12000003-3.pdf'), '<html>not a pdf</html>');
    await waitFor('the file to be taken', () => taken.length > 0);
    expect(taken.map((t) => t.name)).toEqual(['066-12000003-3.pdf']);
    if (detection === 'inotify') expect(reasons('066-12000003-3.pdf')).toEqual(['stable']);
  });

  test('a web upload (linked into place whole) is taken, its hidden temporary file never', async () => {
    await startWatcher();
    const content = resultPdf('066-12000004-3');
    // As the upload page does it: streamed to a hidden staged file, then linked into place.
    const form = new FormData();
    form.append('_csrf', 'token');
    form.append('files', new File([content], '066-12000004-3.pdf', { type: 'application/pdf' }));
    const received = await receiveUploadForm(new Request('http://web.test/upload', { method: 'POST', body: form }), dir, { maxFileBytes: 1 << 20, maxUploadBytes: 1 << 22 }, {
      field: '_csrf',
      accepts: (t) => t === 'token',
    });
    const [staged] = received.ok ? received.files : [];
    if (!staged?.staged) throw new Error(`not staged: ${JSON.stringify(received)}`);
    expect(await commitStaged(dir, staged.tempPath, staged.name)).toMatchObject({ stored: true });
    await waitFor('the file to be taken', () => taken.length > 0);
    await watcher.idle();
    expect(taken).toEqual([{ name: '066-12000004-3.pdf', why: detection === 'inotify' ? 'whole-pdf' : 'polled', sha256: sha(content) }]);
  });

  test('files already waiting at start are taken; in-progress names are left alone', async () => {
    const waiting = resultPdf('066-12000005-3');
    writeFileSync(path.join(dir, '066-12000005-3.pdf'), waiting);
    writeFileSync(path.join(dir, '066-12000006-3.pdf.part'), resultPdf('066-12000006-3'));
    writeFileSync(path.join(dir, '.066-12000007-3.pdf'), resultPdf('066-12000007-3'));
    await startWatcher(200);
    await waitFor('the waiting file to be taken', () => taken.length > 0);
    writeFileSync(path.join(dir, '066-12000008-3.pdf.tmp'), 'x');
    renameSync(path.join(dir, '066-12000006-3.pdf.part'), path.join(dir, '066-12000006-3.pdf'));
    await waitFor('the renamed file to be taken', () => taken.length > 1);
    // The .tmp file's stability window passes meanwhile too: had it been taken, it would show here.
    await new Promise((r) => setTimeout(r, 400));
    await watcher.idle();
    expect(taken.map((t) => t.name).sort()).toEqual(['066-12000005-3.pdf', '066-12000006-3.pdf']);
  });
});

describe('the kernel-event watch of a watcher that is killed outright', () => {
  /** inotifywait processes watching `folder`, found through /proc. */
  function inotifywaitsOn(folder: string): number[] {
    return readdirSync('/proc')
      .filter((entry) => /^\d+$/.test(entry))
      .filter((pid) => {
        try {
          const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
          return argv.some((a) => a.endsWith('inotifywait')) && argv.includes(folder);
        } catch {
          return false; // gone meanwhile
        }
      })
      .map(Number);
  }

  test('ends with it: no inotifywait is left behind holding the folder', async () => {
    const folder = mkdtempSync(path.join(os.tmpdir(), 'gr-watch-orphan-'));
    // The compiled module (dist/, built by the test setup) in a process of its own, which the test then SIGKILLs.
    const script = `
      const { watchFolderEvents, findInotifywait } = require(${JSON.stringify(path.join(__dirname, '..', '..', 'dist', 'trigger', 'inotify-events.js'))});
      watchFolderEvents(findInotifywait(), ${JSON.stringify(folder)}, () => {}, () => {}).ready.then(() => process.stdout.write('ready\\n'));
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
        child.once('exit', (code) => reject(new Error(`the watching process exited (${code})`)));
      });
      expect(inotifywaitsOn(folder)).toHaveLength(1);
      child.kill('SIGKILL');
      await waitFor('its inotifywait to end', () => inotifywaitsOn(folder).length === 0, { timeoutMs: 10_000 });
    } finally {
      child.kill('SIGKILL');
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
