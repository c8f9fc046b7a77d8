import { freePort } from './free-port';

/**
 * The environment of a `getresults start` on its embedded defaults, as a new user runs it, with every port it opens
 * (embedded PostgreSQL, Temporal and its UI, the web page, the stand-in server B) moved to a free one so the test
 * cannot collide with anything on the machine. `extra` adds settings.
 */
export async function embeddedStartEnv(extra: NodeJS.ProcessEnv = {}): Promise<NodeJS.ProcessEnv> {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TEMPORAL_CLI_PATH: process.env.TEMPORAL_CLI_PATH,
    GETRESULTS_TEMPORAL_PORT: String(await freePort()),
    GETRESULTS_TEMPORAL_UI_PORT: String(await freePort()),
    GETRESULTS_WEB_PORT: String(await freePort()),
    GETRESULTS_EMBEDDED_PG_PORT: String(await freePort()),
    GETRESULTS_STANDIN_PORT: String(await freePort()),
    ...extra,
  };
}
