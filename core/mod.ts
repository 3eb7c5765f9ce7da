/**
 * The contracts the cache state machine is written against, for authors of
 * backends and policies: `MemoryBackend` (a page allocator), the policy
 * interfaces, the cache class and its state layout, and the buffer-owner
 * registry that lets `pageFragFree` find a view's backend.
 *
 * @example
 * ```ts
 * import { CACHE_STATE_BYTES, createCacheState, PageFragCache } from "@pagefrag/pagefrag/core";
 * import { HeapBackend, kernelPfmemalloc, kernelRefill, noAlignment } from "@pagefrag/pagefrag";
 * import assert from "node:assert/strict";
 *
 * const state = createCacheState(new SharedArrayBuffer(CACHE_STATE_BYTES));
 * const cache = new PageFragCache(new HeapBackend(), noAlignment, kernelRefill, kernelPfmemalloc, state);
 * cache.free(cache.allocHandle(8)!);
 * assert.equal(state.counters[0], 1, "the counters live in the given state");
 * ```
 *
 * @module
 */
export {
  type BackendStats,
  type MemoryBackend,
  PINNED_REFS,
} from "./backend.ts";
export {
  type AlignmentPolicy,
  isValidAlign,
  type PfmemallocPolicy,
  type RefillPolicy,
  type RefillStep,
} from "./policy.ts";
export {
  type AllocOptions,
  CACHE_STATE_BYTES,
  type CacheState,
  createCacheState,
  PageFragCache,
  type PageFragStats,
  type PreparedFragment,
} from "./cache.ts";
export { claimBuffer, ownerOf, pageFragFree } from "./owner.ts";
export { PageFragError, type PageFragErrorCode } from "./errors.ts";
