import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { msToNumber } from '@temporalio/common/lib/time';
import type { TemporalConnectionSettings } from '../temporal/connection-security';
import { z } from 'zod';
import type { IdentifierPattern } from '../domain/identifier-patterns';
import { SEED_PATTERNS, loadPatternsFile } from './patterns';

/** Package root, found the same way from src/ (tests) and dist/ (installed). */
export const PACKAGE_ROOT = path.resolve(__dirname, '..', '..');
export const SEED_FOLDERS_CSV = path.join(PACKAGE_ROOT, 'config', 'remote_folders.csv');

export interface SftpTarget {
  kind: 'sftp';
  host: string;
  port: number;
  username: string;
  basePath: string;
  privateKeyFile: string;
  /** File holding the private key's passphrase (read at each connect, never logged); unset for an unencrypted key. */
  passphraseFile?: string;
  knownHostsFile?: string;
  pinnedFingerprint?: string;
  poolSize: number;
  useRemoteSha256sum: boolean;
}

export interface LocalTarget {
  kind: 'local';
  basePath: string;
}

export interface Config {
  dataDir: string;
  uploadDir: string;
  archiveDir: string;
  rejectedDir: string;
  duplicatesDir: string;
  destination: SftpTarget | LocalTarget;
  temporal: {
    /** Unset means `getresults start` runs its own dev server. */
    address?: string;
    namespace: string;
    cliPath?: string;
    devServerPort: number;
    devServerUiPort: number;
    uiUrl?: string;
    /** TLS, mutual TLS and API key for a Temporal at `address` (src/temporal/connection-security.ts). */
    connection: TemporalConnectionSettings;
  };
  /** Unset means `getresults start` runs an embedded PostgreSQL. */
  databaseUrl?: string;
  embeddedPostgresPort: number;
  web: {
    host: string;
    port: number;
    /** The page's address as people reach it (GETRESULTS_PUBLIC_URL), when a proxy puts it elsewhere than host:port. */
    publicUrl?: string;
    trustProxy: boolean;
    sessionIdleMs: number;
    maxConcurrentUploads: number;
    uploadHost?: string;
  };
  /** Unset: JSON for worker, watch and web, text for start and the one-shot commands (src/observability/logger.ts). */
  logFormat?: 'json' | 'text';
  /** The stand-in server B of `start` on its embedded default (src/serverb/stand-in.ts). */
  standIn: { enabled: boolean; port: number; scanInterval: string };
  /** The notifier (src/alerts): what it watches for and where it sends. Alerts are recorded even with no channel set. */
  alerts: {
    interval: string;
    email?: { url: string; passwordFile?: string; from: string; to: string[] };
    webhook?: { url: string; secretFile: string };
    transferAttempts: number;
    scanMissedIntervals: number;
    digestHour: number;
    includeFileNames: boolean;
  };
  /** /healthz, /readyz and /metrics (src/observability): on the web port, and on `port` for worker and watch. */
  ops: { host: string; port?: number; tokenFile?: string; unfetchedAfterDays: number; sdkMetrics: boolean };
  /** Names this upload host; its file activities run on a task queue of their own. */
  hostId: string;
  /** The lab this upload host belongs to (src/labs/upload-hosts.ts). */
  lab: string;
  patterns: IdentifierPattern[];
  foldersCsv: string;
  ackTimeout: string;
  blockedRetryInterval: string;
  watcher: { stableMs: number; concurrency: number; detection: 'auto' | 'inotify' | 'poll' };
  maxFileBytes: number;
  /** Files up to this size are sent in the workflow's first step (src/activities/file-steps.ts, receiveAndSend). */
  quickSendMaxBytes: number;
  /** The worker's sticky cache (maxCachedWorkflows), per worker. */
  workflowCache: number;
  accessLog: {
    /** Unset: no proof-of-receipt scanning. `sftp:/path` reads it on server B through the destination's SSH settings. */
    location?: string;
    rotatedLocation?: string;
    format: string;
    /** The URL path under which server B's web server shows the destination root. */
    urlPrefix: string;
    pattern: string;
    scanInterval: string;
    chunkBytes: number;
  };
  /** Where the payload encryption keys come from (read by temporal/payload-codec.ts; never logged). */
  payloadKeys: { keysFile?: string; key?: string; keyId?: string };
  /** File of bearer tokens (one a line) accepted by the web page's /codec endpoint besides a signed-in session. */
  codecTokenFile?: string;
}

