#!/usr/bin/env node
// The compiled CLI lives in dist/ (built by `npm ci` through the prepare script).
// `parse-log` is routed straight to its own small entry: the full CLI loads Temporal, MikroORM and Hono, which takes
// longer than scanning a large log does.
const parseLog = process.argv[2] === 'parse-log';
const entry = parseLog ? '../dist/cli/parse-log-main.js' : '../dist/cli/main.js';
require(entry).main(process.argv).catch((err) => {
  // `parse-log ... | head`: the reader has all it wanted.
  if (parseLog && err && err.code === 'EPIPE') return;
  const message = err instanceof Error && err.message ? err.message : String(err);
  process.stderr.write(`getresults: ${message}\n`);
  if (process.env.GETRESULTS_DEBUG) process.stderr.write(`${err && err.stack ? err.stack : ''}\n`);
  process.exit(1);
});
