/** The types of seeded-random.cjs, for the tests that share it (test/harness/seeded-random.ts). */
export declare function seededRandom(seed: number): () => number;
