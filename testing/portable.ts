/**
 * The contract suites of pagefrag with no `node:` import, for a browser
 * page, a bundler, or any framework: `pagefrag/testing/portable` (npm),
 * `@pagefrag/pagefrag/testing/portable` (JSR). The same suites as
 * `pagefrag/testing`, whose only difference is its defaults (`node:test`
 * and `node:assert/strict`).
 *
 * Here the runner defaults to the global `describe` and `it` (bun, vitest
 * and jest globals; mocha or jasmine in a page) and the assertions to the
 * dependency-free {@linkcode assert}; pass `{ runner, assert }` to use
 * others. In a page without cross-origin isolation the heap backend passes
 * the whole contract (the one case that needs a `SharedArrayBuffer` is left
 * out there).
 *
 * @example In a page, with mocha's globals
 * ```ts ignore
 * import { HeapBackend } from "@pagefrag/pagefrag";
 * import { contractSuite } from "@pagefrag/pagefrag/testing/portable";
 *
 * contractSuite("heap in the browser", (options) => new HeapBackend(options));
 * ```
 *
 * @module
 */
import type { BackendFactory, SuiteOptions } from "./runner.ts";
import { registerContractSuite } from "./contract.ts";
import {
  type PolicySet,
  type PolicySuiteOptions,
  registerPolicySuite,
} from "./policies.ts";

export type { BackendFactory, SuiteOptions, TestRunner } from "./runner.ts";
export type {
  PolicyOrFactory,
  PolicySet,
  PolicySuiteOptions,
} from "./policies.ts";
export {
  type Assert,
  assert,
  AssertionFailure,
  snapshot,
  throwsCode,
  throwsCodeWith,
} from "./assert.ts";
export { type Prng, prng } from "./prng.ts";

/**
 * Register the core contract of a page fragment cache over the backends
 * `make` returns: about 60 tests, a second or two in all. Every built-in
 * backend passes it; a third-party `MemoryBackend` should too. The tests
 * go to `options.runner` (default: the global `describe`/`it`; an
 * `EINVAL_OPTION` error if there is none) and check with `options.assert`
 * (default: the built-in {@linkcode assert}).
 *
 * What it expects of a backend, beyond the interface: fresh pages are
 * zero-based in their own address range and naturally aligned; budget
 * (`maxBytes`) and reserve (`reserveBytes`) are kept apart and only
 * `reserve` requests use the reserve; addresses it never handed out are
 * `EFOREIGN`, addresses and views of pages that went back are
 * `EDOUBLEFREE`, a `view` past the end of its page is `EINVAL_SIZE`, and
 * views are tagged with `claimBuffer` so `pageFragFree` finds them.
 *
 * @example Collect the tests and run them, with no framework at all
 * ```ts
 * import { HeapBackend } from "@pagefrag/pagefrag";
 * import { contractSuite } from "@pagefrag/pagefrag/testing/portable";
 *
 * const tests: [string, () => unknown][] = [];
 * contractSuite("heap", (options) => new HeapBackend(options), {
 *   runner: { describe: (_name, body) => body(), it: (name, body) => tests.push([name, body]) },
 * });
 * for (const [, body] of tests) await body();
 * if (tests.length < 50) throw new Error(`only ${tests.length} tests`);
 * ```
 */
export function contractSuite(
  name: string,
  make: BackendFactory,
  options: SuiteOptions = {},
): void {
  registerContractSuite(name, make, options, {});
}

/**
 * Register the invariants every policy must keep, for the refill,
 * alignment and pfmemalloc policies in `policies` (the others stay the
 * kernel's), with the same defaults as {@linkcode contractSuite} here. See
 * `policySuite` in `pagefrag/testing` for what it checks.
 *
 * @example Collect the tests and run them, with no framework at all
 * ```ts
 * import { fixedAlignment, order0Refill } from "@pagefrag/pagefrag";
 * import { policySuite } from "@pagefrag/pagefrag/testing/portable";
 *
 * const tests: [string, () => unknown][] = [];
 * policySuite("order0 + 16", { refill: order0Refill, align: fixedAlignment(16) }, {
 *   runner: { describe: (_name, body) => body(), it: (name, body) => tests.push([name, body]) },
 * });
 * for (const [, body] of tests) await body();
 * ```
 */
export function policySuite(
  name: string,
  policies: PolicySet,
  options: PolicySuiteOptions = {},
): void {
  registerPolicySuite(name, policies, options, {});
}
