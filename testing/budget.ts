/**
 * The contract, by concern: the budget. Refill falls back to the smallest
 * order that holds the fragment when the budget is small, takes a
 * `maxOrder` page when it allows, never gets stuck (the bgmac bug), and
 * exhaustion returns `null` until frees make room.
 *
 * @module
 */
import type { Assert } from "./assert.ts";
import type { SuiteContext } from "./runner.ts";

/** Register the `${name}: budget, fallback and exhaustion` group. */
export function budgetTests(ctx: SuiteContext): void {
  const { name, describe, it, cacheOf } = ctx;
  const assert: Assert = ctx.assert;
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
}
