/**
 * The per-call arguments of `alloc`, `allocHandle`, `prepare` and `probe`
 * (options, sizes, alignments), their checks and the errors that name them. Read as own properties only, so a key set on `Object.prototype`
 * cannot change an allocation; of the documented types only, so a mistyped
 * flag (`zero: "yes"`, `memalloc: 1`) is an error rather than a silent
 * `false`.
 *
 * @module
 */
import { PageFragError } from "./errors.ts";
import { show } from "./format.ts";
import { type AlignmentPolicy, isValidAlign } from "./policy.ts";
import { OFFSET, PAGE, PAGE_BYTES, PREP } from "./cache_state.ts";

/**
 * Per-call options of `alloc`, `allocHandle` and `prepare`.
 *
 * @example
 * ```ts
 * import { createPageFragCache, type AllocOptions } from "@pagefrag/pagefrag";
 *
 * const opts: AllocOptions = { align: 64, memalloc: false };
 * const cache = createPageFragCache();
 * const addr = cache.allocHandle(100, opts)!;
 * if (addr % 64 !== 0) throw new Error();
 * cache.free(addr);
 * ```
 */
export interface AllocOptions {
  /** Start alignment for this fragment: a power of two <= pageSize. Overrides the cache's policy. */
  align?: number;
  /** May a refill for this request use the emergency reserve (`__GFP_MEMALLOC`)? Default false. */
  memalloc?: boolean;
  /** Clear the fragment's bytes (`__GFP_ZERO`). Default: the cache's `zero`. Ignored by `prepare`. */
  zero?: boolean;
}

/** The boolean per-call options. */
const FLAG_OPTIONS = ["memalloc", "zero"] as const;

/**
 * Throw `EINVAL_OPTION` unless `opts` is an object whose own keys are among
 * `align`, `memalloc`, `zero` and whose flags are booleans (internal: the
 * cache checks `align` against its page size itself).
 */
export function checkAllocOptions(opts: AllocOptions): void {
  if (opts === null || typeof opts !== "object") {
    throw new PageFragError(
      "EINVAL_OPTION",
      `allocation options must be an object, got ${show(opts)}`,
    );
  }
  // Own properties only (a key set on Object.prototype must not change
  // allocations), of the right types, and no key we do not know.
  for (const key in opts) {
    if (
      Object.hasOwn(opts, key) && key !== "align" && key !== "memalloc" &&
      key !== "zero"
    ) {
      throw new PageFragError(
        "EINVAL_OPTION",
        `unknown allocation option "${key}" (known: align, memalloc, zero)`,
      );
    }
  }
  for (const key of FLAG_OPTIONS) {
    const v = Object.hasOwn(opts, key) ? opts[key] : undefined;
    if (v !== undefined && typeof v !== "boolean") {
      throw new PageFragError(
        "EINVAL_OPTION",
        `allocation option ${key} must be a boolean, got ${show(v)}`,
      );
    }
  }
}

/**
 * The answer of `prepare` and `probe`: `size` bytes are available from
 * `addr` to the end of the page. The same object is reused by the next call.
 *
 * @example
 * ```ts
 * import { createPageFragCache, type PreparedFragment } from "@pagefrag/pagefrag";
 *
 * const cache = createPageFragCache();
 * const p: PreparedFragment = cache.prepare(32)!;
 * if (p.size < 32) throw new Error();
 * cache.free(cache.commit(32));
 * ```
 */
export interface PreparedFragment {
  /** Address where the next fragment would start. */
  addr: number;
  /** Bytes available from `addr` to the end of the page (at least the asked minimum). */
  size: number;
}

/** `EINVAL_SIZE` for a size outside `1 .. maxFrag` (internal). */
export function sizeError(
  what: string,
  size: unknown,
  maxFrag: number,
): PageFragError {
  return new PageFragError(
    "EINVAL_SIZE",
    `${what}(): size must be an integer from 1 to ${maxFrag} (pageSize << maxOrder), got ${
      show(size)
    }`,
  );
}

/** `ESTATE` for a call on a destroyed cache (internal). */
export function destroyedError(what: string): PageFragError {
  return new PageFragError(
    "ESTATE",
    `${what}(): the cache was destroyed; make a new one`,
  );
}

/**
 * The alignment mask a per-size policy asks for `size`, checked: a policy
 * that answers anything but a power of two up to the page size is
 * `EINVAL_ALIGN` naming it (internal).
 */
export function policyMask(
  policy: AlignmentPolicy,
  alignFor: (size: number) => number,
  size: number,
  pageSize: number,
): number {
  const align = alignFor(size);
  if (!isValidAlign(align, pageSize)) {
    throw new PageFragError(
      "EINVAL_ALIGN",
      `alignment policy "${policy.name}" returned ${show(align)} for size ${
        show(size)
      }; want a power of two from 1 to ${pageSize}`,
    );
  }
  return align - 1;
}

/**
 * The mask of a policy's default alignment, checked: anything but a power
 * of two up to the page size is `EINVAL_ALIGN` naming the policy (internal).
 */
export function defaultMask(policy: AlignmentPolicy, pageSize: number): number {
  if (!isValidAlign(policy.align, pageSize)) {
    throw new PageFragError(
      "EINVAL_ALIGN",
      `alignment policy "${policy.name}": align must be a power of two from 1 to ${pageSize}, got ${
        show(policy.align)
      }`,
    );
  }
  return policy.align - 1;
}

/**
 * The offset of the pending prepared address in a cache's state words `s`,
 * after checking that `size` bytes may be committed there: `ESTATE` when
 * nothing is prepared, when an allocation took the prepared bytes since, or
 * when fewer than `size` bytes were prepared (internal).
 */
export function preparedOffset(
  s: Int32Array,
  what: string,
  size: number,
): number {
  if (s[PREP] === 0) {
    throw new PageFragError("ESTATE", `${what}() without prepare() or probe()`);
  }
  const offset = s[PREP] - s[PAGE];
  if (offset < s[OFFSET]) {
    throw new PageFragError(
      "ESTATE",
      `${what}(): the prepared bytes were taken by an allocation made since prepare()`,
    );
  }
  if (offset + size > s[PAGE_BYTES]) {
    throw new PageFragError(
      "ESTATE",
      `${what}(${size}): only ${s[PAGE_BYTES] - offset} bytes were prepared`,
    );
  }
  return offset;
}