/**
 * Every setting, with its environment name, default and meaning. `getresults --help` lists the names; the README's
 * configuration table says the same by hand, and test/unit/settings-documented.test.ts holds the two together.
 */
const envSchema = z.object({
  GETRESULTS_CONFIG: z.string().optional().describe('Optional JSON file holding any of these settings; environment variables win.'),
  GETRESULTS_DATA_DIR: z.string().default('./data').describe('Root for the folders below and the embedded databases.'),
  GETRESULTS_UPLOAD_DIR: z.string().optional().describe('Watched upload folder (default DATA/upload).'),
  GETRESULTS_ARCHIVE_DIR: z.string().optional().describe('Archive of sent originals, in dated sub-folders (default DATA/archive).'),
  GETRESULTS_REJECTED_DIR: z.string().optional().describe('Quarantine for rejected files, each with a .reason.json (default DATA/rejected).'),
  GETRESULTS_DUPLICATES_DIR: z.string().optional().describe('Second copies of already delivered files (default DATA/duplicates).'),
  GETRESULTS_DESTINATION: z
    .string()
    .optional()
    .describe('sftp://user@host[:port]/remote/root, or a local folder (default DATA/destination).'),
  GETRESULTS_SSH_KEY_FILE: z.string().optional().describe('Private key for the SFTP destination (required with sftp://).'),
  GETRESULTS_SSH_KEY_PASSPHRASE_FILE: z
    .string()
    .optional()
    .describe('File holding the passphrase of GETRESULTS_SSH_KEY_FILE, when the key is encrypted (mode 600; never logged).'),
  GETRESULTS_SSH_KNOWN_HOSTS: z.string().optional().describe('known_hosts file holding server B\'s host key.'),
  GETRESULTS_SSH_HOST_FINGERPRINT: z.string().optional().describe('Pinned host key fingerprint, SHA256:... as ssh-keygen -lf prints.'),
  GETRESULTS_SSH_POOL_SIZE: z.coerce.number().int().min(1).max(32).default(2).describe('SSH connections kept open to server B.'),
  GETRESULTS_SSH_REMOTE_SHA256SUM: z
    .enum(['true', 'false'])
    .default('true')
    .describe('Verify with sha256sum over exec; false reads the copy back over SFTP.'),
  TEMPORAL_ADDRESS: z.string().optional().describe('Temporal frontend host:port; unset, `start` runs a local dev server.'),
  TEMPORAL_NAMESPACE: z.string().default('default').describe('Temporal namespace.'),
  TEMPORAL_CLI_PATH: z.string().optional().describe('The temporal CLI binary used for the dev server (default: temporal on PATH).'),
  TEMPORAL_TLS: z
    .enum(['true', 'false'])
    .optional()
    .describe('TLS to TEMPORAL_ADDRESS; unset, on when any TEMPORAL_TLS_* setting or an API key is given (the temporal CLI\'s rule).'),
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: z.string().optional().describe('PEM file of the CA that signed the Temporal server\'s certificate (unset: the system\'s public CAs).'),
  TEMPORAL_TLS_CLIENT_CERT_PATH: z.string().optional().describe('PEM client certificate for mutual TLS (with TEMPORAL_TLS_CLIENT_KEY_PATH).'),
  TEMPORAL_TLS_CLIENT_KEY_PATH: z.string().optional().describe('PEM private key of TEMPORAL_TLS_CLIENT_CERT_PATH (mode 600; never logged).'),
  TEMPORAL_TLS_SERVER_NAME: z.string().optional().describe('Name to expect in the server\'s certificate when it is not the host in TEMPORAL_ADDRESS.'),
  TEMPORAL_API_KEY: z.string().optional().describe('API key sent with every Temporal call (Temporal Cloud); prefer TEMPORAL_API_KEY_FILE. Never logged.'),
  TEMPORAL_API_KEY_FILE: z.string().optional().describe('File holding the API key (mode 600), instead of TEMPORAL_API_KEY.'),
  TEMPORAL_UI_URL: z.string().optional().describe('Temporal UI base URL shown to users (default: the dev server\'s).'),
  GETRESULTS_TEMPORAL_PORT: z.coerce.number().int().min(1).max(65535).default(7233).describe('Dev server gRPC port.'),
  GETRESULTS_TEMPORAL_UI_PORT: z.coerce.number().int().min(1).max(65535).default(8233).describe('Dev server UI port.'),
  DATABASE_URL: z.string().optional().describe('postgres://... ; unset, `start` runs an embedded PostgreSQL under DATA/postgres.'),
  GETRESULTS_EMBEDDED_PG_PORT: z.coerce.number().int().min(1).max(65535).default(54329).describe('Port of the embedded PostgreSQL.'),
  GETRESULTS_WEB_HOST: z.string().default('127.0.0.1').describe('Address the web page listens on.'),
  GETRESULTS_WEB_PORT: z.coerce.number().int().min(0).max(65535).default(3000).describe('Port of the web page.'),
  GETRESULTS_WEB_MAX_CONCURRENT_UPLOADS: z.coerce
    .number()
    .int()
    .min(1)
    .max(64)
    .default(4)
    .describe('Upload requests the web page receives at once (each streams to disk as it arrives, up to 5 times GETRESULTS_MAX_FILE_MB); more are asked to send again in a few seconds.'),
  GETRESULTS_SESSION_IDLE_MINUTES: z.coerce
    .number()
    .positive()
    .default(30)
    .describe('A web session unused this long ends (it ends 12 hours after sign-in in any case).'),
  GETRESULTS_METRICS_PORT: z.coerce
    .number()
    .int()
    .min(0)
    .max(65535)
    .optional()
    .describe('Port of /healthz, /readyz and /metrics for getresults worker and watch (start and web serve them on the web port). Unset: not served by those two.'),
  GETRESULTS_METRICS_HOST: z.string().default('127.0.0.1').describe('Address GETRESULTS_METRICS_PORT listens on.'),
  GETRESULTS_METRICS_TOKEN_FILE: z
    .string()
    .optional()
    .describe('File of bearer tokens (one per line) that may read /metrics from another machine; without it, /metrics answers loopback clients only.'),
  GETRESULTS_LOG_FORMAT: z
    .enum(['json', 'text'])
    .optional()
    .describe('json: one JSON object per log line (level, time, process, msg, and a workflowId or requestId). text: TIME message. Default: json for worker, watch and web, text for start and the other commands.'),
  GETRESULTS_STANDIN: z
    .enum(['auto', 'off'])
    .default('auto')
    .describe('auto: getresults start with a local destination folder and no GETRESULTS_ACCESS_LOG serves that folder over HTTP as a stand-in server B, logging to DATA/logs/serverb-access.log, and scans that log for receipts. off: no stand-in, no receipts.'),
  GETRESULTS_STANDIN_PORT: z.coerce.number().int().min(0).max(65535).default(3080).describe('Loopback port of the stand-in server B (0: any free port).'),
  GETRESULTS_STANDIN_SCAN_INTERVAL: z.string().default('10s').describe('How often the stand-in\'s log is scanned for receipts.'),
  GETRESULTS_ALERT_INTERVAL: z.string().default('5m').describe('How often the alert sweep (Temporal Schedule getresults-alerts) looks for what needs a person.'),
  GETRESULTS_ALERT_SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\//, 'is smtp://host:port or smtps://host:port (a user name may be given; its password goes in GETRESULTS_ALERT_SMTP_PASSWORD_FILE)')
    .optional()
    .describe('Mail server the alerts are e-mailed through (with GETRESULTS_ALERT_EMAIL_TO). STARTTLS is required except on loopback.'),
  GETRESULTS_ALERT_SMTP_PASSWORD_FILE: z.string().optional().describe('File holding the mail server password for the user in GETRESULTS_ALERT_SMTP_URL.'),
  GETRESULTS_ALERT_EMAIL_FROM: z.string().optional().describe('Sender of alert e-mails (default getresults@ this machine\'s name).'),
  GETRESULTS_ALERT_EMAIL_TO: z.string().optional().describe('Comma-separated addresses that receive the alerts and the daily digest.'),
  GETRESULTS_ALERT_WEBHOOK_URL: z.string().url().optional().describe('URL that receives each batch of alerts as a signed JSON POST (needs GETRESULTS_ALERT_WEBHOOK_SECRET_FILE).'),
  GETRESULTS_ALERT_WEBHOOK_SECRET_FILE: z.string().optional().describe('File holding the webhook\'s HMAC secret: each POST carries X-Getresults-Signature: sha256=HMAC(secret, "<X-Getresults-Timestamp>.<body>").'),
  GETRESULTS_ALERT_TRANSFER_ATTEMPTS: z.coerce.number().int().positive().default(5).describe('A transfer still failing after this many attempts is alerted.'),
  GETRESULTS_ALERT_SCAN_MISSED: z.coerce.number().int().positive().default(3).describe('With receipts on: alert when no receipt scan has finished for this many scan intervals.'),
  GETRESULTS_ALERT_DIGEST_HOUR: z.coerce.number().int().min(0).max(23).default(7).describe('Local hour (TZ) from which the day\'s digest goes out.'),
  GETRESULTS_ALERT_INCLUDE_FILE_NAMES: z
    .enum(['true', 'false'])
    .default('false')
    .describe('true adds file names (which hold patient identifiers) to alerts; by default they name files by number and link to the web page.'),
  GETRESULTS_SDK_METRICS: z
    .enum(['on', 'off'])
    .default('on')
    .describe('off: the Temporal SDK\'s own runtime metrics (polls, task latencies, slots) are not collected, and /metrics shows ours only.'),
  GETRESULTS_UNFETCHED_DAYS: z.coerce.number().int().positive().default(3).describe('A file sent and not fetched after this many days counts as unfetched (metric getresults_files_unfetched).'),
  GETRESULTS_PUBLIC_URL: z
    .string()
    .url()
    .optional()
    .describe('The web page\'s address as people reach it (https://results.lab.example) when a reverse proxy puts it elsewhere: forms posted from it pass the CSRF check, and alerts link to it. Default: the address the page listens on.'),
  GETRESULTS_TRUST_PROXY: z
    .enum(['true', 'false'])
    .default('false')
    .describe('true when the web page is reached only through a reverse proxy that sets X-Forwarded-For: login throttling then counts the client\'s address, not the proxy\'s.'),
  GETRESULTS_HOST_ID: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/, 'may hold only letters, digits, dot, dash and underscore')
    .optional()
    .describe('Name of this upload host (default: the machine\'s host name). Its files record it; the web page reaches them through its task queue.'),
  GETRESULTS_WEB_UPLOAD_HOST: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/, 'is an upload host\'s name (GETRESULTS_HOST_ID of that host)')
    .optional()
    .describe('The upload host whose upload folder the web page\'s uploads go to (default: GETRESULTS_HOST_ID, beside which the page runs). Another host gets them through its worker, which must be running.'),
  GETRESULTS_LAB: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'is a lab\'s name: lower-case letters, digits and dashes')
    .default('default')
    .describe('The lab this upload host belongs to (getresults labs add NAME creates one); its files are that lab\'s.'),
  GETRESULTS_PATTERNS_FILE: z.string().optional().describe('JSON file of identifier patterns (default: the seed\'s BHS, CDC1, CDC2).'),
  GETRESULTS_FOLDERS_CSV: z.string().optional().describe('Remote-folder table loaded when the table is empty (default: the seed\'s).'),
  GETRESULTS_ACK_TIMEOUT: z.string().default('30d').describe('How long a sent file waits for the clinic to fetch it.'),
  GETRESULTS_BLOCKED_RETRY: z.string().default('15m').describe('How often a transfer blocked by a host key or login problem is retried.'),
  GETRESULTS_STABLE_MS: z.coerce
    .number()
    .int()
    .min(50)
    .default(500)
    .describe('A file written in place that is not (yet) a whole PDF is taken once unchanged for this long. A file renamed into the folder, or a whole PDF quiet for 100 ms, is taken at once when inotify is used.'),
  GETRESULTS_WATCH_DETECTION: z
    .enum(['auto', 'inotify', 'poll'])
    .default('auto')
    .describe('How new uploads are noticed: inotify (kernel events through inotifywait, from inotify-tools), poll (size polling), or auto (inotify when inotifywait is installed).'),
  GETRESULTS_WATCH_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(16).describe('Files hashed and submitted at once.'),
  GETRESULTS_MAX_FILE_MB: z.coerce.number().positive().default(100).describe('Largest file accepted, in MiB.'),
  GETRESULTS_WORKFLOW_CACHE: z.coerce
    .number()
    .int()
    .min(0)
    .default(1000)
    .describe('Workflows each worker keeps in memory between their tasks. A file waits days for its receipt with nothing to do; a run that left the cache is replayed from its short history when its next event comes.'),
  GETRESULTS_QUICK_SEND_MAX_MB: z.coerce
    .number()
    .min(0)
    .default(4)
    .describe('Files up to this size (MiB) are sent in the same step that checks them, which is faster; larger ones through the transfer activity, whose retries show in the Temporal UI. 0: every file through the activity.'),
  GETRESULTS_ACCESS_LOG: z
    .string()
    .optional()
    .describe('Server B\'s Apache access log: a local path, or sftp:/var/log/apache2/access.log to read it over SSH. Unset: no receipt scanning.'),
  GETRESULTS_ACCESS_LOG_ROTATED: z.string().optional().describe('Where the log is after rotation (default: the log\'s name + .1).'),
  GETRESULTS_ACCESS_LOG_FORMAT: z
    .string()
    .default('combined')
    .describe('Apache LogFormat of that log: combined, common, vhost_combined, or the format string itself.'),
  GETRESULTS_ACK_URL_PREFIX: z.string().default('/').describe('URL path at which server B serves the destination root.'),
  GETRESULTS_ACK_FILE_PATTERN: z.string().default('*.pdf').describe('Which fetched files count as results.'),
  GETRESULTS_LOG_SCAN_INTERVAL: z.string().default('5m').describe('How often the scheduled log scan runs.'),
  GETRESULTS_LOG_SCAN_CHUNK_MB: z.coerce.number().positive().max(256).default(8).describe('Bytes of log read at once, in MiB.'),
  GETRESULTS_PAYLOAD_KEYS_FILE: z
    .string()
    .optional()
    .describe(
      'Keys that encrypt everything sent to Temporal: JSON {"current": id, "keys": {id: base64}} or lines id=base64 with the current one starting with *. Required by worker, watch, web and CLI commands that reach Temporal; `start` generates DATA/payload-keys.json when no key is set.',
    ),
  GETRESULTS_PAYLOAD_KEY: z.string().optional().describe('A single payload key (32 bytes, base64) instead of a keys file.'),
  GETRESULTS_PAYLOAD_KEY_ID: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'may hold only letters, digits, dot, dash and underscore')
    .optional()
    .describe('Name of GETRESULTS_PAYLOAD_KEY, stored with every payload it encrypts.'),
  GETRESULTS_CODEC_TOKEN_FILE: z
    .string()
    .optional()
    .describe('Bearer tokens (one a line) accepted by the /codec endpoint besides a signed-in session, e.g. for temporal --codec-auth.'),
});

