/**
 * How the suites meet a test framework: the {@linkcode TestRunner} they
 * register with, the {@linkcode Assert} they check with, and the context
 * each part of the contract is written against. Nothing here imports a
 * `node:` module, so the suites bundle for a browser.
 *
 * @module
 */
import {
  type BackendOptions,
  createPageFragCache,
  type MemoryBackend,
  type PageFragCache,
  PageFragError,
  type PageFragOptions,
} from "../mod.ts";
import { show } from "../core/format.ts";
import {
  type Assert,
  assert as basicAssert,
  throwsCodeWith,
} from "./assert.ts";

/**
 * Makes a fresh backend with the given geometry and budget. The contract
 * calls it once per cache it builds, with `pageSize`, `maxOrder`,
 * `maxBytes` and `reserveBytes` as the test needs them (each may be
 * absent: use the defaults 4096, 3, unlimited and 0).
 *
 * @example
 * ```ts
 * import { HeapBackend } from "@pagefrag/pagefrag";
 * import type { BackendFactory } from "@pagefrag/pagefrag/testing";
 *
 * const make: BackendFactory = (options) => new HeapBackend(options);
 * if (make({ maxOrder: 0 }).maxOrder !== 0) throw new Error();
 * ```
 */
export type BackendFactory = (options: BackendOptions) => MemoryBackend;

/**
 * The two functions of a test framework the suites register their tests
 * with: `node:test`'s `describe` and `it`, and those of `bun:test`, vitest,
 * jest, mocha and jasmine, have this shape. Test bodies are synchronous or
 * return a promise.
 *
 * @example Collect the tests and run them yourself
 * ```ts
 * import type { TestRunner } from "@pagefrag/pagefrag/testing";
 *
 * const tests: [string, () => void | Promise<void>][] = [];
 * const collect: TestRunner = {
 *   describe: (_name, body) => body(),
 *   it: (name, body) => tests.push([name, body]),
 * };
 * collect.describe("suite", () => collect.it("one", () => {}));
 * for (const [, body] of tests) await body();
 * ```
 */
export interface TestRunner {
  /** Group tests under `name`; `body` registers them synchronously. */
  describe(name: string, body: () => void): unknown;
  /** Register one test. */
  it(name: string, body: () => void | Promise<void>): unknown;
}

/**
 * Options of {@linkcode contractSuite} and {@linkcode policySuite}: the test
 * functions to use. From `pagefrag/testing` both default to `node:test` and
 * `node:assert/strict`; from `pagefrag/testing/portable` (no `node:`
 * import) the runner defaults to global `describe` and `it` (bun, vitest
 * and jest globals, mocha and jasmine in a page) and the assertions to the
 * built-in {@linkcode assert}.
 *
 * @example
 * ```ts
 * import { describe, it } from "node:test";
 * import strict from "node:assert/strict";
 * import type { SuiteOptions } from "@pagefrag/pagefrag/testing";
 *
 * const options: SuiteOptions = { runner: { describe, it }, assert: strict };
 * if (options.runner === undefined) throw new Error();
 * ```
 */
export interface SuiteOptions {
  /** Where to register the tests. */
  runner?: TestRunner;
  /** How the tests check what they see. */
  assert?: Assert;
}

/** Cache options a part of the contract may set besides the backend's. */
export type CacheOptions = Omit<
  PageFragOptions,
  keyof BackendOptions | "backend"
>;

/**
 * What each part of the contract is written against: where to register,
 * how to assert, and how to build a cache over a fresh backend.
 */
export interface SuiteContext {
  /** The suite's name: every group is called `${name}: ...`. */
  readonly name: string;
  /** Group tests. */
  readonly describe: TestRunner["describe"];
  /** Register one test. */
  readonly it: TestRunner["it"];
  /** The assertions. */
  readonly assert: Assert;
  /** `fn` must throw a `PageFragError` with this `code`. */
  readonly throwsCode: (fn: () => unknown, code: string) => void;
  /** A cache over a fresh backend from the suite's factory. */
  readonly cacheOf: (
    backendOptions?: BackendOptions,
    options?: CacheOptions,
  ) => PageFragCache;
}

/** The runner the portable suites use when given none: global describe/it. */
function globalRunner(): TestRunner {
  const g = globalThis as { describe?: unknown; it?: unknown };
  if (typeof g.describe !== "function" || typeof g.it !== "function") {
    throw new PageFragError(
      "EINVAL_OPTION",
      "no test runner: pass { runner: { describe, it } } (there is no global describe/it here)",
    );
  }
  return g as TestRunner;
}

/**
 * Resolve a suite's options against the defaults `defaults` (those of the
 * node-facing entry, or of the portable one) and build its context.
 */
export function suiteContext(
  name: string,
  make: BackendFactory,
  options: SuiteOptions,
  defaults: SuiteOptions = {},
): SuiteContext {
  if (options === null || typeof options !== "object") {
    throw new PageFragError(
      "EINVAL_OPTION",
      `suite options must be an object, got ${show(options)}`,
    );
  }
  const runner = options.runner ?? defaults.runner ?? globalRunner();
  const asserts = options.assert ?? defaults.assert ?? basicAssert;
  return {
    name,
    describe: runner.describe.bind(runner),
    it: runner.it.bind(runner),
    assert: asserts,
    throwsCode: throwsCodeWith(asserts),
    cacheOf: (backendOptions = {}, cacheOptions = {}) =>
      createPageFragCache({ backend: make(backendOptions), ...cacheOptions }),
  };
}
