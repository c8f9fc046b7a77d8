/**
 * A stand-in for server B's web server, for `getresults start` on its embedded defaults (issue 14): it serves the
 * local destination folder over HTTP on loopback and writes an Apache combined access log, which the receipt scan
 * reads as it would read server B's. A new user can then see the whole loop: drop a PDF, open its link as a clinic
 * would, and watch it turn fetched. It serves files only (no listing), GET and HEAD only, from inside the folder only.
 * It is a demonstration and test aid, not server B: a real deployment puts Apache in front of the clinic folders
 * (`getresults serverb apache-config`).
 */
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { lstat, mkdir, realpath } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Config } from '../config/config';
import { isInFolderTree } from '../disk/upload-folder';

export interface StandInServerB {
  /** http://127.0.0.1:PORT/ — a file at DESTINATION/a/b.pdf is at this URL + a/b.pdf. */
  url: string;
  logPath: string;
  stop(): Promise<void>;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Apache's `%t`: [03/Dec/2026:17:20:00 +0000], in this process's time zone. */
export function apacheTime(at: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  const offset = -at.getTimezoneOffset();
  const zone = `${offset >= 0 ? '+' : '-'}${pad(Math.floor(Math.abs(offset) / 60))}${pad(Math.abs(offset) % 60)}`;
  return `[${pad(at.getDate())}/${MONTHS[at.getMonth()]}/${at.getFullYear()}:${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())} ${zone}]`;
}

/** A request line or header as Apache logs it: quotes and backslashes escaped, control characters as \xhh. */
function logEscape(value: string): string {
  return value.replace(/["\\]/g, (c) => `\\${c}`).replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** The file a request names, inside `root`, or undefined (outside, not a regular file, a symlink, a dot name). */
async function fileFor(root: string, rawPath: string): Promise<string | undefined> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath.split('?')[0]!);
  } catch {
    return undefined;
  }
  const parts = decoded.split('/').filter(Boolean);
  if (parts.length === 0 || parts.some((p) => p.startsWith('.') || p.includes('\0'))) return undefined;
  const candidate = path.join(root, ...parts);
  const info = await lstat(candidate).catch(() => undefined);
  if (!info?.isFile()) return undefined;
  // A folder on the way may be a symlink out of the tree: the real path must still be inside.
  return (await isInFolderTree(root, candidate)) ? candidate : undefined;
}

/** Serves `root` on 127.0.0.1:`port` (0: any free port), logging each request to `logPath` in Apache's combined format. */
export async function startStandInServerB(options: { root: string; port: number; logPath: string }): Promise<StandInServerB> {
  await mkdir(options.root, { recursive: true });
  await mkdir(path.dirname(options.logPath), { recursive: true });
  const root = await realpath(options.root);
  const log: WriteStream = createWriteStream(options.logPath, { flags: 'a' });

  const record = (req: IncomingMessage, status: number, bytes: number) => {
    const line = `${req.socket.remoteAddress ?? '-'} - - ${apacheTime(new Date())} "${logEscape(`${req.method ?? '-'} ${req.url ?? '-'} HTTP/${req.httpVersion}`)}" ${status} ${bytes > 0 ? bytes : '-'} "${logEscape(String(req.headers.referer ?? '-'))}" "${logEscape(String(req.headers['user-agent'] ?? '-'))}"\n`;
    log.write(line);
  };

  const answer = async (req: IncomingMessage, res: ServerResponse) => {
    const fail = (status: number, text: string) => {
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`${text}\n`);
      record(req, status, 0);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return fail(405, 'Only GET and HEAD.');
    const file = await fileFor(root, req.url ?? '/');
    if (!file) return fail(404, 'Not found.');
    const { size } = await lstat(file);
    res.writeHead(200, { 'Content-Type': file.endsWith('.pdf') ? 'application/pdf' : 'application/octet-stream', 'Content-Length': size });
    if (req.method === 'HEAD') {
      res.end();
      return record(req, 200, 0);
    }
    const stream = createReadStream(file);
    stream.on('error', () => res.destroy());
    // Logged when the whole file went out, as Apache logs a completed request.
    res.on('finish', () => record(req, 200, size));
    stream.pipe(res);
  };

  const server: Server = createServer((req, res) => {
    answer(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(`The stand-in server B cannot listen on 127.0.0.1:${options.port} (${err.code}); set GETRESULTS_STANDIN_PORT, or GETRESULTS_STANDIN=off.`)),
    );
    server.listen(options.port, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    logPath: options.logPath,
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await new Promise<void>((resolve) => log.end(resolve));
    },
  };
}

/** Where the stand-in writes its access log: beside the other logs of `start`. */
export function standInLogPath(config: Config): string {
  return path.join(config.dataDir, 'logs', 'serverb-access.log');
}

/**
 * Whether `start` runs the stand-in: on its embedded default (a local destination folder) with no access log of a
 * real server B configured, unless GETRESULTS_STANDIN=off.
 */
export function wantsStandIn(config: Config): boolean {
  return config.standIn.enabled && config.destination.kind === 'local' && !config.accessLog.location;
}

/** The configuration with receipts read from the stand-in's log, scanned every GETRESULTS_STANDIN_SCAN_INTERVAL. */
export function withStandInReceipts(config: Config): Config {
  const logPath = standInLogPath(config);
  return { ...config, accessLog: { ...config.accessLog, location: logPath, rotatedLocation: `${logPath}.1`, urlPrefix: '/', scanInterval: config.standIn.scanInterval } };
}
