import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';

/** docker-compose.temporal.yml: the Temporal deployment that production workers reach through TEMPORAL_ADDRESS. */
const COMPOSE_FILE = path.join(__dirname, '..', '..', 'docker-compose.temporal.yml');
const REQUIRED_SERVICES = ['postgresql', 'temporal', 'temporal-admin-tools', 'temporal-ui'];
const COMPOSE_VARIABLES = [
  'POSTGRES_PASSWORD',
  'POSTGRES_USER',
  'TEMPORAL_BIND_ADDRESS',
  'TEMPORAL_UI_BIND_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'TEMPORAL_NAMESPACE_RETENTION',
  'TEMPORAL_NUM_HISTORY_SHARDS',
  'TEMPORAL_DYNAMIC_CONFIG_FILE_PATH',
];

interface Service {
  image?: string;
  environment?: Record<string, unknown> | string[];
  ports?: Array<string | { host_ip?: string; published?: string | number; target?: number }>;
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: unknown };
  volumes?: unknown[];
}

const raw = readFileSync(COMPOSE_FILE, 'utf8');
const compose = parse(raw) as { services: Record<string, Service>; volumes?: Record<string, unknown>; networks?: Record<string, unknown> };
const services = Object.entries(compose.services);

/** What Compose would substitute with none of our variables set: `${X:-default}` gives the default. */
function withDefaults(value: string): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}/g, (_m, _name: string, fallback?: string) => fallback ?? '');
}

function environmentOf(service: Service): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((line) => [line.split('=')[0]!, line.slice(line.indexOf('=') + 1)]));
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v == null ? '' : String(v)]));
}

/** Host address of a published port, before and after variable defaults are applied. */
function hostAddressOf(port: NonNullable<Service['ports']>[number]): string {
  if (typeof port !== 'string') return port.host_ip ?? '';
  const resolved = withDefaults(port);
  const parts = resolved.split(':');
  // host_ip:published:target has three parts; published:target or target alone publish on every interface.
  return parts.length >= 3 ? parts.slice(0, parts.length - 2).join(':') : '';
}

