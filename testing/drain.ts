/**
 * The contract, by concern: drain. Drain and the last frees return every
 * byte; a drained cache refills on its next allocation.
 *
 * @module
 */
import type { Assert } from "./assert.ts";
import type { SuiteContext } from "./runner.ts";

/** Register the `${name}: drain` group. */
export function drainTests(ctx: SuiteContext): void {
  const { name, describe, it, cacheOf } = ctx;
  const assert: Assert = ctx.assert;
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
}
