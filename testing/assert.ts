/**
 * The assertions the contract suites make, as an interface any assertion
 * library fits (`node:assert/strict` does as it is), and a small
 * implementation of it with no `node:` import, for browsers and other
 * runtimes without `node:assert`.
 *
 * @module
 */
import { type PageFragCache, PageFragError } from "../mod.ts";

/**
 * The four assertions the suites use, with the meaning of
 * `node:assert/strict`: `equal` is `Object.is`-equality, `deepEqual` is
 * strict structural equality. Each throws when the assertion does not hold.
 * `node:assert/strict`'s default export is one; so is {@linkcode assert}.
 *
 * @example Pass node:assert/strict, or your own
 * ```ts
 * import strict from "node:assert/strict";
 * import type { Assert } from "@pagefrag/pagefrag/testing";
 *
 * const asserts: Assert = strict;
 * asserts.deepEqual({ a: [1] }, { a: [1] }, "same shape");
 * ```
 */
export interface Assert {
  /** Throw unless `value` is truthy. */
  ok(value: unknown, message?: string): asserts value;
  /** Throw unless `Object.is(actual, expected)`. */
  equal(actual: unknown, expected: unknown, message?: string): void;
  /** Throw if `Object.is(actual, expected)`. */
  notEqual(actual: unknown, expected: unknown, message?: string): void;
  /** Throw unless `actual` and `expected` are strictly structurally equal. */
  deepEqual(actual: unknown, expected: unknown, message?: string): void;
}

/**
 * What {@linkcode assert} throws: an `Error` named `"AssertionError"`, with
 * the values compared, as `node:assert`'s errors have them (test runners
 * show `actual` and `expected`).
 *
 * @example
 * ```ts
 * import { assert, AssertionFailure } from "@pagefrag/pagefrag/testing";
 *
 * try {
 *   assert.equal(1, 2, "one is two");
 * } catch (e) {
 *   if (!(e instanceof AssertionFailure) || e.expected !== 2) throw e;
 * }
 * ```
 */
export class AssertionFailure extends Error {
  /** The value found. */
  readonly actual: unknown;
  /** The value wanted. */
  readonly expected: unknown;
  /** The assertion: `"ok"`, `"equal"`, `"notEqual"` or `"deepEqual"`. */
  readonly operator: string;

  /**
   * Make a failure of assertion `operator` comparing `actual` with
   * `expected`.
   *
   * @example
   * ```ts
   * import { AssertionFailure } from "@pagefrag/pagefrag/testing";
   *
   * const e = new AssertionFailure("no", 1, 2, "equal");
   * if (e.name !== "AssertionError" || e.message !== "no") throw e;
   * ```
   */
  constructor(
    message: string,
    actual: unknown,
    expected: unknown,
    operator: string,
  ) {
    super(message);
    this.name = "AssertionError";
    this.actual = actual;
    this.expected = expected;
    this.operator = operator;
  }
}

/** Strict structural equality: the cases `snapshot()` and the suites need. */
function deepEqualValues(
  a: unknown,
  b: unknown,
  seen: Map<object, object>,
): boolean {
  if (Object.is(a, b)) return true;
  if (
    typeof a !== "object" || typeof b !== "object" || a === null || b === null
  ) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (seen.get(a) === b) return true; // a cycle already being compared
  seen.set(a, b);
  if (ArrayBuffer.isView(a)) {
    const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    const y = b as ArrayBufferView;
    const z = new Uint8Array(y.buffer, y.byteOffset, y.byteLength);
    return x.length === z.length && x.every((v, i) => v === z[i]);
  }
  if (a instanceof Date) return Object.is(a.getTime(), (b as Date).getTime());
  if (a instanceof Map || a instanceof Set) {
    const x = [...a.entries()], y = [...(b as Map<unknown, unknown>).entries()];
    return deepEqualValues(x, y, seen);
  }
  const ka = Object.keys(a), kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  const rb = b as Record<string, unknown>, ra = a as Record<string, unknown>;
  return ka.every((k) =>
    Object.hasOwn(rb, k) && deepEqualValues(ra[k], rb[k], seen)
  );
}

