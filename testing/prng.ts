/**
 * The one seeded pseudo-random generator of pagefrag's tests, examples and
 * benchmarks: a randomised test that fails reproduces from its seed, and a
 * benchmark replays the same workload for every contender.
 *
 * The generator is mulberry32 (Tommy Ettinger's 32-bit state mixer): one
 * 32-bit word of state, a period of 2^32, good enough statistics for
 * choosing sizes, slots and lifetimes, and a few integer operations a draw,
 * so it does not dominate the loops it drives. It is not cryptographic.
 *
 * @module
 */

/**
 * A seeded generator: call it for a float in `[0, 1)`, or use its helpers.
 * Every helper draws from the same stream, so one seed fixes the whole
 * sequence, whichever helpers are called.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { prng } from "@pagefrag/pagefrag/testing";
 *
 * const rand = prng(42);
 * const size = rand.range(64, 1500); // an integer, both ends included
 * assert.ok(size >= 64 && size <= 1500, "in range");
 * assert.ok(["a", "b"].includes(rand.pick(["a", "b"])), "one of them");
 * ```
 */
export interface Prng {
  /** A float in `[0, 1)` (the same as {@linkcode Prng.float}). */
  (): number;
  /** The seed the generator started from (as an unsigned 32-bit integer). */
  readonly seed: number;
  /** An unsigned 32-bit integer, uniform in `[0, 2^32)`. */
  u32(): number;
  /** A float in `[0, 1)`, a multiple of 2^-32. */
  float(): number;
  /** An integer in `[0, n)` (`n` a positive integer up to 2^32). */
  int(n: number): number;
  /** An integer in `[min, max]`, both ends included. */
  range(min: number, max: number): number;
  /** `true` with probability `p` (default one half). */
  bool(p?: number): boolean;
  /** One element of a non-empty array, each equally likely. */
  pick<T>(items: readonly T[]): T;
}

/**
 * Make a generator from `seed` (any number; it is taken modulo 2^32): the
 * same seed gives the same sequence on every runtime.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { prng } from "@pagefrag/pagefrag/testing";
 *
 * const a = prng(7), b = prng(7);
 * const x = a();
 * assert.equal(x, b(), "same seed, same sequence");
 * assert.ok(x >= 0 && x < 1, "a float in [0, 1)");
 * assert.equal(a.int(10), b.int(10), "and the helpers too");
 * ```
 */
export function prng(seed: number): Prng {
  let state = seed >>> 0;
  const u32 = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  const float = (): number => u32() / 4294967296;
  const int = (n: number): number => Math.floor(float() * n);
  return Object.assign(float, {
    seed: seed >>> 0,
    u32,
    float,
    int,
    range: (min: number, max: number): number => min + int(max - min + 1),
    bool: (p = 0.5): boolean => float() < p,
    pick: <T>(items: readonly T[]): T => items[int(items.length)],
  });
}
