/**
 * Alignment policy: the default start alignment of fragments
 * (`page_frag_alloc_align`). Only the start is aligned; the size stays the
 * caller's, as in the kernel.
 *
 * @module
 */
import { PageFragError } from "../core/errors.ts";

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
 * import { isValidAlign } from "@pagefrag/pagefrag";
 *
 * if (!isValidAlign(64, 4096) || isValidAlign(3, 4096)) throw new Error();
 * ```
 */
export function isValidAlign(align: number, max: number): boolean {
  return typeof align === "number" && align >= 1 && align <= max &&
    (align | 0) === align && (align & (align - 1)) === 0;
}

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
