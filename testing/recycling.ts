/**
 * The contract, by concern: recycling. An exhausted page whose fragments
 * are all free is reused in place; one with outstanding fragments is left
 * to them, and the last free returns it; steady churn takes no new pages.
 *
 * @module
 */
import type { Assert } from "./assert.ts";
import type { SuiteContext } from "./runner.ts";

/** Register the `${name}: recycling` group. */
export function recyclingTests(ctx: SuiteContext): void {
  const { name, describe, it, cacheOf } = ctx;
  const assert: Assert = ctx.assert;
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
}
