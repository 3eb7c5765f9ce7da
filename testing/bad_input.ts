/**
 * The contract, by concern: bad input. Every bad size, alignment, option,
 * foreign or freed address and out-of-order call throws a `PageFragError`
 * with its stable code and leaves the cache exactly as it was: same stats,
 * and the same behaviour afterwards as a twin cache that never saw the call.
 *
 * @module
 */
import {
  createPageFragCache,
  type PageFragCache,
  pageFragFree,
} from "../mod.ts";
import { type Assert, snapshot } from "./assert.ts";
import type { SuiteContext } from "./runner.ts";

/** One bad call: a label, the code it must throw, and the call. */
type BadCase = [
  label: string,
  code: string,
  bad: (cache: PageFragCache) => unknown,
];

/** The bad calls, each made on a cache in the state `history` leaves. */
function badCases(): BadCase[] {
  const foreignHeapView = () => createPageFragCache().alloc(10)!;
  const cases: BadCase[] = [
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
  // A page without cross-origin isolation has no SharedArrayBuffer; the
  // rest of the contract holds there all the same.
  if (typeof SharedArrayBuffer === "function") {
    cases.push([
      "free a view of a foreign SharedArrayBuffer",
      "EFOREIGN",
      (c) => c.free(new Uint8Array(new SharedArrayBuffer(16))),
    ]);
  }
  return cases;
}

/** The known state each case starts from. */
function history(cache: PageFragCache): void {
  const a = cache.allocHandle(100)!;
  cache.alloc(300);
  cache.free(a);
  cache.prepare(64);
}

/** What a cache does next: equal for a cache and its twin if nothing changed. */
function next(cache: PageFragCache): unknown[] {
  const p = cache.commit(64);
  const q = cache.allocHandle(5000)!;
  const r = cache.allocHandle(30000);
  return [p, q, r, snapshot(cache)];
}

/** Register the `${name}: bad input throws PageFragError and changes nothing` group. */
export function badInputTests(ctx: SuiteContext): void {
  const { name, describe, it, cacheOf, throwsCode } = ctx;
  const assert: Assert = ctx.assert;
  describe(`${name}: bad input throws PageFragError and changes nothing`, () => {
    // Each case runs on a cache in a known state; a twin cache gets the same
    // history minus the bad call, and both must then behave identically.
    for (const [label, code, bad] of badCases()) {
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
