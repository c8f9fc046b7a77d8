#!/usr/bin/env node
// Records the replay corpus of a new workflow version: `npm run record-histories -- v2`.
// Runs the workflow-level tests with GETRESULTS_RECORD_HISTORIES set, which makes them write each marked scenario's
// history into test/histories/<version>/. An existing version is never re-recorded: it is the evidence that runs
// recorded by that version's code still replay (docs/workflow-versioning.md).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const version = process.argv[2];
if (!version || !/^v\d+$/.test(version)) {
  process.stderr.write('usage: npm run record-histories -- v<N>   (the next version folder under test/histories/)\n');
  process.exit(2);
}
const target = path.join(root, 'test', 'histories', version);
if (existsSync(target)) {
  process.stderr.write(`test/histories/${version} exists already; old versions are never re-recorded. Pick the next version.\n`);
  process.exit(2);
}
const jest = path.join(root, 'node_modules', 'jest', 'bin', 'jest.js');
const tests = ['test/workflows/distribute-file.test.ts', 'test/workflows/resend-and-scan.test.ts'];
const run = spawnSync(process.execPath, ['--experimental-vm-modules', '--no-warnings=ExperimentalWarning', jest, '--runInBand', ...tests], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, GETRESULTS_RECORD_HISTORIES: version },
});
if (run.status === 0) process.stdout.write(`Recorded test/histories/${version}/; commit it beside the older versions.\n`);
process.exit(run.status ?? 1);
