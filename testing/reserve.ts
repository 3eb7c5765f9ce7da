/**
 * The contract, by concern: the pfmemalloc reserve. Only memalloc requests
 * use it, its pages are marked and go back instead of recycling, and the
 * `"deny"` policy never touches it.
 *
 * @module
 */
import type { Assert } from "./assert.ts";
import type { SuiteContext } from "./runner.ts";

/** Register the `${name}: pfmemalloc reserve` group. */
export function reserveTests(ctx: SuiteContext): void {
  const { name, describe, it, cacheOf } = ctx;
  const assert: Assert = ctx.assert;
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
}
