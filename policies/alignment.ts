/**
 * Alignment policy: the default start alignment of fragments
 * (`page_frag_alloc_align`). Only the start is aligned; the size stays the
 * caller's, as in the kernel.
 *
 * @module
 */
import { PageFragError } from "../core/errors.ts";
import { type AlignmentPolicy, isValidAlign } from "../core/policy.ts";

export { type AlignmentPolicy, isValidAlign };

/**
 * No alignment: fragments are packed back to back (the kernel's
 * `page_frag_alloc`).
 *
 * @example
 * ```ts
 * import { createPageFragCache, noAlignment } from "@pagefrag/pagefrag";
 *
 * const cache = createPageFragCache({ align: noAlignment });
 * const a = cache.allocHandle(3)!, b = cache.allocHandle(3)!;
 * if (b !== a + 3) throw new Error();
 * ```
 */
export const noAlignment: AlignmentPolicy = Object.freeze({
  name: "none",
  align: 1,
});

/**
 * Align every fragment's start to `align` bytes.
 *
 * @example
 * ```ts
 * import { createPageFragCache, fixedAlignment } from "@pagefrag/pagefrag";
 *
 * const cache = createPageFragCache({ align: fixedAlignment(16) });
 * cache.allocHandle(3);
 * if (cache.allocHandle(3)! % 16 !== 0) throw new Error();
 * ```
 */
export function fixedAlignment(align: number): AlignmentPolicy {
  if (!isValidAlign(align, 1 << 30)) {
    throw new PageFragError(
      "EINVAL_ALIGN",
      `fixedAlignment(${String(align)}): alignment must be a power of two >= 1`,
    );
  }
  return Object.freeze({ name: `fixed-${align}`, align });
}

/**
 * Align every fragment's start to a 64-byte cache line, so two fragments
 * written by different workers never share a line.
 *
 * @example
 * ```ts
 * import { cacheLineAlignment, createPageFragCache } from "@pagefrag/pagefrag";
 *
 * const cache = createPageFragCache({ align: cacheLineAlignment });
 * cache.allocHandle(1);
 * if (cache.allocHandle(1)! % 64 !== 0) throw new Error();
 * ```
 */
export const cacheLineAlignment: AlignmentPolicy = Object.freeze({
  name: "cache-line",
  align: 64,
});