describe('docker-compose.temporal.yml', () => {
  it('defines the Temporal services, a network and a named volume for PostgreSQL', () => {
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(REQUIRED_SERVICES));
    expect(compose.networks).toBeDefined();
    const pgVolumes = (compose.services.postgresql!.volumes ?? []).map(String);
    const named = pgVolumes.find((v) => v.endsWith(':/var/lib/postgresql/data'));
    expect(named).toBeDefined();
    const volumeName = named!.split(':')[0]!;
    expect(volumeName).not.toMatch(/^[./~]/); // a named volume, not a bind mount
    expect(Object.keys(compose.volumes ?? {})).toContain(volumeName);
    expect(compose.services['temporal-ui']!.image).toMatch(/^temporalio\/ui:/);
  });

  it('starts Temporal only on a healthy PostgreSQL with its schema in place', () => {
    expect(compose.services.postgresql!.healthcheck?.test).toBeDefined();
    const deps = compose.services.temporal!.depends_on;
    expect(deps).not.toBeInstanceOf(Array);
    expect(deps).toMatchObject({
      postgresql: { condition: 'service_healthy' },
      'temporal-admin-tools': { condition: 'service_completed_successfully' },
    });
    const setup = environmentOf(compose.services['temporal-admin-tools']!);
    const server = environmentOf(compose.services.temporal!);
    expect(server).toMatchObject({ DB: 'postgres12', DB_PORT: '5432', POSTGRES_SEEDS: 'postgresql' });
    expect(server.POSTGRES_USER).toBe(setup.POSTGRES_USER);
    expect(server.POSTGRES_PWD).toBe(setup.SQL_PASSWORD);
  });

  it('holds no literal password: every secret is a required ${...} reference', () => {
    const secretKey = /PASSWORD|PWD|SECRET|TOKEN/i;
    const secrets: Array<[string, string]> = [];
    for (const [name, service] of services) {
      for (const [key, value] of Object.entries(environmentOf(service))) {
        if (secretKey.test(key)) secrets.push([`${name}.${key}`, value]);
      }
    }
    expect(secrets.length).toBeGreaterThanOrEqual(3);
    for (const [where, value] of secrets) {
      // `${X:?message}` makes Compose refuse to start without it; `${X:-default}` would be a committed password.
      expect([where, value]).toEqual([where, expect.stringMatching(/^\$\{[A-Z_]+:\?[^}]+\}$/)]);
    }
    // Nothing password-like hides elsewhere in the text either (e.g. in a command or a URL).
    for (const line of raw.split('\n').filter((l) => !l.trim().startsWith('#'))) {
      const assignment = /(PASSWORD|PWD)\s*[:=]\s*(\S+)/.exec(line);
      if (assignment) expect([line, assignment[2]]).toEqual([line, expect.stringMatching(/^\$\{/)]);
      expect(line).not.toMatch(/:\/\/[^/\s:@]+:[^@\s]+@/); // user:password@ in a URL
    }
  });

  it('publishes ports on 127.0.0.1 unless the operator says otherwise', () => {
    const published = services.flatMap(([name, s]) => (s.ports ?? []).map((p) => [name, p] as const));
    expect(published.map(([name]) => name)).toEqual(expect.arrayContaining(['temporal', 'temporal-ui']));
    for (const [name, port] of published) {
      expect([name, port, hostAddressOf(port)]).toEqual([name, port, '127.0.0.1']);
    }
    expect(compose.services.temporal!.ports!.map((p) => withDefaults(String(p)))).toContain('127.0.0.1:7233:7233');
    expect(compose.services['temporal-ui']!.ports!.map((p) => withDefaults(String(p)))).toContain('127.0.0.1:8080:8080');
    expect(compose.services.postgresql!.ports ?? []).toEqual([]); // Temporal's database stays on the private network
  });

  it('pins every image to an explicit tag, never latest, and keeps server and admin-tools on one version', () => {
    for (const [name, service] of services) {
      const image = service.image ?? '';
      expect([name, image]).toEqual([name, expect.stringMatching(/^[a-z0-9./_-]+:[A-Za-z0-9._-]+$/)]);
      expect([name, image]).not.toEqual([name, expect.stringMatching(/:latest$|\$\{/)]);
    }
    const serverVersion = /^temporalio\/server:(1\.2\d\.\d+)$/.exec(compose.services.temporal!.image!)?.[1];
    expect(serverVersion).toBeDefined();
    for (const [name, service] of services.filter(([, s]) => s.image!.startsWith('temporalio/admin-tools:'))) {
      expect([name, service.image]).toEqual([name, expect.stringMatching(new RegExp(`^temporalio/admin-tools:${serverVersion!.replace(/\./g, '\\.')}(-|$)`))]);
    }
  });

  describe('docker compose config', () => {
    const tool = findComposeTool();
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'compose-file-test-'));
      writeFileSync(path.join(dir, 'empty.env'), '');
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    /** Runs config with none of the file's variables inherited, and an empty env file instead of a stray ./.env. */
    function config(extraEnv: Record<string, string>, ...args: string[]) {
      const env: NodeJS.ProcessEnv = { ...process.env, ...extraEnv };
      for (const name of COMPOSE_VARIABLES) if (!(name in extraEnv)) delete env[name];
      return spawnSync(tool!.command, [...tool!.args, '--env-file', path.join(dir, 'empty.env'), '-f', COMPOSE_FILE, 'config', ...args], {
        env,
        encoding: 'utf8',
        timeout: 60_000,
      });
    }

    it('accepts the file with POSTGRES_PASSWORD set and refuses it without', () => {
      if (!tool) {
        console.warn(
          'SKIPPED: neither docker-compose nor the docker compose plugin is on PATH, so docker-compose.temporal.yml was ' +
            'checked only by the YAML assertions above, not by Compose itself (on Debian: apt-get install docker-compose).',
        );
        return;
      }
      const ok = config({ POSTGRES_PASSWORD: 'not-a-real-password' }, '-q');
      expect({ status: ok.status, stderr: ok.stderr }).toEqual({ status: 0, stderr: '' });

      const resolved = parse(config({ POSTGRES_PASSWORD: 'not-a-real-password' }).stdout) as { services: Record<string, Service> };
      const ports = Object.values(resolved.services).flatMap((s) => (s.ports ?? []).map(hostAddressOf));
      expect(ports.length).toBeGreaterThanOrEqual(2);
      expect(new Set(ports)).toEqual(new Set(['127.0.0.1']));

      const missing = config({}, '-q');
      expect(missing.status).not.toBe(0);
      expect(missing.stderr).toContain('set POSTGRES_PASSWORD');
    });
  });
});

function findComposeTool(): { command: string; args: string[] } | undefined {
  for (const candidate of [
    { command: 'docker-compose', args: [] },
    { command: 'docker', args: ['compose'] },
  ]) {
    const probe = spawnSync(candidate.command, [...candidate.args, 'version'], { encoding: 'utf8', timeout: 30_000 });
    if (probe.status === 0) return candidate;
  }
  return undefined;
}
