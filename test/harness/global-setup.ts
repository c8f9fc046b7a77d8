import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.join(__dirname, '..', '..');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs);
  }
  return newest;
}

/**
 * End-to-end tests run the real `getresults` CLI as child processes, so dist/ must match src/. Rebuild only when a
 * source file is newer than the last build (npm ci already built it on a fresh checkout).
 */
export default function globalSetup(): void {
  const bundle = path.join(root, 'dist', 'workflow-bundle.js');
  if (existsSync(bundle) && statSync(bundle).mtimeMs > newestMtime(path.join(root, 'src'))) return;
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
}
