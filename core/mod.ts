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
 * const backend = new HeapBackend();
 * const a = new PageFragCache(backend, noAlignment, kernelRefill, kernelPfmemalloc, state);
 * const b = new PageFragCache(backend, noAlignment, kernelRefill, kernelPfmemalloc, state);
 * const x = a.allocHandle(8)!;
 * assert.equal(b.allocHandle(8), x + 8, "b carves where a stopped: one state");
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
