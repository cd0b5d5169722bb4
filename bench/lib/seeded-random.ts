/**
 * Deterministic pseudo-random numbers in [0, 1) (mulberry32): the bench sends the same traffic on
 * every run, and a test's data follows from its seed, so a failing seed can be replayed. It lives
 * in bench/ because the bench build compiles src/, libs/ and bench/ only (bench/launch.mjs); the
 * tests import it from here too (test/support/seeded-random.ts).
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