export type Env = z.infer<typeof envSchema>;

export const SETTINGS_DOC: ReadonlyArray<{ name: string; description: string; default?: unknown }> = Object.entries(
  envSchema.shape,
).map(([name, schema]) => {
  const def = (schema as z.ZodType).safeParse(undefined);
  return { name, description: (schema as z.ZodType).description ?? '', default: def.success ? def.data : undefined };
});

function checkDuration(name: string, value: string): string {
  try {
    msToNumber(value as Parameters<typeof msToNumber>[0]);
    return value;
  } catch {
    throw new Error(`${name}=${JSON.stringify(value)} is not a duration; use forms like 30d, 15m, 500ms.`);
  }
}

function parseDestination(env: Env, dataDir: string): SftpTarget | LocalTarget {
  const raw = env.GETRESULTS_DESTINATION;
  if (!raw || !raw.startsWith('sftp://')) {
    return { kind: 'local', basePath: path.resolve(raw ?? path.join(dataDir, 'destination')) };
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`GETRESULTS_DESTINATION=${raw} is not a valid sftp:// URL (expected sftp://user@host:port/remote/root).`);
  }
  if (url.password) throw new Error('GETRESULTS_DESTINATION must not carry a password: key-based authentication only.');
  if (!url.username) throw new Error('GETRESULTS_DESTINATION needs a user name: sftp://user@host/remote/root.');
  if (!env.GETRESULTS_SSH_KEY_FILE) throw new Error('GETRESULTS_SSH_KEY_FILE is required with an sftp:// destination.');
  if (!env.GETRESULTS_SSH_KNOWN_HOSTS && !env.GETRESULTS_SSH_HOST_FINGERPRINT) {
    throw new Error(
      'An sftp:// destination needs GETRESULTS_SSH_KNOWN_HOSTS or GETRESULTS_SSH_HOST_FINGERPRINT: host keys are never accepted blindly.',
    );
  }
  return {
    kind: 'sftp',
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port ? Number(url.port) : 22,
    username: decodeURIComponent(url.username),
    basePath: decodeURIComponent(url.pathname) || '/',
    privateKeyFile: env.GETRESULTS_SSH_KEY_FILE,
    passphraseFile: env.GETRESULTS_SSH_KEY_PASSPHRASE_FILE ? path.resolve(env.GETRESULTS_SSH_KEY_PASSPHRASE_FILE) : undefined,
    knownHostsFile: env.GETRESULTS_SSH_KNOWN_HOSTS,
    pinnedFingerprint: env.GETRESULTS_SSH_HOST_FINGERPRINT,
    poolSize: env.GETRESULTS_SSH_POOL_SIZE,
    useRemoteSha256sum: env.GETRESULTS_SSH_REMOTE_SHA256SUM === 'true',
  };
}

