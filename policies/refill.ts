/**
 * Refill-order policy: which page orders a cache asks its backend for, in
 * which order, when the current page is exhausted (`__page_frag_cache_refill`).
 *
 * @module
 */

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

/** Frozen plans, by maxOrder * 32 + minOrder, so planning allocates nothing after warm-up. */
function memo(
  build: (minOrder: number, maxOrder: number) => RefillStep[],
): (size: number, minOrder: number, maxOrder: number) => readonly RefillStep[] {
  const plans: (readonly RefillStep[])[] = [];
  return (_size, minOrder, maxOrder) => {
    const key = maxOrder * 32 + minOrder;
    return plans[key] ??= Object.freeze(
      build(minOrder, maxOrder).map((s) => Object.freeze(s)),
    );
  };
}

/**
 * The kernel's order: first a `maxOrder` page, cheap to fail (no reserve),
 * then the smallest order that holds the fragment, which may use the reserve.
 * Fewer trips to the backend when memory is plentiful; still progress when
 * it is fragmented or tight.
 *
 * @example
 * ```ts
 * import { kernelRefill } from "@pagefrag/pagefrag";
 *
 * const steps = kernelRefill.plan(100, 0, 3);
 * if (steps[0].order !== 3 || steps[0].reserve || steps[1].order !== 0) throw new Error();
 * ```
 */
export const kernelRefill: RefillPolicy = Object.freeze({
  name: "kernel",
  plan: memo((minOrder, maxOrder) =>
    minOrder >= maxOrder
      ? [{ order: maxOrder, reserve: true }]
      : [{ order: maxOrder, reserve: false }, {
        order: minOrder,
        reserve: true,
      }]
  ),
});

/**
 * Only the smallest order that holds the fragment: order 0 for fragments up
 * to a page. Smallest footprint, most trips to the backend.
 *
 * @example
 * ```ts
 * import { order0Refill } from "@pagefrag/pagefrag";
 *
 * const steps = order0Refill.plan(6000, 1, 3);
 * if (steps.length !== 1 || steps[0].order !== 1) throw new Error();
 * ```
 */
export const order0Refill: RefillPolicy = Object.freeze({
  name: "order0",
  plan: memo((minOrder) => [{ order: minOrder, reserve: true }]),
});
