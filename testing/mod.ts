/**
 * The contract suites of pagefrag, for authors of backends and policies:
 * `pagefrag/testing` (npm), `@pagefrag/pagefrag/testing` (JSR).
 *
 * - {@linkcode contractSuite} runs the core contract of a page fragment
 *   cache (the kernel's semantics: carving, recycling, refill and fallback,
 *   the pfmemalloc reserve, drain, prepare/commit, and the stable error codes
 *   on bad input) against any `MemoryBackend`: pagefrag's own backends pass
 *   it, and so must yours.
 * - {@linkcode policySuite} runs the invariants every refill, alignment and
 *   pfmemalloc policy must keep (well-formed answers, no overlap, alignment
 *   honoured, no stuck state, every byte back after free and drain).
 * - {@linkcode prng}, {@linkcode throwsCode} and {@linkcode snapshot} are
 *   the helpers the suites use, for your own tests.
 *
 * This entry is the suites with `node:test` and `node:assert/strict` as
 * defaults, so they run unchanged under `deno test`, `bun test` and
 * `node --test` (with tsc, have `@types/node` installed); pass
 * `{ runner: { describe, it }, assert }` to use another framework. It is
 * the only module of the suites that imports a `node:` module: for a
 * browser or a bundle, import the same suites from
 * `pagefrag/testing/portable`.
 *
 * @example Run the contract on your backend (in `my_backend_test.ts`)
 * ```ts ignore
 * import { HeapBackend } from "@pagefrag/pagefrag";
 * import { contractSuite } from "@pagefrag/pagefrag/testing";
 *
 * // Replace HeapBackend with your own MemoryBackend class.
 * contractSuite("my backend", (options) => new HeapBackend(options));
 * ```
 *
 * @module
 */
import { describe, it } from "node:test";
import strict from "node:assert/strict";
import { throwsCodeWith } from "./assert.ts";
import { registerContractSuite } from "./contract.ts";
import {
  type PolicySet,
  type PolicySuiteOptions,
  registerPolicySuite,
} from "./policies.ts";
import type { BackendFactory, SuiteOptions } from "./runner.ts";

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
  throwsCodeWith,
} from "./assert.ts";
export { type Prng, prng } from "./prng.ts";

/** The defaults of this entry: node:test and node:assert/strict. */
const NODE: SuiteOptions = { runner: { describe, it }, assert: strict };

/**
 * Assert that `fn` throws a `PageFragError` whose `code` is `code` (a
 * `node:assert` `AssertionError` otherwise).
 *
 * @example
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { throwsCode } from "@pagefrag/pagefrag/testing";
 *
 * const cache = createPageFragCache();
 * throwsCode(() => cache.alloc(0), "EINVAL_SIZE");
 * ```
 */
export const throwsCode: (fn: () => unknown, code: string) => void =
  throwsCodeWith(strict);

/**
 * Register the core contract of a page fragment cache over the backends
 * `make` returns: about 60 tests, a second or two in all. Every built-in
 * backend passes it; a third-party `MemoryBackend` should too.
 *
 * What it expects of a backend, beyond the interface: fresh pages are
 * zero-based in their own address range and naturally aligned; budget
 * (`maxBytes`) and reserve (`reserveBytes`) are kept apart and only
 * `reserve` requests use the reserve; addresses it never handed out are
 * `EFOREIGN`, addresses and views of pages that went back are
 * `EDOUBLEFREE`, a `view` past the end of its page is `EINVAL_SIZE`, and
 * views are tagged with `claimBuffer` so `pageFragFree` finds them.
 *
 * @example In a test file, register it with node:test (the default)
 * ```ts ignore
 * import { HeapBackend } from "@pagefrag/pagefrag";
 * import { contractSuite } from "@pagefrag/pagefrag/testing";
 *
 * contractSuite("heap", (options) => new HeapBackend(options));
 * ```
 *
 * @example Or run it anywhere with a runner of your own
 * ```ts
 * import { HeapBackend } from "@pagefrag/pagefrag";
 * import { contractSuite } from "@pagefrag/pagefrag/testing";
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
  registerContractSuite(name, make, options, NODE);
}

/**
 * Register the invariants every policy must keep, for the refill,
 * alignment and pfmemalloc policies in `policies` (the others stay the
 * kernel's). The tests check the policies' answers directly and then run
 * caches built with them:
 *
 * - answers are well-formed: every refill plan is a non-empty list of steps
 *   with an integer order and a boolean `reserve`, and has at least one step
 *   between `minOrder` and `maxOrder` (a plan without one can never refill:
 *   the kernel's bgmac stuck-NULL bug); alignments are powers of two up to
 *   the page size; `mayUseReserve`/`mayRecycle` answer booleans;
 * - under random churn, fragments never overlap, never cross their page,
 *   start where the alignment policy (or the call's `align`) says, keep
 *   their bytes, and every page goes back after the last free and `drain`;
 * - no stuck state: with a budget smaller than the largest page, every
 *   fragment the budget can hold is still handed out (plans must fall back
 *   to `minOrder`);
 * - the reserve is never exceeded, its pages are marked pfmemalloc, they
 *   are recycled only if `mayRecycle(true)` allows it, and they all flow
 *   back.
 *
 * `alignFor` must be a function of the size alone (the suite asks it too).
 *
 * @example In a test file, register it with node:test (the default)
 * ```ts ignore
 * import { policySuite } from "@pagefrag/pagefrag/testing";
 * import { MyRefill } from "./my_refill.ts";
 *
 * policySuite("my refill", { refill: () => new MyRefill() });
 * ```
 *
 * @example Or run it anywhere with a runner of your own
 * ```ts
 * import { fixedAlignment, order0Refill } from "@pagefrag/pagefrag";
 * import { policySuite } from "@pagefrag/pagefrag/testing";
 *
 * const tests: [string, () => unknown][] = [];
 * policySuite("order0 + 16", { refill: order0Refill, align: fixedAlignment(16) }, {
 *   runner: { describe: (_name, body) => body(), it: (name, body) => tests.push([name, body]) },
 * });
 * for (const [, body] of tests) await body();
 * ```
 */ export function policySuite(
  name: string,
  policies: PolicySet,
  options: PolicySuiteOptions = {},
): void {
  registerPolicySuite(name, policies, options, NODE);
}
