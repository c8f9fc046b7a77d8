#!/usr/bin/env node
// The compiled CLI lives in dist/ (built by `npm ci` through the prepare script).
require('../dist/cli/main.js').main(process.argv).catch((err) => {
  process.stderr.write(`getresults: ${err && err.message ? err.message : String(err)}\n`);
  process.exit(1);
});
