#!/usr/bin/env node
// The compiled CLI lives in dist/ (built by `npm ci` through the prepare script).
require('../dist/cli/main.js').main(process.argv).catch((err) => {
  const message = err instanceof Error && err.message ? err.message : String(err);
  process.stderr.write(`getresults: ${message}\n`);
  if (process.env.GETRESULTS_DEBUG) process.stderr.write(`${err && err.stack ? err.stack : ''}\n`);
  process.exit(1);
});
