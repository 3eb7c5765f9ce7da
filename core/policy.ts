/**
 * The policy contracts the cache is written against. A cache consults its
 * policies at refill time (and, for alignment, per allocation only when the
 * policy asks to be), never per byte: plain objects implementing these small
 * interfaces. The built-in policies live in `policies/`.
 *
 * @module
 */

/**
 * Decides where fragments start when the caller names no alignment.
 *
 * A policy with only `align` costs nothing per allocation: the cache turns it
 * into a mask once. A policy with `alignFor` is asked on every allocation
 * without an explicit alignment, so keep it to a few integer operations.
 *
 * @example A policy that aligns fragments of 256 bytes or more to 64
 * ```ts
 * import { createPageFragCache, type AlignmentPolicy } from "@pagefrag/pagefrag";
 *
 * const bigOnCacheLines: AlignmentPolicy = {
 *   name: "big-on-cache-lines",
 *   align: 1,
 *   alignFor: (size) => (size >= 256 ? 64 : 1),
 * };
 * const cache = createPageFragCache({ align: bigOnCacheLines });
 * cache.allocHandle(3);
 * if (cache.allocHandle(300)! % 64 !== 0) throw new Error();
 * ```
 */
export interface AlignmentPolicy {
  /** A short name for stats and error messages. */
  readonly name: string;
  /** Default alignment in bytes: a power of two in `1 .. pageSize`. */
  readonly align: number;
  /** Optional per-size alignment; when present it replaces `align`. Must return a power of two <= pageSize. */
  alignFor?(size: number): number;
}

/**
 * Whether `align` is a power of two between 1 and `max`.
 *
 * @example
 * ```ts
 * import { isValidAlign } from "@pagefrag/pagefrag/core";
 *
 * if (!isValidAlign(64, 4096) || isValidAlign(3, 4096)) throw new Error();
 * ```
 */
export function isValidAlign(align: number, max: number): boolean {
  return typeof align === "number" && align >= 1 && align <= max &&
    (align | 0) === align && (align & (align - 1)) === 0;
}

/**
 * One attempt of a refill: ask the backend for a page of `order`; `reserve`
 * says whether this attempt may touch the emergency reserve (it still needs
 * the pfmemalloc policy's consent and a `memalloc` request).
 *
 * @example
 * ```ts
 * import type { RefillStep } from "@pagefrag/pagefrag";
 *
 * const cheapHighOrder: RefillStep = { order: 3, reserve: false };
 * if (cheapHighOrder.reserve) throw new Error();
 * ```
 */
export interface RefillStep {
  /** Page order to request: the page is `pageSize << order` bytes. */
  readonly order: number;
  /** Whether this attempt may use the emergency reserve. */
  readonly reserve: boolean;
}

/**
 * Plans a refill. Called once per page the cache installs (never per
 * fragment). Steps whose order is below `minOrder` (too small for the
 * fragment) or above `maxOrder` are skipped. Return the same array each time
 * if you can: a refill then allocates nothing.
 *
 * @example A policy that always takes order-1 pages when the fragment fits
 * ```ts
 * import { createPageFragCache, type RefillPolicy, type RefillStep } from "@pagefrag/pagefrag";
 *
 * const order1: RefillStep[] = [{ order: 1, reserve: true }];
 * const orderOne: RefillPolicy = {
 *   name: "order1",
 *   plan: (_size, minOrder, maxOrder) =>
 *     minOrder <= 1 ? order1 : [{ order: Math.min(minOrder, maxOrder), reserve: true }],
 * };
 * const cache = createPageFragCache({ refill: orderOne });
 * const addr = cache.allocHandle(100)!;
 * if (cache.backend.stats().bytesInUse !== 8192) throw new Error();
 * cache.free(addr);
 * ```
 */
export interface RefillPolicy {
  /** A short name for stats and error messages. */
  readonly name: string;
  /**
   * The attempts for a fragment of `size` bytes, tried in order until one
   * succeeds. `minOrder` is the smallest order that holds the fragment.
   */
  plan(size: number, minOrder: number, maxOrder: number): readonly RefillStep[];
}

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
