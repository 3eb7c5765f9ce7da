/**
 * The contract, by concern: the two-step API (`prepare`, `probe`, `commit`,
 * `commitNoref`, `abort`), as `tcp_sendmsg` and the skb code use it.
 *
 * @module
 */
import type { Assert } from "./assert.ts";
import type { SuiteContext } from "./runner.ts";

/** Register the `${name}: prepare / probe / commit / commitNoref / abort` group. */
export function prepareCommitTests(ctx: SuiteContext): void {
  const { name, describe, it, cacheOf, throwsCode } = ctx;
  const assert: Assert = ctx.assert;
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
}
