/**
 * The contract suites of pagefrag, for authors of backends and policies.
 *
 * - {@linkcode contractSuite} runs the core contract of a page fragment
 *   cache (the kernel's semantics: carving, recycling, refill and fallback,
 *   the pfmemalloc reserve, drain, prepare/commit, and the stable error codes
 *   on bad input) against any {@linkcode MemoryBackend}: pagefrag's own
 *   backends pass it, and so must yours.
 * - {@linkcode policySuite} runs the invariants every refill, alignment and
 *   pfmemalloc policy must keep (well-formed answers, no overlap, alignment
 *   honoured, no stuck state, every byte back after free and drain).
 *
 * Both register ordinary `node:test` suites by default, so they run
 * unchanged under `deno test`, `bun test` and `node --test`; pass
 * `{ runner: { describe, it } }` to register them with another framework
 * (`bun:test`, vitest, jest...). This entry point imports `node:test` and
 * `node:assert/strict`, which Deno, Bun and Node all provide; with tsc, have
 * `@types/node` installed.
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
import * as nodeTest from "node:test";
import assert from "node:assert/strict";
import {
  type AlignmentPolicy,
  type BackendOptions,
  createPageFragCache,
  HeapBackend,
  type MemoryBackend,
  type PageFragCache,
  PageFragError,
  pageFragFree,
  type PageFragOptions,
  type PfmemallocPolicy,
  type RefillPolicy,
} from "../mod.ts";

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
 * with. The default is `node:test`'s `describe` and `it`; `bun:test`,
 * vitest and jest export functions of the same shape. Test bodies are
 * synchronous or return a promise.
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
 * Options of {@linkcode contractSuite} and {@linkcode policySuite}.
 *
 * @example
 * ```ts
 * import { describe, it } from "node:test";
 * import type { SuiteOptions } from "@pagefrag/pagefrag/testing";
 *
 * const options: SuiteOptions = { runner: { describe, it } };
 * if (options.runner === undefined) throw new Error();
 * ```
 */
export interface SuiteOptions {
  /** Where to register the tests. Default: `node:test`. */
  runner?: TestRunner;
}

const nodeRunner: TestRunner = { describe: nodeTest.describe, it: nodeTest.it };

/**
 * A small deterministic PRNG (mulberry32): the same seed gives the same
 * sequence of numbers in `[0, 1)`, so a randomised test that fails
 * reproduces.
 *
 * @example
 * ```ts
 * import { prng } from "@pagefrag/pagefrag/testing";
 *
 * const a = prng(42), b = prng(42);
 * const x = a();
 * if (x !== b() || x < 0 || x >= 1) throw new Error();
 * ```
 */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Assert that `fn` throws a {@linkcode PageFragError} whose `code` is
 * `code` (an `AssertionError` otherwise).
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
export function throwsCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof PageFragError, `expected PageFragError, got ${e}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

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
 * assert.deepEqual(snapshot(cache), before);
 * ```
 */
export function snapshot(cache: PageFragCache): unknown {
  return { cache: cache.stats(), backend: cache.backend.stats() };
}

