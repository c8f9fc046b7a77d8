import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resultPdf } from '../harness/pdf';

const CLI = path.join(__dirname, '..', '..', 'bin', 'getresults.js');
const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH } });

describe('offline operator commands (no database, no Temporal)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'gr-cli-'));
    writeFileSync(path.join(dir, '066-12000001-3.pdf'), resultPdf('066-12000001-3'));
    writeFileSync(path.join(dir, '066-12000002-3.pdf'), resultPdf('066-99999999-9'));
    writeFileSync(path.join(dir, '066-05000001-3.pdf'), resultPdf('066-05000001-3'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('getresults --help lists every command', () => {
    const help = run('--help');
    expect(help.status).toBe(0);
    for (const command of ['start', 'worker', 'watch', 'web', 'migrate', 'folders', 'validate', 'parse-log', 'retry']) {
      expect(help.stdout).toContain(command);
    }
    expect(run('folders', 'load', '--help').stdout).toContain('<csv>');
  });

  it('validate --json reports identifier, label and hint as a string, and exits 1 when any file is rejected', () => {
    const good = run('validate', '--json', path.join(dir, '066-05000001-3.pdf'));
    expect(good.status).toBe(0);
    expect(JSON.parse(good.stdout)).toMatchObject({ ok: true, identifier: '066-05000001-3', label: 'BHS', hint: '05' });

    const mixed = run('validate', '--json', path.join(dir, '066-12000001-3.pdf'), path.join(dir, '066-12000002-3.pdf'));
    expect(mixed.status).toBe(1);
    const [pass, fail] = mixed.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(pass).toMatchObject({ ok: true, hint: '12' });
    expect(fail).toMatchObject({ ok: false, code: 'IDENTIFIER_NOT_IN_TEXT' });
    expect(fail.reason).toContain('066-12000002-3');
  });

  it('folders resolve prints the clinic folder, and exits 1 when nothing matches', () => {
    const bhs = run('folders', 'resolve', '066-12000001-3.pdf', '--json');
    expect(bhs.status).toBe(0);
    expect(JSON.parse(bhs.stdout)).toMatchObject({ label: 'BHS', hint: '12', folder: 'digawana', remoteFolder: 'viral_load/digawana' });
    expect(JSON.parse(run('folders', 'resolve', '113-4567.pdf', '--json').stdout)).toMatchObject({ label: 'CDC1', hint: '13', folder: 'maunatlala' });
    expect(JSON.parse(run('folders', 'resolve', '12-34-567-89.pdf', '--json').stdout)).toMatchObject({ label: 'CDC2', hint: '34', folder: 'gweta' });

    const unknownHint = run('folders', 'resolve', '066-98000001-3.pdf', '--json');
    expect(unknownHint.status).toBe(1);
    expect(JSON.parse(unknownHint.stdout)).toMatchObject({ ok: false, code: 'NO_FOLDER', hint: '98' });
    expect(run('folders', 'resolve', 'notes.pdf').status).toBe(1);
  });

  it('names the bad setting when configuration is wrong', () => {
    const bad = spawnSync(process.execPath, [CLI, 'validate', path.join(dir, '066-12000001-3.pdf')], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, GETRESULTS_MAX_FILE_MB: 'lots' },
    });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('GETRESULTS_MAX_FILE_MB');
  });
});