function parseAlertEmail(env: Env): Config['alerts']['email'] {
  if (!env.GETRESULTS_ALERT_SMTP_URL && !env.GETRESULTS_ALERT_EMAIL_TO) return undefined;
  if (!env.GETRESULTS_ALERT_SMTP_URL || !env.GETRESULTS_ALERT_EMAIL_TO) throw new Error('E-mail alerts need both GETRESULTS_ALERT_SMTP_URL and GETRESULTS_ALERT_EMAIL_TO.');
  if (new URL(env.GETRESULTS_ALERT_SMTP_URL).password) throw new Error('GETRESULTS_ALERT_SMTP_URL must not hold a password: put it in GETRESULTS_ALERT_SMTP_PASSWORD_FILE.');
  const to = env.GETRESULTS_ALERT_EMAIL_TO.split(',').map((a) => a.trim()).filter(Boolean);
  return {
    url: env.GETRESULTS_ALERT_SMTP_URL,
    passwordFile: env.GETRESULTS_ALERT_SMTP_PASSWORD_FILE && path.resolve(env.GETRESULTS_ALERT_SMTP_PASSWORD_FILE),
    from: env.GETRESULTS_ALERT_EMAIL_FROM ?? `getresults@${hostname()}`,
    to,
  };
}

function parseAlertWebhook(env: Env): Config['alerts']['webhook'] {
  if (!env.GETRESULTS_ALERT_WEBHOOK_URL) return undefined;
  if (!env.GETRESULTS_ALERT_WEBHOOK_SECRET_FILE) throw new Error('GETRESULTS_ALERT_WEBHOOK_URL needs GETRESULTS_ALERT_WEBHOOK_SECRET_FILE (the secret its messages are signed with).');
  return { url: env.GETRESULTS_ALERT_WEBHOOK_URL, secretFile: path.resolve(env.GETRESULTS_ALERT_WEBHOOK_SECRET_FILE) };
}