/**
 * Register the core contract of a page fragment cache over the backends
 * `make` returns: about 60 tests, a second or two in all. Every built-in
 * backend passes it; a third-party {@linkcode MemoryBackend} should too.
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
  const { describe, it } = options.runner ?? nodeRunner;
  const cacheOf = (
    backendOptions: BackendOptions = {},
    options: Omit<PageFragOptions, keyof BackendOptions | "backend"> = {},
  ): PageFragCache =>
    createPageFragCache({ backend: make(backendOptions), ...options });

  describe(`${name}: fragments`, () => {
    it("live fragments never overlap, never cross their page, and are aligned", () => {
      const rand = prng(1);
      const cache = cacheOf({ pageSize: 4096, maxOrder: 2, maxBytes: 8 << 20 });
      const b = cache.backend;
      const live: { addr: number; size: number; view?: Uint8Array }[] = [];
      const fill = (addr: number, size: number) =>
        b.view(addr, size).fill(addr % 251);
      for (let step = 0; step < 20000; step++) {
        // Keep about 100 fragments live, so pages are pinned, partly freed,
        // exhausted, recycled and dropped in every combination.
        if (rand() < live.length / 200) {
          const i = Math.floor(rand() * live.length);
          const f = live[i];
          // Nothing else wrote into this fragment while it was live.
          const bytes = b.view(f.addr, f.size);
          assert.ok(
            bytes.every((x) => x === f.addr % 251),
            `fragment ${f.addr}+${f.size} was overwritten`,
          );
          cache.free(f.view ?? f.addr);
          live[i] = live[live.length - 1];
          live.pop();
          continue;
        }
        const size = 1 + Math.floor(rand() ** 3 * 16384);
        const align = 1 << Math.floor(rand() * 8);
        const asView = rand() < 0.5;
        let addr: number | null;
        let view: Uint8Array | undefined;
        if (asView) {
          view = cache.alloc(size, { align }) ?? undefined;
          addr = view === undefined ? null : b.addressOf(view);
          if (view) {
            assert.equal(view.length, size);
            assert.equal(view.byteOffset % align, 0, "view alignment");
          }
        } else {
          addr = cache.allocHandle(size, { align });
        }
        assert.notEqual(addr, null, "budget is ample here");
        assert.equal(addr! % align, 0, "address alignment");
        const page = b.pageOf(addr!);
        assert.equal(b.pageOf(addr! + size - 1), page, "crosses its page");
        assert.ok(addr! + size <= page + b.pageBytes(page), "past page end");
        fill(addr!, size);
        live.push({ addr: addr!, size, view });
      }
      // A final sweep: every live fragment still holds its pattern, and the
      // intervals are pairwise disjoint.
      const sorted = [...live].sort((x, y) => x.addr - y.addr);
      for (let i = 1; i < sorted.length; i++) {
        assert.ok(
          sorted[i - 1].addr + sorted[i - 1].size <= sorted[i].addr,
          "overlap",
        );
      }
      for (const f of live) cache.free(f.addr);
      cache.drain();
      assert.equal(b.stats().bytesInUse, 0);
      assert.equal(b.stats().pagesInUse, 0);
    });

    it("views are the fragment's memory, not a copy", () => {
      const cache = cacheOf();
      const addr = cache.allocHandle(16)!;
      cache.backend.view(addr, 16)[3] = 99;
      assert.equal(cache.backend.view(addr, 16)[3], 99);
      const v = cache.alloc(8)!;
      v[0] = 7;
      assert.equal(cache.backend.view(cache.backend.addressOf(v), 8)[0], 7);
    });

    it("fragments are carved upward from the start of the page", () => {
      const cache = cacheOf({ maxOrder: 0 });
      const a = cache.allocHandle(100)!;
      const b = cache.allocHandle(50)!;
      assert.equal(a, cache.backend.pageOf(a));
      assert.equal(b, a + 100);
    });

    it("pageFragFree frees a view without naming its cache", () => {
      const cache = cacheOf({ maxOrder: 0 }, { refill: "order0" });
      const v = cache.alloc(4096)!;
      cache.drain();
      assert.equal(cache.backend.stats().pagesInUse, 1);
      pageFragFree(v);
      assert.equal(cache.backend.stats().pagesInUse, 0);
    });
  });

  describe(`${name}: recycling`, () => {
    it("an exhausted page whose fragments are all free is recycled in place", () => {
      const cache = cacheOf({ pageSize: 4096, maxOrder: 0 });
      const first = [1, 2, 3, 4].map(() => cache.allocHandle(1024)!);
      for (const a of first) cache.free(a);
      const again = cache.allocHandle(1024)!;
      assert.equal(again, first[0], "same page, from its start");
      const s = cache.backend.stats();
      assert.equal(cache.stats().recycles, 1);
      assert.equal(cache.stats().refills, 1);
      assert.equal(s.pagesInUse, 1);
      assert.equal(s.pagesAllocated, 1);
    });

    it("a page with outstanding fragments is left to them; the last free returns it", () => {
      const cache = cacheOf({ pageSize: 4096, maxOrder: 0 });
      const first = [1, 2, 3, 4].map(() => cache.allocHandle(1024)!);
      for (const a of first.slice(0, 3)) cache.free(a);
      const next = cache.allocHandle(1024)!;
      assert.notEqual(
        cache.backend.pageOf(next),
        cache.backend.pageOf(first[0]),
      );
      assert.equal(cache.stats().recycles, 0);
      assert.equal(cache.stats().refills, 2);
      assert.equal(cache.backend.stats().pagesInUse, 2);
      cache.free(first[3]);
      assert.equal(cache.backend.stats().pagesInUse, 1);
      assert.equal(cache.backend.stats().pagesFreed, 1);
    });

    it("steady churn recycles: no new pages after warm-up", () => {
      const cache = cacheOf({ pageSize: 4096, maxOrder: 3 });
      for (let i = 0; i < 100; i++) cache.free(cache.alloc(256)!);
      const before = cache.backend.stats().pagesAllocated;
      for (let i = 0; i < 100000; i++) cache.free(cache.alloc(256)!);
      assert.equal(cache.backend.stats().pagesAllocated, before);
      assert.ok(cache.stats().recycles > 700);
    });
  });

  describe(`${name}: budget, fallback and exhaustion`, () => {
    it("falls back to the smallest order that holds the fragment when the budget is small", () => {
      const small = cacheOf({ maxBytes: 16384 });
      small.allocHandle(100);
      assert.equal(small.backend.stats().bytesInUse, 4096, "order-0 page");
      assert.equal(small.stats().fallbacks, 1);
      const mid = cacheOf({ maxBytes: 16384 });
      mid.allocHandle(6000);
      assert.equal(mid.backend.stats().bytesInUse, 8192, "order-1 page");
      assert.equal(mid.stats().fallbacks, 1);
    });

    it("the kernel refill takes a maxOrder page when the budget allows", () => {
      const cache = cacheOf({ maxBytes: 1 << 20 });
      cache.allocHandle(100);
      assert.equal(cache.backend.stats().bytesInUse, 32768);
      assert.equal(cache.stats().fallbacks, 0);
    });

    it("order0 refill takes the smallest order only", () => {
      const cache = cacheOf({}, { refill: "order0" });
      cache.allocHandle(100);
      assert.equal(cache.backend.stats().bytesInUse, 4096);
      cache.allocHandle(10000);
      assert.equal(cache.backend.stats().bytesInUse, 4096 + 16384);
    });

    it("no stuck state: fragments larger than a page keep succeeding (bgmac)", () => {
      const cache = cacheOf({ maxBytes: 16384 });
      for (let i = 0; i < 200; i++) {
        const a = cache.allocHandle(10048);
        assert.notEqual(a, null, `allocation ${i} failed`);
        cache.free(a!);
      }
      assert.equal(cache.stats().allocFailures, 0);
    });

    it("exhaustion returns null, counts allocFailures, and frees make room again", () => {
      const cache = cacheOf({ maxBytes: 8192 }, { refill: "order0" });
      const a = cache.allocHandle(4096)!;
      const b = cache.allocHandle(4096)!;
      assert.equal(cache.allocHandle(4096), null);
      assert.equal(cache.alloc(1), null);
      assert.equal(cache.stats().allocFailures, 2);
      cache.free(a);
      cache.free(b);
      assert.notEqual(cache.allocHandle(4096), null);
    });
  });

  describe(`${name}: pfmemalloc reserve`, () => {
    it("only memalloc requests use the reserve; its pages are marked and go back instead of recycling", () => {
      const cache = cacheOf({ maxBytes: 0, reserveBytes: 4096 }, {
        refill: "order0",
      });
      assert.equal(cache.allocHandle(100), null, "no budget without memalloc");
      const a = cache.allocHandle(4096, { memalloc: true })!;
      assert.notEqual(a, null);
      assert.ok(cache.isPfmemalloc());
      assert.ok(cache.backend.isPfmemalloc(a));
      assert.equal(cache.backend.stats().reserveInUse, 4096);
      cache.free(a);
      // Exhausted and all free: a normal page would recycle; this one goes back.
      const b = cache.allocHandle(16, { memalloc: true })!;
      assert.notEqual(b, null);
      assert.equal(cache.stats().recycles, 0);
      assert.equal(cache.stats().pfmemallocRefills, 2);
      assert.equal(cache.backend.stats().pagesFreed, 1);
      cache.free(b);
      cache.drain();
      assert.equal(cache.backend.stats().reserveInUse, 0);
      assert.equal(cache.backend.stats().bytesInUse, 0);
    });

    it("fragments of a normal page are not pfmemalloc", () => {
      const cache = cacheOf({ reserveBytes: 4096 });
      const a = cache.allocHandle(10, { memalloc: true })!;
      assert.equal(cache.isPfmemalloc(), false);
      assert.equal(cache.backend.isPfmemalloc(a), false);
    });

    it('"deny" never uses the reserve', () => {
      const cache = cacheOf({ maxBytes: 0, reserveBytes: 32768 }, {
        pfmemalloc: "deny",
      });
      assert.equal(cache.allocHandle(100, { memalloc: true }), null);
      assert.equal(cache.backend.stats().reserveInUse, 0);
    });
  });

  describe(`${name}: drain`, () => {
    it("drain then freeing every outstanding fragment returns every byte", () => {
      const cache = cacheOf({ pageSize: 4096, maxOrder: 1 });
      const frags: (number | Uint8Array)[] = [];
      for (let i = 0; i < 500; i++) {
        frags.push(
          i % 2
            ? cache.allocHandle(1 + (i * 37) % 3000)!
            : cache.alloc(1 + (i * 53) % 3000)!,
        );
      }
      cache.drain();
      assert.ok(cache.backend.stats().bytesInUse > 0);
      for (const f of frags) cache.free(f);
      assert.equal(cache.backend.stats().bytesInUse, 0);
      assert.equal(cache.backend.stats().pagesInUse, 0);
      assert.equal(cache.stats().drains, 1);
    });

    it("a drained cache refills on the next allocation", () => {
      const cache = cacheOf();
      cache.free(cache.allocHandle(10)!);
      cache.drain();
      assert.equal(cache.backend.stats().bytesInUse, 0);
      assert.notEqual(cache.allocHandle(10), null);
      assert.equal(cache.stats().refills, 2);
    });
  });

  describe(`${name}: prepare / probe / commit / commitNoref / abort`, () => {
    it("probe never refills; prepare does and reports the bytes to the end of the page", () => {
      const cache = cacheOf({ maxOrder: 0 });
      assert.equal(cache.probe(1), null);
      assert.equal(cache.stats().refills, 0);
      const p = cache.prepare(32)!;
      assert.equal(cache.stats().refills, 1);
      assert.equal(p.size, 4096);
      assert.equal(p.addr, cache.backend.pageOf(p.addr));
      const addr = cache.commit(100);
      assert.equal(addr, p.addr);
      const q = cache.probe(10)!;
      assert.equal(q.addr, addr + 100);
      assert.equal(q.size, 4096 - 100);
      assert.equal(cache.probe(4000), null, "not enough left, and no refill");
      assert.equal(cache.stats().refills, 1);
    });

    it("prepare honours alignment and reuses its answer object", () => {
      const cache = cacheOf();
      cache.allocHandle(3);
      const p = cache.prepare(8, { align: 64 })!;
      assert.equal(p.addr % 64, 0);
      const q = cache.prepare(8)!;
      assert.equal(p, q, "same object");
    });

    it("prepare past the end of the page refills like alloc", () => {
      const cache = cacheOf({ maxOrder: 0 });
      const a = cache.allocHandle(4000)!;
      const p = cache.prepare(200)!;
      assert.notEqual(cache.backend.pageOf(p.addr), cache.backend.pageOf(a));
      assert.equal(p.size, 4096);
    });

    it("commit takes a reference; commitNoref extends the previous fragment without one", () => {
      const cache = cacheOf({ maxOrder: 0 });
      cache.prepare(10);
      const a = cache.commit(10);
      const p = cache.prepare(10)!;
      assert.equal(p.addr, a + 10);
      cache.commitNoref(20);
      assert.equal(
        cache.allocHandle(1),
        a + 30,
        "the next fragment follows both parts",
      );
      cache.drain();
      cache.free(a + 30);
      assert.equal(cache.backend.stats().pagesInUse, 1);
      cache.free(a); // one free for the coalesced fragment returns the page
      assert.equal(cache.backend.stats().pagesInUse, 0);
    });

    it("commit/commitNoref misuse is ESTATE and changes nothing", () => {
      const fresh = cacheOf();
      fresh.prepare(16);
      throwsCode(() => fresh.commitNoref(16), "ESTATE"); // nothing to extend
      const cache = cacheOf();
      throwsCode(() => cache.commit(10), "ESTATE");
      throwsCode(() => cache.commitNoref(10), "ESTATE");
      cache.allocHandle(100);
      const p = cache.prepare(16)!;
      throwsCode(() => cache.commit(p.size + 1), "ESTATE");
      cache.allocHandle(1);
      throwsCode(() => cache.commit(16), "ESTATE"); // bytes taken since prepare
      const q = cache.prepare(16)!;
      const a = cache.commit(16);
      assert.equal(a, q.addr);
      throwsCode(() => cache.commit(16), "ESTATE"); // prepare is consumed
      cache.prepare(8, { align: 64 });
      throwsCode(() => cache.commitNoref(8), "ESTATE"); // aligned past the end of `a`
    });

    it("abort undoes the most recent fragment, and only that one", () => {
      const cache = cacheOf({ maxOrder: 0 });
      const a = cache.allocHandle(100)!;
      const b = cache.alloc(50)!;
      throwsCode(() => cache.abort(a), "ESTATE");
      cache.abort(b);
      throwsCode(() => cache.abort(b), "ESTATE"); // no longer the most recent
      assert.equal(
        cache.allocHandle(50),
        a + 100,
        "the aborted bytes come back",
      );
      cache.prepare(10);
      const c = cache.commit(10);
      cache.abort(c);
      assert.equal(cache.stats().aborts, 2);
      cache.free(a);
      cache.free(a + 100);
      cache.drain();
      assert.equal(
        cache.backend.stats().bytesInUse,
        0,
        "abort returned the reference",
      );
    });
  });

  describe(`${name}: bad input throws PageFragError and changes nothing`, () => {
    // Each case runs on a cache in a known state; a twin cache gets the same
    // history minus the bad call, and both must then behave identically.
    const history = (cache: PageFragCache) => {
      const a = cache.allocHandle(100)!;
      cache.alloc(300);
      cache.free(a);
      cache.prepare(64);
    };
    const next = (cache: PageFragCache) => {
      const p = cache.commit(64);
      const q = cache.allocHandle(5000)!;
      const r = cache.allocHandle(30000);
      return [p, q, r, snapshot(cache)];
    };
    const foreignHeapView = () => createPageFragCache().alloc(10)!;
    const cases: [string, string, (cache: PageFragCache) => unknown][] = [
      ["size 0", "EINVAL_SIZE", (c) => c.alloc(0)],
      ["size -1", "EINVAL_SIZE", (c) => c.allocHandle(-1)],
      ["size NaN", "EINVAL_SIZE", (c) => c.alloc(NaN)],
      ["size Infinity", "EINVAL_SIZE", (c) => c.alloc(Infinity)],
      ["size 1.5", "EINVAL_SIZE", (c) => c.allocHandle(1.5)],
      ["size 2**53", "EINVAL_SIZE", (c) => c.allocHandle(2 ** 53)],
      ["size past the largest page", "EINVAL_SIZE", (c) => c.alloc(32769)],
      ["size as a string", "EINVAL_SIZE", (c) => c.alloc("8" as never)],
      ["prepare size 0", "EINVAL_SIZE", (c) => c.prepare(0)],
      ["probe size 1.5", "EINVAL_SIZE", (c) => c.probe(1.5)],
      ["commit size 0", "EINVAL_SIZE", (c) => c.commit(0)],
      ["align 0", "EINVAL_ALIGN", (c) => c.alloc(8, { align: 0 })],
      ["align 3", "EINVAL_ALIGN", (c) => c.allocHandle(8, { align: 3 })],
      ["align 1.5", "EINVAL_ALIGN", (c) => c.alloc(8, { align: 1.5 })],
      ["align past a page", "EINVAL_ALIGN", (c) => c.alloc(8, { align: 8192 })],
      ["prepare align 6", "EINVAL_ALIGN", (c) => c.prepare(8, { align: 6 })],
      ["options not an object", "EINVAL_OPTION", (c) => c.alloc(8, 5 as never)],
      [
        "free a foreign Uint8Array",
        "EFOREIGN",
        (c) => c.free(new Uint8Array(8)),
      ],
      [
        "free a view of a foreign SharedArrayBuffer",
        "EFOREIGN",
        (c) => c.free(new Uint8Array(new SharedArrayBuffer(16))),
      ],
      [
        "free another backend's view",
        "EFOREIGN",
        (c) => c.free(foreignHeapView()),
      ],
      ["free address 0", "EFOREIGN", (c) => c.free(0)],
      ["free address -4", "EFOREIGN", (c) => c.free(-4)],
      ["free address 2**40", "EFOREIGN", (c) => c.free(2 ** 40)],
      ["free address 1.5", "EFOREIGN", (c) => c.free(1.5)],
      ["free a string", "EFOREIGN", (c) => c.free("x" as never)],
      [
        "pageFragFree a foreign view",
        "EFOREIGN",
        () => pageFragFree(new Uint8Array(4)),
      ],
      [
        "abort an older fragment",
        "ESTATE",
        (c) => c.abort(c.backend.pageOf(c.probe(1)!.addr)),
      ],
    ];
    for (const [label, code, bad] of cases) {
      it(`${label} → ${code}`, () => {
        const geometry = { pageSize: 4096, maxOrder: 3, maxBytes: 1 << 20 };
        const cache = cacheOf(geometry);
        const twin = cacheOf(geometry);
        history(cache);
        history(twin);
        const before = snapshot(cache);
        throwsCode(() => bad(cache), code);
        assert.deepEqual(snapshot(cache), before, "stats changed");
        assert.deepEqual(next(cache), next(twin), "behaviour changed");
      });
    }

    it("freeing a fragment twice after its page went back → EDOUBLEFREE", () => {
      const cache = cacheOf({ maxOrder: 0 }, { refill: "order0" });
      const a = cache.allocHandle(4096)!;
      const v = cache.alloc(4096)!;
      cache.drain();
      cache.free(a);
      cache.free(v);
      const before = snapshot(cache);
      throwsCode(() => cache.free(a), "EDOUBLEFREE");
      throwsCode(() => cache.free(v), "EDOUBLEFREE");
      throwsCode(() => pageFragFree(v), "EDOUBLEFREE");
      assert.deepEqual(snapshot(cache), before);
    });

    it("use after destroy() → ESTATE; its fragments stay valid", () => {
      const cache = cacheOf();
      const frag = cache.alloc(100)!;
      cache.prepare(10);
      cache.destroy();
      assert.ok(cache.isDestroyed());
      for (
        const call of [
          () => cache.alloc(1),
          () => cache.allocHandle(1, { zero: true }),
          () => cache.prepare(1),
          () => cache.probe(1),
          () => cache.commit(1),
          () => cache.commitNoref(1),
          () => cache.abort(frag),
        ]
      ) throwsCode(call, "ESTATE");
      frag[99] = 1;
      cache.free(frag);
      cache.destroy();
      assert.equal(cache.backend.stats().bytesInUse, 0);
    });

    it("view() outside the page is an error, never a view of other memory", () => {
      const cache = cacheOf({ maxOrder: 0 });
      const a = cache.allocHandle(10)!;
      throwsCode(() => cache.backend.view(a, 5000), "EINVAL_SIZE");
      throwsCode(() => cache.backend.view(12345678, 8), "EFOREIGN");
    });
  });
}

/**
 * A policy, or a function that makes a fresh one. Pass a function for a
 * policy with state (one that learns from what it is asked), so that each
 * test starts from a fresh instance.
 *
 * @example
 * ```ts
 * import { kernelRefill, type RefillPolicy } from "@pagefrag/pagefrag";
 * import type { PolicyOrFactory } from "@pagefrag/pagefrag/testing";
 *
 * const shared: PolicyOrFactory<RefillPolicy> = kernelRefill;
 * const fresh: PolicyOrFactory<RefillPolicy> = () => ({ ...kernelRefill });
 * if (typeof fresh !== "function" || shared.name !== "kernel") throw new Error();
 * ```
 */
