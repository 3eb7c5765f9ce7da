/**
 * The contract between the cache state machine and a page allocator.
 *
 * A backend is the kernel's buddy allocator plus `struct page`: it hands out
 * naturally aligned pages of order `0 .. maxOrder`, keeps each page's reference
 * count, order and pfmemalloc flag, and maps any address inside a page back to
 * that page. Fragments are named by a plain number, the *address* (page base +
 * offset, never 0); a `Uint8Array` view is made from an address only on demand.
 *
 * @module
 */

/**
 * What a backend reports about its pages. Byte counts are whole pages.
 *
 * @example
 * ```ts
 * import { HeapBackend } from "@pagefrag/pagefrag";
 *
 * const backend = new HeapBackend({ maxBytes: 65536 });
 * const s = backend.stats();
 * if (s.bytesInUse !== 0 || s.bytesTotal !== 65536 || s.pinnedPages !== 0) throw new Error();
 * ```
 */
export interface BackendStats {
  /** Budget plus reserve: the most bytes of pages that can be live at once (`Infinity` if unlimited). */
  bytesTotal: number;
  /** Bytes of live pages, reserve pages included. */
  bytesInUse: number;
  /** Live pages (a page of any order counts once). */
  pagesInUse: number;
  /** Bytes of live pages taken from the emergency reserve (pfmemalloc pages). */
  reserveInUse: number;
  /** Pages handed out since the backend was made (cumulative). */
  pagesAllocated: number;
  /** Pages that went back since the backend was made (cumulative). */
  pagesFreed: number;
  /** Page requests refused for lack of budget or reserve (cumulative). */
  pageFailures: number;
  /** The highest `bytesInUse` seen. */
  peakBytesInUse: number;
  /**
   * Live pages kept alive by at most {@linkcode PINNED_REFS} references and
   * held by no cache: the classic page_frag cost, one small fragment
   * pinning a whole (up to 32 KiB) page after its cache moved on. A cache's
   * bulk bias keeps the count of the page it holds far above this, so such
   * a page is counted only in the corner case where it was carved entirely
   * into one-byte fragments. With the sanitizer on,
   * `sanitizer.pinnedPages()` lists each one with its live fragments and
   * their allocation sites.
   */
  pinnedPages: number;
  /** Bytes of the pages counted in `pinnedPages`. */
  pinnedBytes: number;
  /**
   * New buffers ever made for pages (cumulative), next to `pagesAllocated`:
   * the difference is pages handed out again from the backend's own reuse
   * (the heap backend's pool). Optional: a backend that does not track it
   * leaves it out.
   */
  buffersCreated?: number;
  /**
   * Pages found with their buffer transferred away (`EDETACHED`) and
   * retired (cumulative). Optional.
   */
  pagesDetached?: number;
  /** Views handed out again from the view table (cumulative). Optional. */
  viewHits?: number;
  /** Views made because the view table had none for those bytes (cumulative). Optional. */
  viewMisses?: number;
}

/**
 * The reference count at or below which a live page counts as pinned in
 * {@linkcode BackendStats.pinnedPages}: one or two outstanding fragments.
 *
 * @example
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { PINNED_REFS } from "@pagefrag/pagefrag/core";
 *
 * const cache = createPageFragCache({ maxOrder: 0 });
 * const frag = cache.allocHandle(10)!;
 * cache.drain();                        // the page is now held by the fragment alone
 * const s = cache.backend.stats();
 * if (PINNED_REFS !== 2 || s.pinnedPages !== 1 || s.pinnedBytes !== 4096) throw new Error();
 * cache.free(frag);
 * ```
 */
export const PINNED_REFS = 2;

