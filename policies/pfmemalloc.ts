/**
 * pfmemalloc policy: who may dip into the emergency reserve, and what
 * happens to pages that came from it.
 *
 * @module
 */

/**
 * Decides reserve use. Consulted only when a refill needs a page, never on
 * the allocation fast path.
 *
 * @example A policy that lets everyone use the reserve but never recycles its pages
 * ```ts
 * import { createPageFragCache, type PfmemallocPolicy } from "@pagefrag/pagefrag";
 *
 * const generous: PfmemallocPolicy = {
 *   name: "generous",
 *   mayUseReserve: () => true,
 *   mayRecycle: (pfmemalloc) => !pfmemalloc,
 * };
 * const cache = createPageFragCache({ maxBytes: 0, reserveBytes: 4096, refill: "order0", pfmemalloc: generous });
 * const addr = cache.allocHandle(100)!;
 * if (!cache.isPfmemalloc()) throw new Error();
 * cache.free(addr);
 * ```
 */
export interface PfmemallocPolicy {
  /** A short name for stats and error messages. */
  readonly name: string;
  /** Whether a refill for a request with this `memalloc` flag may use the reserve. */
  mayUseReserve(memalloc: boolean): boolean;
  /** Whether an exhausted page whose fragments are all free may be recycled in place. */
  mayRecycle(pfmemalloc: boolean): boolean;
}

/**
 * The kernel's rule: only `memalloc` requests (`__GFP_MEMALLOC`) may use the
 * reserve; reserve pages are marked pfmemalloc and never recycled, so the
 * reserve flows back as soon as their fragments are freed.
 *
 * @example
 * ```ts
 * import { kernelPfmemalloc } from "@pagefrag/pagefrag";
 *
 * if (kernelPfmemalloc.mayUseReserve(false) || kernelPfmemalloc.mayRecycle(true)) throw new Error();
 * ```
 */
export const kernelPfmemalloc: PfmemallocPolicy = Object.freeze({
  name: "kernel",
  mayUseReserve: (memalloc: boolean) => memalloc,
  mayRecycle: (pfmemalloc: boolean) => !pfmemalloc,
});

/**
 * Never use the reserve, not even for `memalloc` requests.
 *
 * @example
 * ```ts
 * import { denyPfmemalloc } from "@pagefrag/pagefrag";
 *
 * if (denyPfmemalloc.mayUseReserve(true)) throw new Error();
 * ```
 */
export const denyPfmemalloc: PfmemallocPolicy = Object.freeze({
  name: "deny",
  mayUseReserve: () => false,
  mayRecycle: (pfmemalloc: boolean) => !pfmemalloc,
});
