/**
 * Refill-order policy: which page orders a cache asks its backend for, in
 * which order, when the current page is exhausted (`__page_frag_cache_refill`).
 *
 * @module
 */
import type { RefillPolicy, RefillStep } from "../core/policy.ts";

export type { RefillPolicy, RefillStep };

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