export type PolicyOrFactory<P extends object> = P | (() => P);

/**
 * The policies {@linkcode policySuite} tests; the ones left out are the
 * kernel's defaults.
 *
 * @example
 * ```ts
 * import { cacheLineAlignment, order0Refill } from "@pagefrag/pagefrag";
 * import type { PolicySet } from "@pagefrag/pagefrag/testing";
 *
 * const set: PolicySet = { refill: order0Refill, align: cacheLineAlignment };
 * if (set.pfmemalloc !== undefined) throw new Error();
 * ```
 */
export interface PolicySet {
  /** The refill-order policy under test. */
  refill?: PolicyOrFactory<RefillPolicy>;
  /** The alignment policy under test (for 4 KiB pages). */
  align?: PolicyOrFactory<AlignmentPolicy>;
  /** The pfmemalloc policy under test. */
  pfmemalloc?: PolicyOrFactory<PfmemallocPolicy>;
}

/**
 * Options of {@linkcode policySuite}.
 *
 * @example
 * ```ts
 * import { HeapBackend } from "@pagefrag/pagefrag";
 * import type { PolicySuiteOptions } from "@pagefrag/pagefrag/testing";
 *
 * const options: PolicySuiteOptions = { backend: (o) => new HeapBackend(o) };
 * if (options.backend === undefined) throw new Error();
 * ```
 */
