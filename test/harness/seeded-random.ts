/**
 * mulberry32, the tiny seeded PRNG of the benchmarks (bench/seeded-random.cjs), so generated corpora and fault timings
 * are the same on every run (and replayable), and the same sequence as the bench scripts draw.
 */
export { seededRandom } from '../../bench/seeded-random.cjs';
