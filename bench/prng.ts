/**
 * The benchmarks' one seeded generator (xorshift32): the same seed gives
 * the same workload on every runtime and every run. (When the shared
 * `testing/prng.ts` lands, this file becomes a re-export of it.)
 *
 * @module
 */

/** A generator of 32-bit unsigned integers from `seed` (not 0). */
export function xorshift32(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}