/**
 * A page allocator the {@linkcode PageFragCache} carves fragments from.
 * Implement it to bring your own memory; the built-ins are
 * {@linkcode HeapBackend}, {@linkcode SharedBackend} and {@linkcode WasmBackend}.
 *
 * Reference counting follows the kernel: a fresh page has a count of 1 (the
 * allocating cache's); the cache adds a bulk bias, each fragment `free`
 * drops one, and whoever brings the count to zero returns the page.
 *
 * The hot path calls only {@linkcode MemoryBackend.view},
 * {@linkcode MemoryBackend.addressOf} and {@linkcode MemoryBackend.free}; keep
 * them free of allocation beyond the view itself.
 *
 * @example A backend that wraps the heap backend and counts page requests
 * ```ts
 * import { createPageFragCache, HeapBackend, type MemoryBackend } from "@pagefrag/pagefrag";
 *
 * class CountingBackend extends HeapBackend implements MemoryBackend {
 *   requests = 0;
 *   override allocPage(order: number, reserve: boolean): number {
 *     this.requests++;
 *     return super.allocPage(order, reserve);
 *   }
 * }
 * const backend = new CountingBackend();
 * const cache = createPageFragCache({ backend });
 * cache.free(cache.allocHandle(100)!);
 * if (backend.requests !== 1) throw new Error();
 * ```
 */
export interface MemoryBackend<
  // The buffer under the views: `ArrayBuffer` (heap), `SharedArrayBuffer`
  // (shared), or unknown. Typed so heap fragments fit `BufferSource`/`BlobPart`.
  B extends ArrayBufferLike = ArrayBufferLike,
> {
  /** Bytes in an order-0 page: a power of two >= 1024. */
  readonly pageSize: number;
  /** Highest page order this backend hands out; pages are `pageSize << order` bytes. */
  readonly maxOrder: number;

  /**
   * Allocate a page of `pageSize << order` bytes with a reference count of 1
   * (`alloc_pages`). `reserve` allows the emergency reserve once the budget is
   * spent; a page taken from it is pfmemalloc. Returns the page's base
   * address, or 0 when neither budget nor (allowed) reserve has room. Never
   * throws for lack of memory.
   */
  allocPage(order: number, reserve: boolean): number;
  /** Base address of the live page holding `addr` (`virt_to_page`). */
  pageOf(addr: number): number;
  /** Size in bytes of the live page holding `page` (any address inside it). */
  pageBytes(page: number): number;
  /** Whether the fragment at `addr` lies in a page taken from the reserve. */
  isPfmemalloc(addr: number): boolean;
  /** Add `n` references to a live page (`page_ref_add`). */
  pageRefAdd(page: number, n: number): void;
  /**
   * Drop `n` references (`page_ref_sub_and_test`); true when the count reached
   * zero. The page is then owned by the caller, who must either add
   * references again (recycle) or {@linkcode MemoryBackend.releasePage} it.
   */
  pageRefSubAndTest(page: number, n: number): boolean;
  /** Return a page whose count is zero to the allocator (`free_unref_page`). */
  releasePage(page: number): void;
  /**
   * Drop one reference on the page holding `addr` and return the page when
   * it was the last (`page_frag_free`). Throws `EFOREIGN` for an address this
   * backend never handed out and `EDOUBLEFREE` for one whose page is gone.
   */
  free(addr: number): void;
  /**
   * A `Uint8Array` over `size` bytes at `addr` (the fragment's memory, not a
   * copy). A backend may hand out the same view object again for the same
   * (address, size) once the fragment was freed and its bytes carved again,
   * as it hands out the bytes themselves: `===` identity of a freed view
   * means nothing.
   */
  view(addr: number, size: number): Uint8Array<B>;
  /** The address of the first byte of `view`; `EFOREIGN` for a view this backend did not hand out. */
  addressOf(view: Uint8Array): number;
  /** Counters and gauges of the pages. */
  stats(): BackendStats;
  /**
   * Optional: a word that counts page releases, for callers that wait for
   * memory (`pagefrag/io`'s async allocation). Element 0 is incremented with
   * `Atomics.add` and woken with `Atomics.notify` each time a page goes back
   * to the allocator (or a budget is otherwise freed). Over a
   * `SharedArrayBuffer` when the runtime has one, so `Atomics.waitAsync` can
   * wait on it from any worker attached to the same memory.
   */
  readonly releaseSignal?: Int32Array;
}
