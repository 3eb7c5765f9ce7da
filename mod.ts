/**
 * pagefrag: the Linux kernel's page fragment allocator (`page_frag_cache`)
 * for Deno, Bun and Node.
 *
 * A cache carves small fragments out of a page, counts them in a private
 * bias instead of a per-fragment object, and recycles the page in place once
 * every fragment is freed: millions of short-lived byte buffers without
 * millions of allocations. Pages come from a pluggable backend; alignment,
 * refill order and emergency-reserve handling are pluggable policies.
 *
 * This entry carries what a user needs on day one and loads no dependency.
 * Expert pieces have entry points of their own: `pagefrag/di` (compose with
 * tsyringe), `pagefrag/debug` (sanitizer, leak detection), `pagefrag/net`
 * (skb helpers), `pagefrag/core` (the contracts a backend or policy author
 * implements), `pagefrag/testing` (contract suites for them).
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
export type { BackendStats, MemoryBackend } from "./core/backend.ts";
export type {
  AlignmentPolicy,
  PfmemallocPolicy,
  RefillPolicy,
  RefillStep,
} from "./core/policy.ts";
export {
  type AllocOptions,
  PageFragCache,
  type PageFragStats,
  type PreparedFragment,
} from "./core/cache.ts";
export { pageFragFree } from "./core/owner.ts";
export { NapiFragCache } from "./flavours/napi.ts";
export { NetdevFragCache } from "./flavours/netdev.ts";
export type { PageFragOptions } from "./wiring/options.ts";
export {
  createNapiCache,
  createNetdevCache,
  createPageFragCache,
} from "./wiring/create.ts";
export {
  attachNetdevCache,
  type AttachNetdevOptions,
  type NetdevCacheDescriptor,
  shareNetdevCache,
} from "./wiring/share.ts";
export {
  configurePageFrag,
  defaultNapiCache,
  defaultNetdevCache,
  napiAllocFrag,
  napiPoll,
  netdevAllocFrag,
} from "./wiring/defaults.ts";
export type { BackendOptions } from "./backends/options.ts";
export { HeapBackend } from "./backends/heap.ts";
export {
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
  cacheLineAlignment,
  fixedAlignment,
  noAlignment,
} from "./policies/alignment.ts";
export { kernelRefill, order0Refill } from "./policies/refill.ts";
export { denyPfmemalloc, kernelPfmemalloc } from "./policies/pfmemalloc.ts";
export type { SanitizerOptions } from "./debug/sanitizer.ts";
export type { LeakDetectionLevel, LeakDetectorOptions } from "./debug/leaks.ts";
