/**
 * The contract, by concern: fragments. Live fragments never overlap, never
 * cross their page, keep their bytes and honour their alignment; views are
 * the fragment's memory; fragments are carved upward from the start of a
 * page; `pageFragFree` frees a view without naming its cache.
 *
 * @module
 */
import { prng } from "./prng.ts";
import { pageFragFree } from "../mod.ts";
import type { Assert } from "./assert.ts";
import type { SuiteContext } from "./runner.ts";

/** Register the `${name}: fragments` group. */
export function fragmentTests(ctx: SuiteContext): void {
  const { name, describe, it, cacheOf } = ctx;
  const assert: Assert = ctx.assert;
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
}
