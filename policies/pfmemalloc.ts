/**
 * pfmemalloc policy: who may dip into the emergency reserve, and what
 * happens to pages that came from it.
 *
 * @module
 */
import type { PfmemallocPolicy } from "../core/policy.ts";

export type { PfmemallocPolicy };

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
