'use strict';
/**
 * mulberry32: small, fast, and the same sequence on every machine, so a benchmark's generated data and parameters are
 * the same from run to run. Shared by the bench scripts and, through test/harness/seeded-random.ts, the tests.
 */
function seededRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

module.exports = { seededRandom };