export interface PolicySuiteOptions extends SuiteOptions {
  /** The backend the caches use. Default: a {@linkcode HeapBackend}. */
  backend?: BackendFactory;
}

function fresh<P extends object>(
  p: PolicyOrFactory<P> | undefined,
): P | undefined {
  return typeof p === "function" ? (p as () => P)() : p;
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
 */
export function policySuite(
  name: string,
  policies: PolicySet,
  options: PolicySuiteOptions = {},
): void {
  const { describe, it } = options.runner ?? nodeRunner;
  const make: BackendFactory = options.backend ??
    ((o) => new HeapBackend(o));
  const cacheOf = (backendOptions: BackendOptions): PageFragCache =>
    createPageFragCache({
      backend: make(backendOptions),
      refill: fresh(policies.refill),
      align: fresh(policies.align),
      pfmemalloc: fresh(policies.pfmemalloc),
    });
  const isPow2 = (n: unknown) =>
    typeof n === "number" && Number.isInteger(n) && n > 0 &&
    (n & (n - 1)) === 0;

  describe(`${name}: policy answers are well-formed`, () => {
    if (policies.refill !== undefined) {
      it("every refill plan has steps, and one between minOrder and maxOrder", () => {
        const refill = fresh(policies.refill)!;
        assert.equal(typeof refill.name, "string", "refill.name");
        for (const pageSize of [1024, 4096]) {
          for (let maxOrder = 0; maxOrder <= 4; maxOrder++) {
            for (let minOrder = 0; minOrder <= maxOrder; minOrder++) {
              const lo = minOrder === 0 ? 1 : (pageSize << (minOrder - 1)) + 1;
              const hi = pageSize << minOrder;
              for (const size of [lo, (lo + hi) >>> 1, hi]) {
                const steps = refill.plan(size, minOrder, maxOrder);
                const where = `plan(${size}, ${minOrder}, ${maxOrder})`;
                assert.ok(
                  Array.isArray(steps) && steps.length > 0,
                  `${where} is empty`,
                );
                for (const step of steps) {
                  assert.ok(
                    Number.isInteger(step.order),
                    `${where}: order ${step.order}`,
                  );
                  assert.equal(
                    typeof step.reserve,
                    "boolean",
                    `${where}: reserve`,
                  );
                }
                assert.ok(
                  steps.some((s) => s.order >= minOrder && s.order <= maxOrder),
                  `${where} has no step that can hold the fragment: the cache could never refill`,
                );
              }
            }
          }
        }
      });
    }
    if (policies.align !== undefined) {
      it("alignments are powers of two up to the page size", () => {
        const align = fresh(policies.align)!;
        assert.equal(typeof align.name, "string", "align.name");
        assert.ok(
          isPow2(align.align) && align.align <= 4096,
          `align ${align.align}`,
        );
        if (typeof align.alignFor === "function") {
          for (let size = 1; size <= 32768; size += size < 4096 ? 1 : 97) {
            const a: number = align.alignFor(size);
            assert.ok(isPow2(a) && a <= 4096, `alignFor(${size}) = ${a}`);
            assert.equal(align.alignFor(size), a, `alignFor(${size}) changed`);
          }
        }
      });
    }
    if (policies.pfmemalloc !== undefined) {
      it("mayUseReserve and mayRecycle answer booleans", () => {
        const pf = fresh(policies.pfmemalloc)!;
        assert.equal(typeof pf.name, "string", "pfmemalloc.name");
        for (const flag of [false, true]) {
          assert.equal(typeof pf.mayUseReserve(flag), "boolean");
          assert.equal(typeof pf.mayRecycle(flag), "boolean");
        }
      });
    }
  });

  describe(`${name}: caches with these policies`, () => {
    it("random churn: no overlap, pages and alignment kept, every byte back", () => {
      const rand = prng(7);
      const cache = cacheOf({
        pageSize: 4096,
        maxOrder: 3,
        maxBytes: 16 << 20,
      });
      const b = cache.backend;
      const policy = cache.alignment;
      const live: { addr: number; size: number }[] = [];
      for (let step = 0; step < 20000; step++) {
        if (rand() < live.length / 200) {
          const i = Math.floor(rand() * live.length);
          const f = live[i];
          assert.ok(
            b.view(f.addr, f.size).every((x) => x === f.addr % 251),
            `fragment ${f.addr}+${f.size} was overwritten`,
          );
          cache.free(f.addr);
          live[i] = live[live.length - 1];
          live.pop();
          continue;
        }
        const size = 1 + Math.floor(rand() ** 3 * 16384);
        const explicit = rand() < 0.3 ? 1 << Math.floor(rand() * 8) : undefined;
        const want = explicit ??
          (policy.alignFor ? policy.alignFor(size) : policy.align);
        const view = rand() < 0.5;
        const memalloc = rand() < 0.1;
        const opts = explicit === undefined
          ? { memalloc }
          : { align: explicit, memalloc };
        const addr = view
          ? (() => {
            const v = cache.alloc(size, opts);
            return v === null ? null : b.addressOf(v);
          })()
          : cache.allocHandle(size, opts);
        assert.notEqual(addr, null, "the budget is ample here");
        assert.equal(
          addr! % want,
          0,
          `fragment of ${size} bytes not aligned to ${want}`,
        );
        const page = b.pageOf(addr!);
        assert.equal(b.pageOf(addr! + size - 1), page, "crosses its page");
        b.view(addr!, size).fill(addr! % 251);
        live.push({ addr: addr!, size });
      }
      const sorted = [...live].sort((x, y) => x.addr - y.addr);
      for (let i = 1; i < sorted.length; i++) {
        assert.ok(
          sorted[i - 1].addr + sorted[i - 1].size <= sorted[i].addr,
          "overlap",
        );
      }
      for (const f of live) cache.free(f.addr);
      cache.drain();
      const s = b.stats();
      assert.equal(s.bytesInUse, 0, "bytes still in use after free + drain");
      assert.equal(s.pagesInUse, 0);
      assert.equal(cache.stats().allocFailures, 0);
      assert.equal(
        cache.stats().refills,
        s.pagesAllocated,
        "refills = pages taken",
      );
    });

    it("no stuck state: with a budget below the largest page, what fits is handed out", () => {
      const rand = prng(11);
      const cache = cacheOf({ pageSize: 4096, maxOrder: 3, maxBytes: 16384 });
      for (let i = 0; i < 2000; i++) {
        const size = 1 + Math.floor(rand() * 16384);
        const addr = cache.allocHandle(size);
        assert.notEqual(addr, null, `allocation ${i} of ${size} bytes failed`);
        cache.free(addr!);
      }
      assert.equal(cache.stats().allocFailures, 0);
      cache.drain();
      assert.equal(cache.backend.stats().bytesInUse, 0);
    });

    it("the reserve is bounded, marked, recycled only if allowed, and flows back", () => {
      const rand = prng(13);
      const reserveBytes = 32768;
      const cache = cacheOf({
        pageSize: 4096,
        maxOrder: 3,
        maxBytes: 0,
        reserveBytes,
      });
      const b = cache.backend;
      const live: number[] = [];
      for (let i = 0; i < 3000; i++) {
        if (live.length > 0 && rand() < 0.5) {
          cache.free(live.splice(Math.floor(rand() * live.length), 1)[0]);
          continue;
        }
        const addr = cache.allocHandle(1 + Math.floor(rand() * 4096), {
          memalloc: true,
        });
        assert.ok(b.stats().reserveInUse <= reserveBytes, "reserve exceeded");
        if (addr === null) continue;
        assert.ok(
          b.isPfmemalloc(addr),
          "a page with no budget must come from the reserve",
        );
        assert.ok(cache.isPfmemalloc());
        live.push(addr);
      }
      if (!cache.pfmemallocPolicy.mayRecycle(true)) {
        assert.equal(cache.stats().recycles, 0, "a reserve page was recycled");
      }
      for (const a of live) cache.free(a);
      cache.drain();
      assert.equal(b.stats().reserveInUse, 0, "the reserve did not flow back");
      assert.equal(b.stats().bytesInUse, 0);
    });
  });
}