/** A short readable form of a value for a failure message. */
function brief(value: unknown): string {
  try {
    const s = typeof value === "bigint"
      ? `${value}n`
      : typeof value === "string" || typeof value === "object"
      ? JSON.stringify(value)
      : String(value);
    return s.length > 200 ? `${s.slice(0, 200)}...` : s;
  } catch {
    return String(value);
  }
}

function fail(
  message: string | undefined,
  fallback: string,
  actual: unknown,
  expected: unknown,
  operator: string,
): never {
  throw new AssertionFailure(
    message ?? fallback,
    actual,
    expected,
    operator,
  );
}

/**
 * An {@linkcode Assert} with no dependency: what the suites of
 * `pagefrag/testing/portable` use unless given another. Messages name the
 * values compared.
 *
 * @example
 * ```ts
 * import { assert } from "@pagefrag/pagefrag/testing";
 *
 * assert.ok(true, "truthy");
 * assert.equal(NaN, NaN, "Object.is equality");
 * assert.deepEqual({ pages: [1, 2] }, { pages: [1, 2] }, "same structure");
 * ```
 */
export const assert: Assert = {
  ok(value: unknown, message?: string): asserts value {
    if (!value) {
      fail(
        message,
        `expected a truthy value, got ${brief(value)}`,
        value,
        true,
        "ok",
      );
    }
  },
  equal(actual: unknown, expected: unknown, message?: string): void {
    if (!Object.is(actual, expected)) {
      fail(
        message,
        `${brief(actual)} !== ${brief(expected)}`,
        actual,
        expected,
        "equal",
      );
    }
  },
  notEqual(actual: unknown, expected: unknown, message?: string): void {
    if (Object.is(actual, expected)) {
      fail(
        message,
        `expected a value other than ${brief(expected)}`,
        actual,
        expected,
        "notEqual",
      );
    }
  },
  deepEqual(actual: unknown, expected: unknown, message?: string): void {
    if (!deepEqualValues(actual, expected, new Map())) {
      fail(
        message,
        `not deeply equal: ${brief(actual)} and ${brief(expected)}`,
        actual,
        expected,
        "deepEqual",
      );
    }
  },
};

/**
 * The check `throwsCode` makes, over a given {@linkcode Assert}: `fn` must
 * throw a {@linkcode PageFragError} whose `code` is `code`.
 *
 * @example
 * ```ts
 * import strict from "node:assert/strict";
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { throwsCodeWith } from "@pagefrag/pagefrag/testing";
 *
 * const throwsCode = throwsCodeWith(strict);
 * throwsCode(() => createPageFragCache().alloc(0), "EINVAL_SIZE");
 * ```
 */
export function throwsCodeWith(
  asserts: Assert,
): (fn: () => unknown, code: string) => void {
  return (fn, code) => {
    let thrown: unknown;
    try {
      fn();
    } catch (e) {
      thrown = e ?? new Error(`threw ${e}`);
    }
    asserts.ok(
      thrown !== undefined,
      `expected a PageFragError ${code}, nothing was thrown`,
    );
    asserts.ok(
      thrown instanceof PageFragError,
      `expected PageFragError ${code}, got ${thrown}`,
    );
    asserts.equal(thrown.code, code, thrown.message);
  };
}

/**
 * Assert that `fn` throws a {@linkcode PageFragError} whose `code` is
 * `code` (with the dependency-free {@linkcode assert}).
 *
 * @example
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { throwsCode } from "@pagefrag/pagefrag/testing/portable";
 *
 * const cache = createPageFragCache();
 * throwsCode(() => cache.alloc(0), "EINVAL_SIZE");
 * ```
 */
export const throwsCode: (fn: () => unknown, code: string) => void =
  throwsCodeWith(assert);

/**
 * Everything observable about a cache and its backend: both `stats()`.
 * Compare two snapshots with `assert.deepEqual` to prove a call changed
 * nothing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { snapshot } from "@pagefrag/pagefrag/testing";
 *
 * const cache = createPageFragCache();
 * const before = snapshot(cache);
 * try {
 *   cache.alloc(-1);
 * } catch {
 *   // EINVAL_SIZE, and nothing changed
 * }
 * assert.deepEqual(snapshot(cache), before, "nothing changed");
 * ```
 */
export function snapshot(cache: PageFragCache): unknown {
  return { cache: cache.stats(), backend: cache.backend.stats() };
}
