import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './free-port';
import { waitFor } from './wait-for';

const run = promisify(execFile);
const MODULES = '/usr/lib/apache2/modules';

export interface ApacheHandle {
  url: string;
  port: number;
  accessLog: string;
  /** Renames the log to `access.log.1` and makes Apache open a fresh one, as logrotate does. */
  rotate(): Promise<void>;
  stop(): Promise<void>;
}

/** Makes every folder from `dir` up to `/` passable by other users, so Apache's www-data can reach the served files. */
export function openPathForOthers(dir: string): void {
  // Only our own folders below the temp dir: the temp dir itself (1777, sticky) and anything above are left alone.
  const top = path.resolve(os.tmpdir());
  for (let d = path.resolve(dir); d !== top && d.startsWith(`${top}${path.sep}`); d = path.dirname(d)) {
    chmodSync(d, 0o755);
  }
}

/**
 * A private Apache httpd from Debian's apache2 package on a free loopback port, serving `documentRoot`, with its own
 * config, pid file and combined-format access log in a temp dir. It never touches the system's Apache.
 */
export interface ApacheOptions {
  /**
   * The site's own directives in place of the default (combined log to `accessLog`, `documentRoot` open to all): say,
   * an `Include` of a configuration under test. Apache starts with them or fails to start.
   */
  site?: (paths: { dir: string; accessLog: string }) => string[];
  /** Modules beyond the few the default site needs, by name (`alias` loads mod_alias.so). */
  modules?: string[];
}

export async function startApache(documentRoot: string, options: ApacheOptions = {}): Promise<ApacheHandle> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gr-apache-'));
  openPathForOthers(dir);
  openPathForOthers(documentRoot);
  const port = await freePort();
  const accessLog = path.join(dir, 'access.log');
  const conf = path.join(dir, 'httpd.conf');
  writeFileSync(
    conf,
    [
      `ServerRoot "${dir}"`,
      `Listen 127.0.0.1:${port}`,
      `ServerName 127.0.0.1`,
      `PidFile "${dir}/httpd.pid"`,
      `DefaultRuntimeDir "${dir}"`,
      `LoadModule mpm_event_module ${MODULES}/mod_mpm_event.so`,
      `LoadModule authz_core_module ${MODULES}/mod_authz_core.so`,
      `LoadModule dir_module ${MODULES}/mod_dir.so`,
      `LoadModule mime_module ${MODULES}/mod_mime.so`,
      ...(options.modules ?? []).map((m) => `LoadModule ${m}_module ${MODULES}/mod_${m}.so`),
      `User www-data`,
      `Group www-data`,
      `TypesConfig /etc/mime.types`,
      `ErrorLog "${dir}/error.log"`,
      ...(options.site?.({ dir, accessLog }) ?? [
        `LogFormat "%h %l %u %t \\"%r\\" %>s %b \\"%{Referer}i\\" \\"%{User-Agent}i\\"" combined`,
        `CustomLog "${accessLog}" combined`,
        `DocumentRoot "${documentRoot}"`,
        `<Directory "${documentRoot}">`,
        `  Require all granted`,
        `</Directory>`,
      ]),
      '',
    ].join('\n'),
  );
  const apache = async (...args: string[]) => run('/usr/sbin/apache2', ['-f', conf, ...args]);
  await apache('-k', 'start');
  const url = `http://127.0.0.1:${port}`;
  await waitFor('Apache to answer', async () => (await fetch(`${url}/`, { method: 'HEAD' })).status > 0, { timeoutMs: 15_000 });
  const pid = () => Number(readFileSync(path.join(dir, 'httpd.pid'), 'utf8'));
  return {
    url,
    port,
    accessLog,
    async rotate() {
      const oldPid = pid();
      renameSync(accessLog, `${accessLog}.1`);
      // A graceful restart reopens the logs; requests in flight finish into the old file first.
      process.kill(oldPid, 'SIGUSR1');
      await waitFor('Apache to reopen its log', () => existsSync(accessLog), { timeoutMs: 15_000 });
      await waitFor('Apache to answer again', async () => (await fetch(`${url}/`, { method: 'HEAD' })).status > 0, { timeoutMs: 15_000 });
    },
    async stop() {
      try {
        await apache('-k', 'stop');
        await waitFor('Apache to stop', () => !existsSync(path.join(dir, 'httpd.pid')), { timeoutMs: 15_000 });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
