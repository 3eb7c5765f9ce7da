/**
 * Where a cache keeps its state: a few integer words (the current page, its
 * size, the carve offset, the unused bias, flags) and the counters `stats()`
 * reports. In typed arrays rather than fields so a flavour can put them in
 * shared memory and let several workers use one cache under a lock.
 *
 * @module
 */

// Word and counter indices (internal to core/: the cache and its tests).
export const PAGE = 0; // base address of the current page, 0 = none
export const PAGE_BYTES = 1; // its size
export const OFFSET = 2; // next free byte in the page
export const BIAS = 3; // unused part of the bulk reference (pagecnt_bias)
export const PFMEMALLOC = 4; // 1 when the page came from the reserve
export const LAST = 5; // address of the most recent fragment (for abort), 0 = none
export const PREP = 6; // address returned by the last prepare/probe, 0 = none
export const DEAD = 7; // 1 once destroy() ran
export const STATE_WORDS = 8;

// Fragments carved from pages the cache no longer holds; stats() adds the
// current page's (biasMax - BIAS), so the fast path counts nothing.
export const ALLOCS = 0;
export const ALLOC_FAILURES = 1;
export const REFILLS = 2;
export const RECYCLES = 3;
export const FALLBACKS = 4;
export const PFMEMALLOC_REFILLS = 5;
export const DRAINS = 6;
export const ABORTS = 7;
export const COUNTERS = 8;
/**
 * Where a cache keeps its state: by default private arrays; a flavour that
 * shares one cache between workers passes arrays over a `SharedArrayBuffer`
 * (and serialises every call with a lock of its own).
 *
 * @example
 * ```ts
 * import { CACHE_STATE_BYTES, createCacheState } from "@pagefrag/pagefrag/core";
 * import { HeapBackend, kernelPfmemalloc, kernelRefill, noAlignment, PageFragCache } from "@pagefrag/pagefrag";
 *
 * import assert from "node:assert/strict";
 *
 * const state = createCacheState(new SharedArrayBuffer(CACHE_STATE_BYTES));
 * const backend = new HeapBackend();
 * const a = new PageFragCache(backend, noAlignment, kernelRefill, kernelPfmemalloc, state);
 * const b = new PageFragCache(backend, noAlignment, kernelRefill, kernelPfmemalloc, state);
 * const x = a.allocHandle(8)!;
 * assert.equal(b.allocHandle(8), x + 8, "b carves where a stopped: one state");
 * ```
 */
export interface CacheState {
  /** The state words: current page, size, offset, bias, flags. */
  readonly words: Int32Array;
  /** The counters reported by `stats()`. */
  readonly counters: Float64Array;
}

/**
 * Lay a {@linkcode CacheState} over `buffer` (at least
 * `CACHE_STATE_BYTES` bytes, zeroed) or over fresh private memory.
 *
 * @example
 * ```ts
 * import { createCacheState } from "@pagefrag/pagefrag/core";
 *
 * const state = createCacheState();
 * if (state.words.length < 7 || state.counters.length < 8) throw new Error();
 * ```
 */
export function createCacheState(
  buffer: ArrayBufferLike = new ArrayBuffer(CACHE_STATE_BYTES),
  byteOffset = 0,
): CacheState {
  return {
    counters: new Float64Array(buffer, byteOffset, COUNTERS),
    words: new Int32Array(buffer, byteOffset + COUNTERS * 8, STATE_WORDS),
  };
}
/**
 * Bytes a {@linkcode CacheState} takes in a buffer.
 *
 * @example
 * ```ts
 * import { CACHE_STATE_BYTES, createCacheState } from "@pagefrag/pagefrag/core";
 *
 * createCacheState(new SharedArrayBuffer(CACHE_STATE_BYTES));
 * ```
 */
export const CACHE_STATE_BYTES: number = COUNTERS * 8 + STATE_WORDS * 4;

/**
 * What a cache has decided so far (cumulative counters).
 *
 * @example
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 *
 * const cache = createPageFragCache();
 * cache.free(cache.allocHandle(10)!);
 * const s = cache.stats();
 * if (s.allocs !== 1 || s.refills !== 1) throw new Error();
 * ```
 */
export interface PageFragStats {
  /** Fragments handed out (by alloc, allocHandle or commit). */
  allocs: number;
  /** Allocations (and prepares) that returned `null` for lack of memory. */
  allocFailures: number;
  /** New pages installed from the backend. */
  refills: number;
  /** Exhausted pages whose fragments were all free, reused in place. */
  recycles: number;
  /** Refills where the first step of the refill plan failed and a later one succeeded. */
  fallbacks: number;
  /** Refills that installed a page from the emergency reserve. */
  pfmemallocRefills: number;
  /** `drain()` calls that gave up a page. */
  drains: number;
  /** Fragments taken back by `abort()`. */
  aborts: number;
}
