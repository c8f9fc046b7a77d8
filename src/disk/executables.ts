import { existsSync } from 'node:fs';
import path, { delimiter } from 'node:path';

/** Finds an executable on PATH, so a missing CLI is reported before anything starts. */
export function findOnPath(name: string): string | undefined {
  if (name.includes('/')) return existsSync(name) ? name : undefined;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = path.join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}