function parsePayloadKeys(env: Env): Config['payloadKeys'] {
  if (env.GETRESULTS_PAYLOAD_KEYS_FILE && env.GETRESULTS_PAYLOAD_KEY) {
    throw new Error('Set GETRESULTS_PAYLOAD_KEYS_FILE or GETRESULTS_PAYLOAD_KEY, not both.');
  }
  if (env.GETRESULTS_PAYLOAD_KEY && !env.GETRESULTS_PAYLOAD_KEY_ID) {
    throw new Error('GETRESULTS_PAYLOAD_KEY needs GETRESULTS_PAYLOAD_KEY_ID (a name for the key, stored with every payload).');
  }
  return {
    keysFile: env.GETRESULTS_PAYLOAD_KEYS_FILE ? path.resolve(env.GETRESULTS_PAYLOAD_KEYS_FILE) : undefined,
    key: env.GETRESULTS_PAYLOAD_KEY,
    keyId: env.GETRESULTS_PAYLOAD_KEY_ID,
  };
}

/**
 * Reads configuration from the environment (and the optional GETRESULTS_CONFIG file), failing with a message that
 * names the bad setting. Nothing here is logged: some settings point at secrets.
 */
export function loadConfig(environment: NodeJS.ProcessEnv = process.env): Config {
  let fromFile: Record<string, string> = {};
  if (environment.GETRESULTS_CONFIG) {
    try {
      const json = JSON.parse(readFileSync(environment.GETRESULTS_CONFIG, 'utf8')) as Record<string, unknown>;
      fromFile = Object.fromEntries(Object.entries(json).map(([k, v]) => [k, String(v)]));
    } catch (err) {
      throw new Error(`GETRESULTS_CONFIG ${environment.GETRESULTS_CONFIG} could not be read as JSON: ${(err as Error).message}`);
    }
    const unknown = Object.keys(fromFile).filter((k) => !(k in envSchema.shape));
    if (unknown.length) throw new Error(`GETRESULTS_CONFIG names unknown settings: ${unknown.join(', ')}`);
  }
  const merged: Record<string, string | undefined> = { ...fromFile };
  for (const key of Object.keys(envSchema.shape)) {
    if (environment[key] !== undefined && environment[key] !== '') merged[key] = environment[key];
  }
  const parsed = envSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`Setting ${issue.path.join('.')} ${issue.message} (got ${JSON.stringify(merged[String(issue.path[0])])}).`);
  }
  const env = parsed.data;
  const dataDir = path.resolve(env.GETRESULTS_DATA_DIR);
  const dir = (value: string | undefined, name: string) => path.resolve(value ?? path.join(dataDir, name));
  return {
    dataDir,
    uploadDir: dir(env.GETRESULTS_UPLOAD_DIR, 'upload'),
    archiveDir: dir(env.GETRESULTS_ARCHIVE_DIR, 'archive'),
    rejectedDir: dir(env.GETRESULTS_REJECTED_DIR, 'rejected'),
    duplicatesDir: dir(env.GETRESULTS_DUPLICATES_DIR, 'duplicates'),
    destination: parseDestination(env, dataDir),
    temporal: {
      address: env.TEMPORAL_ADDRESS,
      namespace: env.TEMPORAL_NAMESPACE,
      cliPath: env.TEMPORAL_CLI_PATH,
      devServerPort: env.GETRESULTS_TEMPORAL_PORT,
      devServerUiPort: env.GETRESULTS_TEMPORAL_UI_PORT,
      uiUrl: env.TEMPORAL_UI_URL,
      connection: {
        tls: env.TEMPORAL_TLS === undefined ? undefined : env.TEMPORAL_TLS === 'true',
        caFile: env.TEMPORAL_TLS_SERVER_CA_CERT_PATH && path.resolve(env.TEMPORAL_TLS_SERVER_CA_CERT_PATH),
        certFile: env.TEMPORAL_TLS_CLIENT_CERT_PATH && path.resolve(env.TEMPORAL_TLS_CLIENT_CERT_PATH),
        keyFile: env.TEMPORAL_TLS_CLIENT_KEY_PATH && path.resolve(env.TEMPORAL_TLS_CLIENT_KEY_PATH),
        serverName: env.TEMPORAL_TLS_SERVER_NAME,
        apiKey: env.TEMPORAL_API_KEY,
        apiKeyFile: env.TEMPORAL_API_KEY_FILE && path.resolve(env.TEMPORAL_API_KEY_FILE),
      },
    },
    databaseUrl: env.DATABASE_URL,
    embeddedPostgresPort: env.GETRESULTS_EMBEDDED_PG_PORT,
    web: { host: env.GETRESULTS_WEB_HOST, port: env.GETRESULTS_WEB_PORT, publicUrl: env.GETRESULTS_PUBLIC_URL?.replace(/\/+$/, ''), trustProxy: env.GETRESULTS_TRUST_PROXY === 'true', sessionIdleMs: env.GETRESULTS_SESSION_IDLE_MINUTES * 60_000, maxConcurrentUploads: env.GETRESULTS_WEB_MAX_CONCURRENT_UPLOADS, uploadHost: env.GETRESULTS_WEB_UPLOAD_HOST },
    logFormat: env.GETRESULTS_LOG_FORMAT,
    standIn: { enabled: env.GETRESULTS_STANDIN === 'auto', port: env.GETRESULTS_STANDIN_PORT, scanInterval: checkDuration('GETRESULTS_STANDIN_SCAN_INTERVAL', env.GETRESULTS_STANDIN_SCAN_INTERVAL) },
    alerts: {
      interval: checkDuration('GETRESULTS_ALERT_INTERVAL', env.GETRESULTS_ALERT_INTERVAL),
      email: parseAlertEmail(env),
      webhook: parseAlertWebhook(env),
      transferAttempts: env.GETRESULTS_ALERT_TRANSFER_ATTEMPTS,
      scanMissedIntervals: env.GETRESULTS_ALERT_SCAN_MISSED,
      digestHour: env.GETRESULTS_ALERT_DIGEST_HOUR,
      includeFileNames: env.GETRESULTS_ALERT_INCLUDE_FILE_NAMES === 'true',
    },
    ops: { host: env.GETRESULTS_METRICS_HOST, port: env.GETRESULTS_METRICS_PORT, tokenFile: env.GETRESULTS_METRICS_TOKEN_FILE, unfetchedAfterDays: env.GETRESULTS_UNFETCHED_DAYS, sdkMetrics: env.GETRESULTS_SDK_METRICS === 'on' },
    hostId: env.GETRESULTS_HOST_ID ?? hostname().replace(/[^A-Za-z0-9_.-]/g, '-'),
    lab: env.GETRESULTS_LAB,
    patterns: env.GETRESULTS_PATTERNS_FILE ? loadPatternsFile(env.GETRESULTS_PATTERNS_FILE) : [...SEED_PATTERNS],
    foldersCsv: env.GETRESULTS_FOLDERS_CSV ? path.resolve(env.GETRESULTS_FOLDERS_CSV) : SEED_FOLDERS_CSV,
    ackTimeout: checkDuration('GETRESULTS_ACK_TIMEOUT', env.GETRESULTS_ACK_TIMEOUT),
    blockedRetryInterval: checkDuration('GETRESULTS_BLOCKED_RETRY', env.GETRESULTS_BLOCKED_RETRY),
    watcher: { stableMs: env.GETRESULTS_STABLE_MS, concurrency: env.GETRESULTS_WATCH_CONCURRENCY, detection: env.GETRESULTS_WATCH_DETECTION },
    maxFileBytes: Math.round(env.GETRESULTS_MAX_FILE_MB * 1024 * 1024),
    quickSendMaxBytes: Math.round(env.GETRESULTS_QUICK_SEND_MAX_MB * 1024 * 1024),
    workflowCache: env.GETRESULTS_WORKFLOW_CACHE,
    accessLog: {
      location: env.GETRESULTS_ACCESS_LOG,
      rotatedLocation: env.GETRESULTS_ACCESS_LOG_ROTATED ?? (env.GETRESULTS_ACCESS_LOG ? `${env.GETRESULTS_ACCESS_LOG}.1` : undefined),
      format: env.GETRESULTS_ACCESS_LOG_FORMAT,
      urlPrefix: env.GETRESULTS_ACK_URL_PREFIX,
      pattern: env.GETRESULTS_ACK_FILE_PATTERN,
      scanInterval: checkDuration('GETRESULTS_LOG_SCAN_INTERVAL', env.GETRESULTS_LOG_SCAN_INTERVAL),
      chunkBytes: Math.round(env.GETRESULTS_LOG_SCAN_CHUNK_MB * 1024 * 1024),
    },
    payloadKeys: parsePayloadKeys(env),
    codecTokenFile: env.GETRESULTS_CODEC_TOKEN_FILE ? path.resolve(env.GETRESULTS_CODEC_TOKEN_FILE) : undefined,
  };
}
