// A small `node:assert/strict` for the browser bundle (esbuild alias): the
// functions the contract suites call, with the same strict semantics
// (Object.is equality, deep structural equality, throws with a matcher).
// TODO(testing branch): drop it once the suites take their assert too.
export class AssertionError extends Error {
  override name = "AssertionError";
}

function fail(message: string | Error | undefined, fallback: string): never {
  if (message instanceof Error) throw message;
  throw new AssertionError(message ?? fallback);
}

function show(v: unknown): string {
  try {
    return typeof v === "bigint" ? `${v}n` : JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (
    typeof a !== "object" || typeof b !== "object" || a === null || b === null
  ) {
    return false;
  }
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) {
    const x = a as unknown as ArrayLike<unknown>;
    const y = b as unknown as ArrayLike<unknown>;
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
    return true;
  }
  if (a instanceof Map && b instanceof Map) {
    if (a.size !== b.size) return false;
    for (const [k, v] of a) {
      if (!b.has(k) || !deepEqual(v, b.get(k))) return false;
    }
    return true;
  }
  if (a instanceof Set && b instanceof Set) {
    if (a.size !== b.size) return false;
    for (const v of a) if (!b.has(v)) return false;
    return true;
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!Object.hasOwn(b, k)) return false;
    if (
      !deepEqual(
        (a as Record<string, unknown>)[k],
        (b as Record<string, unknown>)[k],
      )
    ) {
      return false;
    }
  }
  return true;
}

function matches(err: unknown, expected: unknown): boolean {
  if (expected === undefined) return true;
  if (typeof expected === "function") {
    if (expected.prototype !== undefined && err instanceof expected) {
      return true;
    }
    if (expected === Error || expected.prototype instanceof Error) return false;
    return (expected as (e: unknown) => boolean)(err) === true;
  }
  if (expected instanceof RegExp) return expected.test(String(err));
  if (typeof expected === "object" && expected !== null) {
    for (const [k, v] of Object.entries(expected)) {
      const got = (err as Record<string, unknown>)?.[k];
      if (v instanceof RegExp ? !v.test(String(got)) : !deepEqual(got, v)) {
        return false;
      }
    }
    return true;
  }
  return false;
}

function ok(value: unknown, message?: string | Error): asserts value {
  if (!value) fail(message, `expected a truthy value, got ${show(value)}`);
}

const assert = Object.assign(ok, {
  ok,
  AssertionError,
  equal(actual: unknown, expected: unknown, message?: string | Error): void {
    if (!Object.is(actual, expected)) {
      fail(message, `expected ${show(expected)}, got ${show(actual)}`);
    }
  },
  notEqual(actual: unknown, expected: unknown, message?: string | Error): void {
    if (Object.is(actual, expected)) {
      fail(message, `expected anything but ${show(expected)}`);
    }
  },
  deepEqual(
    actual: unknown,
    expected: unknown,
    message?: string | Error,
  ): void {
    if (!deepEqual(actual, expected)) {
      fail(message, `expected ${show(expected)}, got ${show(actual)}`);
    }
  },
  notDeepEqual(
    actual: unknown,
    expected: unknown,
    message?: string | Error,
  ): void {
    if (deepEqual(actual, expected)) {
      fail(message, `expected a difference from ${show(expected)}`);
    }
  },
  throws(
    fn: () => unknown,
    expected?: unknown,
    message?: string | Error,
  ): void {
    if (typeof expected === "string") {
      [message, expected] = [expected, undefined];
    }
    try {
      fn();
    } catch (e) {
      if (!matches(e, expected)) {
        fail(message, `unexpected error: ${String(e)}`);
      }
      return;
    }
    fail(message, "expected the function to throw");
  },
  async rejects(
    p: Promise<unknown> | (() => Promise<unknown>),
    expected?: unknown,
    message?: string | Error,
  ): Promise<void> {
    try {
      await (typeof p === "function" ? p() : p);
    } catch (e) {
      if (!matches(e, expected)) {
        fail(message, `unexpected rejection: ${String(e)}`);
      }
      return;
    }
    fail(message, "expected a rejection");
  },
  fail(message?: string | Error): never {
    return fail(message, "failed");
  },
  match(s: string, re: RegExp, message?: string | Error): void {
    if (!re.test(s)) fail(message, `${show(s)} does not match ${re}`);
  },
});
export default assert;
export const strict = assert;
