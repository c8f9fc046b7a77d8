import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * deploy/systemd/*.service: the units docs/deployment.md (section 7) has operators copy to /etc/systemd/system/. Each is
 * checked with `systemd-analyze verify`, which parses the unit as systemd itself would (unknown keys, bad values,
 * a missing ExecStart binary) without a running systemd: it works in a container where systemd is not PID 1.
 */
const ROOT = path.join(__dirname, '..', '..');
const UNIT_DIR = path.join(ROOT, 'deploy', 'systemd');
const CLI = path.join(ROOT, 'bin', 'getresults.js');
/** Section 1 of the guide: the interpreter, and where the repository is installed. */
const NODE = '/usr/bin/node';
const INSTALLED_CLI = '/opt/getresults-distribute/bin/getresults.js';

const UNITS = [
  { file: 'getresults-worker.service', command: 'worker' },
  { file: 'getresults-watch.service', command: 'watch' },
  { file: 'getresults-web.service', command: 'web' },
] as const;

/** section -> key -> every value assigned, in order (systemd allows repeated keys). */
type UnitFile = Map<string, Map<string, string[]>>;

function parseUnit(text: string): UnitFile {
  const sections: UnitFile = new Map();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    if (line.endsWith('\\')) throw new Error(`continued lines are not parsed here: ${raw}`);
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      current = new Map();
      sections.set(header[1]!, current);
      continue;
    }
    const eq = line.indexOf('=');
    if (!current || eq < 1) throw new Error(`not a unit file line: ${raw}`);
    const key = line.slice(0, eq).trim();
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return sections;
}

function valuesOf(unit: UnitFile, section: string, key: string): string[] {
  return unit.get(section)?.get(key) ?? [];
}

function readUnit(file: string): string {
  return readFileSync(path.join(UNIT_DIR, file), 'utf8');
}

function systemdAnalyze(args: string[]): SpawnSyncReturns<string> {
  const result = spawnSync('systemd-analyze', args, {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, LC_ALL: 'C', SYSTEMD_COLORS: '0' },
  });
  if (result.error) {
    const code = (result.error as NodeJS.ErrnoException).code;
    throw new Error(
      code === 'ENOENT'
        ? 'systemd-analyze is not installed (or not on PATH): it is part of the Debian package "systemd" ' +
            '(sudo apt-get install systemd), which these unit tests need.'
        : `systemd-analyze could not run: ${result.error.message}`,
    );
  }
  return result;
}

/** The stderr lines about a unit of ours: verify also loads the units ours name (multi-user.target...). */
function linesAbout(stderr: string, files: readonly string[]): string[] {
  return stderr.split('\n').filter((line) => line.trim() !== '' && files.some((file) => line.includes(file)));
}

/**
 * `systemd-analyze verify` checks that ExecStart's binary is executable; it does not look at its arguments (the
 * /opt path of section 1 need not exist here) or at User= (no user getresults here either), so the shipped files are
 * verified as they are. The one exception: a machine whose Node.js is not /usr/bin/node (the node Docker images have
 * /usr/local/bin/node) gets a copy, under the same file name, with only that binary replaced by this process's node,
 * so that a missing interpreter on the test machine is not reported as a defect of the unit.
 */
let scratch: string | undefined;
function verifiablePath(file: string): string {
  try {
    accessSync(NODE, constants.X_OK);
    return path.join(UNIT_DIR, file);
  } catch {
    scratch ??= mkdtempSync(path.join(tmpdir(), 'getresults-units-'));
    const copy = path.join(scratch, file);
    writeFileSync(copy, readUnit(file).replace(/^ExecStart=\/usr\/bin\/node /m, `ExecStart=${process.execPath} `));
    return copy;
  }
}

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('deploy/systemd units', () => {
  it('holds exactly the three units of the guide', () => {
    expect(readdirSync(UNIT_DIR).sort()).toEqual(UNITS.map((u) => u.file).sort());
  });

  describe.each(UNITS)('$file', ({ file, command }) => {
    const unit = parseUnit(readUnit(file));

    it('passes systemd-analyze verify with no warning about it', () => {
      const result = systemdAnalyze(['verify', verifiablePath(file)]);
      expect({ status: result.status, signal: result.signal, ours: linesAbout(result.stderr, [file]) }).toEqual({
        status: 0,
        signal: null,
        ours: [],
      });
    });

    it('runs as getresults with /etc/getresults/env and restarts always', () => {
      expect(valuesOf(unit, 'Service', 'User')).toEqual(['getresults']);
      expect(valuesOf(unit, 'Service', 'Group')).toEqual(['getresults']);
      expect(valuesOf(unit, 'Service', 'EnvironmentFile')).toEqual(['/etc/getresults/env']);
      expect(valuesOf(unit, 'Service', 'Restart')).toEqual(['always']);
      expect(valuesOf(unit, 'Install', 'WantedBy')).toEqual(['multi-user.target']);
    });

    it('is hardened without shutting out the data folder', () => {
      for (const [key, value] of [
        ['NoNewPrivileges', 'yes'],
        ['PrivateTmp', 'yes'],
        ['ProtectSystem', 'full'],
        ['ProtectHome', 'yes'],
        ['UMask', '0027'],
      ] as const) {
        expect([key, valuesOf(unit, 'Service', key)]).toEqual([key, [value]]);
      }
      expect(valuesOf(unit, 'Service', 'ReadWritePaths').join(' ').split(/\s+/)).toContain('-/var/lib/getresults');
    });

    it(`starts an existing getresults subcommand (${command})`, () => {
      const execStart = valuesOf(unit, 'Service', 'ExecStart');
      expect(execStart).toHaveLength(1);
      expect(execStart[0]).not.toMatch(/["'$%\\]/); // plain words only, so splitting on spaces is what systemd does
      const [binary, script, ...args] = execStart[0]!.split(/\s+/);
      expect([binary, script, args[0]]).toEqual([NODE, INSTALLED_CLI, command]);

      // This checkout's CLI stands in for the installed copy; this process's node for /usr/bin/node.
      const help = spawnSync(process.execPath, [CLI, ...args, '--help'], {
        encoding: 'utf8',
        timeout: 60_000,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      });
      expect(help.error).toBeUndefined();
      // Commander answers `getresults <unknown> --help` with the top-level help and exit 0: the usage line is the proof.
      expect({ status: help.status, usage: help.stdout.split('\n')[0] }).toEqual({
        status: 0,
        usage: expect.stringMatching(new RegExp(`^Usage: getresults ${command} `)),
      });
    });
  });

  it('verifies all three at once, as the guide has operators check them', () => {
    const files = UNITS.map((u) => u.file);
    const result = systemdAnalyze(['verify', ...files.map(verifiablePath)]);
    expect({ status: result.status, ours: linesAbout(result.stderr, files) }).toEqual({ status: 0, ours: [] });
  });
});
