/**
 * The stand-in server B of `start` (src/serverb/stand-in.ts), over a real loopback socket: it serves files from its
 * folder and nothing else, and its log is Apache's combined format as our own parser reads it (the quick-start test
 * follows a delivered file's link through it to ACKNOWLEDGED).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { compileLogFormat } from '../../src/access-log/log-format';
import { apacheTime, startStandInServerB, type StandInServerB } from '../../src/serverb/stand-in';
import { waitFor } from '../harness/wait-for';

let dir: string;
let standIn: StandInServerB;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'gr-standin-'));
  mkdirSync(path.join(dir, 'destination', 'viral_load', 'digawana'), { recursive: true });
  writeFileSync(path.join(dir, 'destination', 'viral_load', 'digawana', 'result.pdf'), '%PDF-1.4 the clinic\'s result');
  writeFileSync(path.join(dir, 'destination', 'viral_load', '.result.pdf.abc.part'), 'half written');
  writeFileSync(path.join(dir, 'secret.txt'), 'outside the folder');
  symlinkSync(dir, path.join(dir, 'destination', 'viral_load', 'outside'));
  standIn = await startStandInServerB({ root: path.join(dir, 'destination'), port: 0, logPath: path.join(dir, 'logs', 'serverb-access.log') });
});
afterAll(async () => {
  await standIn?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A raw request, so a path is sent exactly as written (fetch would normalise `..`). */
function get(rawPath: string, method = 'GET'): Promise<{ status: number; body: string }> {
  const url = new URL(standIn.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: rawPath, method, headers: { 'User-Agent': 'clinic-browser/1.0' } }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('serves a delivered file, and nothing outside its folder, no listing, no half-written file, no other method', async () => {
  expect(await get('/viral_load/digawana/result.pdf')).toEqual({ status: 200, body: '%PDF-1.4 the clinic\'s result' });
  expect((await get('/viral_load/digawana/')).status).toBe(404);
  expect((await get('/')).status).toBe(404);
  expect((await get('/viral_load/.result.pdf.abc.part')).status).toBe(404);
  expect((await get('/../secret.txt')).status).toBe(404);
  expect((await get('/viral_load/%2e%2e/%2e%2e/secret.txt')).status).toBe(404);
  expect((await get('/viral_load/outside/secret.txt')).status).toBe(404);
  expect((await get('/viral_load/digawana/result.pdf', 'DELETE')).status).toBe(405);
  expect(readFileSync(path.join(dir, 'destination', 'viral_load', 'digawana', 'result.pdf'), 'utf8')).toContain('result');
});

test('logs each request in Apache\'s combined format, which the receipt scan parses', async () => {
  await get('/viral_load/digawana/result.pdf?download=1');
  const lines = await waitFor('the request in the log', () => {
    const text = readFileSync(standIn.logPath, 'utf8').trim().split('\n');
    return text.some((l) => l.includes('?download=1')) ? text : undefined;
  });
  const combined = compileLogFormat('combined');
  const ok = lines.find((l) => l.includes('?download=1'))!;
  expect(ok).toMatch(/^127\.0\.0\.1 - - \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "GET \/viral_load\/digawana\/result\.pdf\?download=1 HTTP\/1\.1" 200 28 "-" "clinic-browser\/1\.0"$/);
  expect(combined.parse(ok)).toMatchObject({ client: '127.0.0.1', method: 'GET', path: '/viral_load/digawana/result.pdf?download=1', status: 200, bytes: 28, user: null });
  expect(combined.parse(ok)?.time).toBeGreaterThan(Date.now() - 60_000);
  // The refusals are logged with their status, so the scan sees (and ignores) them.
  expect(lines.some((l) => l.includes('"GET /../secret.txt HTTP/1.1" 404 -'))).toBe(true);
});

test('apacheTime writes %t as Apache does', () => {
  expect(apacheTime(new Date(2026, 11, 3, 7, 5, 9))).toMatch(/^\[03\/Dec\/2026:07:05:09 [+-]\d{4}\]$/);
});
