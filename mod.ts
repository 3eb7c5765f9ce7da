/**
 * pagefrag: the Linux kernel's page fragment allocator (`page_frag_cache`)
 * for Deno, Bun and Node.
 *
 * A cache carves small fragments out of a page, counts them in a private
 * bias instead of a per-fragment object, and recycles the page in place once
 * every fragment is freed: millions of short-lived byte buffers without
 * millions of allocations. Pages come from a pluggable backend; alignment,
 * refill order and emergency-reserve handling are pluggable policies; the
 * parts are wired with tsyringe.
 *
 * | pagefrag                       | kernel                              |
 * | ------------------------------ | ----------------------------------- |
 * | `cache.alloc(size)`            | `page_frag_alloc`                   |
 * | `cache.alloc(size, { align })` | `page_frag_alloc_align`             |
 * | `cache.allocHandle(size)`      | `page_frag_alloc_va` (address only) |
 * | `cache.free(f)`, `pageFragFree`| `page_frag_free`                    |
 * | `cache.drain()`                | `page_frag_cache_drain`             |
 * | `cache.prepare` / `probe`      | `page_frag_alloc_prepare` / `_probe`|
 * | `cache.commit` / `commitNoref` | `page_frag_alloc_commit[_noref]`    |
 * | `cache.abort(f)`               | `page_frag_alloc_abort`             |
 * | `cache.isPfmemalloc()`         | `page_frag_cache_is_pfmemalloc`     |
 *
 * @example
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 *
 * const cache = createPageFragCache({ maxBytes: 1 << 20 });
 * const frag = cache.alloc(256);          // a Uint8Array over a shared page
 * if (frag === null) throw new Error("budget exhausted");
 * frag.fill(42);
 * cache.free(frag);
 * console.log(cache.stats(), cache.backend.stats());
 * ```
 *
 * @module
 */
export { PageFragError, type PageFragErrorCode } from "./core/errors.ts";
export {
  type BackendStats,
  type MemoryBackend,
  PINNED_REFS,
} from "./core/backend.ts";
export {
  type BackendOptions,
  type PageFragOptions,
  resolveBackendOptions,
  type ResolvedBackendOptions,
} from "./core/options.ts";
export {
  type AllocOptions,
  CACHE_STATE_BYTES,
  type CacheState,
  createCacheState,
  PageFragCache,
  type PageFragStats,
  type PreparedFragment,
} from "./core/cache.ts";
export { claimBuffer, ownerOf, pageFragFree } from "./core/owner.ts";
export {
  type Instrumentation,
  instrumentationOf,
  InstrumentedBackend,
  type PinnedPage,
  POISON_FREE,
  POISON_REDZONE,
  type SanitizedFragment,
  Sanitizer,
  SanitizerError,
  type SanitizerOptions,
  type SanitizerStats,
} from "./core/sanitizer.ts";
export {
  type LeakDetectionLevel,
  LeakDetector,
  type LeakDetectorOptions,
  type LeakReport,
  type LeakStats,
} from "./core/leaks.ts";
export { NapiFragCache } from "./core/napi.ts";
export { NetdevFragCache } from "./core/netdev.ts";
export {
  configurePageFrag,
  defaultNapiCache,
  defaultNetdevCache,
  napiAllocFrag,
  napiPoll,
  netdevAllocFrag,
} from "./core/defaults.ts";
export {
  attachNetdevCache,
  createNapiCache,
  createNetdevCache,
  createPageFragCache,
  type NetdevCacheDescriptor,
  type PageFragContainer,
  registerPageFrag,
  shareNetdevCache,
  TOKENS,
} from "./core/container.ts";
export {
  type AllocSkbOptions,
  MAX_SKB_FRAGS,
  napiAllocSkb,
  NET_SKB_PAD,
  netdevAllocSkb,
  SKB_SMALL_HEAD,
  skbCanCoalesce,
  skbFillPageDesc,
  type SkbFrag,
  skbFragSizeAdd,
  SkBuff,
} from "./net/skb.ts";
export { HeapBackend } from "./backends/heap.ts";
export {
  ArenaBackend,
  SharedBackend,
  type SharedBackendDescriptor,
  type SharedBackendOptions,
} from "./backends/shared.ts";
export {
  WasmBackend,
  type WasmBackendDescriptor,
  type WasmBackendOptions,
} from "./backends/wasm.ts";
export {
  type AlignmentPolicy,
  cacheLineAlignment,
  fixedAlignment,
  isValidAlign,
  noAlignment,
} from "./policies/alignment.ts";
export {
  kernelRefill,
  order0Refill,
  type RefillPolicy,
  type RefillStep,
} from "./policies/refill.ts";
export {
  denyPfmemalloc,
  kernelPfmemalloc,
  type PfmemallocPolicy,
} from "./policies/pfmemalloc.ts";
