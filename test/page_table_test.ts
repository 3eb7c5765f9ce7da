/**
 * The shared page bookkeeping (`backends/page_table.ts`) through the heap
 * backend and a minimal third-party subclass: the page pool, buffers made,
 * recycled views (hits, misses, bounds, surviving the pool), the release
 * signal and option checks.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPageFragCache, HeapBackend } from "../mod.ts";
import { PageBudget, PagedBackend, ViewTable } from "../backends/page_table.ts";
import { contractSuite, throwsCode } from "./contract.ts";

class Plain extends PagedBackend {
  dropped = 0;
  protected makePage(bytes: number): ArrayBufferLike | null {
    return new ArrayBuffer(bytes);
  }
  protected override dropPage(): void {
    this.dropped++;
  }
}

contractSuite(
  "paged, no pool, no view table",
  (options) => new Plain({ ...options, poolBytes: 0, viewsPerPage: 0 }),
);

describe("page pool", () => {
  it("a released page is handed out again from the pool, same buffer, same address", () => {
    const backend = new HeapBackend();
    const a = backend.allocPage(3, false);
    const buf = backend.view(a, 1).buffer;
    backend.free(a);
    assert.equal(backend.pooledBytes(), 32768, "pooled");
    assert.equal(backend.stats().pagesInUse, 0, "a pooled page is not in use");
    const b = backend.allocPage(3, false);
    assert.equal(b, a, "same address");
    assert.equal(backend.view(b, 1).buffer, buf, "same ArrayBuffer");
    const s = backend.stats();
    assert.deepEqual(
      [s.pagesAllocated, s.buffersCreated],
      [2, 1],
      "two pages handed out, one buffer made",
    );
    backend.free(b);
  });

  it("poolBytes bounds the pool; pages beyond it go to the GC", () => {
    const backend = new Plain({ maxOrder: 0, poolBytes: 8192 });
    const pages = [0, 1, 2].map(() => backend.allocPage(0, false));
    for (const p of pages) backend.free(p);
    assert.equal(backend.pooledBytes(), 8192, "two pages pooled");
    assert.equal(backend.dropped, 1, "the third was dropped");
    for (let i = 0; i < 3; i++) backend.allocPage(0, false);
    assert.equal(
      backend.stats().buffersCreated,
      4,
      "one new buffer for the dropped page",
    );
  });

  it("poolBytes: 0 makes a new buffer for every page", () => {
    const backend = new HeapBackend({ poolBytes: 0 });
    for (let i = 0; i < 5; i++) backend.free(backend.allocPage(0, false));
    const s = backend.stats();
    assert.deepEqual([s.pagesAllocated, s.buffersCreated], [5, 5], "no reuse");
  });

  it("the pool never exceeds the budget plus reserve", () => {
    assert.equal(new HeapBackend({ maxBytes: 4096 }).poolBytes, 4096, "capped");
  });

  it("steady churn stays inside the default pool: no new buffers after warm-up", () => {
    const cache = createPageFragCache();
    const live: (Uint8Array | undefined)[] = new Array(128).fill(undefined);
    let x = 0x9e3779b9 | 0;
    const next = () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return x >>> 0;
    };
    const sizes = [64, 64, 64, 576, 576, 1500];
    const step = () => {
      const i = next() % live.length;
      if (live[i] !== undefined) cache.free(live[i]!);
      live[i] = cache.alloc(sizes[next() % sizes.length])!;
    };
    for (let i = 0; i < 50_000; i++) step();
    const before = cache.backend.stats();
    for (let i = 0; i < 100_000; i++) step();
    const after = cache.backend.stats();
    assert.ok(
      after.pagesAllocated > before.pagesAllocated,
      "pages were taken during the measured part",
    );
    // A buffer is made only when the pages in use reach a new peak: every
    // other page comes from the pool.
    assert.ok(
      after.buffersCreated! - before.buffersCreated! <= 2,
      `${
        after.buffersCreated! - before.buffersCreated!
      } new buffers after warm-up`,
    );
    assert.equal(
      after.buffersCreated! * 32768,
      after.peakBytesInUse,
      "buffers made = pages at the peak",
    );
    assert.ok(
      after.pagesAllocated > 10 * after.buffersCreated!,
      "mostly reused",
    );
    assert.ok(
      after.viewHits! - before.viewHits! > 0,
      `views recycled: ${after.viewHits! - before.viewHits!}`,
    );
    for (const v of live) if (v !== undefined) cache.free(v);
    cache.drain();
    assert.equal(cache.backend.stats().bytesInUse, 0, "no leak");
  });

  it("bad pool and view options are EINVAL_OPTION", () => {
    for (const poolBytes of [-1, 1.5, NaN, "1"]) {
      throwsCode(
        () => new HeapBackend({ poolBytes: poolBytes as number }),
        "EINVAL_OPTION",
      );
    }
    for (const viewsPerPage of [-1, 3, 1 << 17, "8"]) {
      throwsCode(
        () => new HeapBackend({ viewsPerPage: viewsPerPage as number }),
        "EINVAL_OPTION",
      );
    }
  });
});

describe("recycled views", () => {
  it("steady alloc+free hands out the same view objects, counted as hits", () => {
    const cache = createPageFragCache();
    const first = cache.alloc(256)!;
    cache.free(first);
    const seen = new Set<Uint8Array>([first]);
    for (let i = 0; i < 1000; i++) {
      const v = cache.alloc(256)!;
      seen.add(v);
      cache.free(v);
    }
    assert.equal(seen.size, 128, "one view per 256-byte slot of a 32 KiB page");
    const s = cache.backend.stats();
    assert.deepEqual(
      [s.viewMisses, s.viewHits],
      [128, 873],
      "misses only the first time round",
    );
  });

  it("a page taken again from the pool keeps its views; one that went to the GC does not", () => {
    for (const poolBytes of [undefined, 0]) {
      const backend = new HeapBackend({ poolBytes });
      const c1 = createPageFragCache({ backend });
      const v1 = c1.alloc(100)!;
      c1.free(v1);
      c1.drain();
      const c2 = createPageFragCache({ backend });
      const v2 = c2.alloc(100)!;
      assert.equal(
        v2 === v1,
        poolBytes === undefined,
        `poolBytes ${poolBytes}`,
      );
      assert.equal(v2.byteOffset, 0);
      assert.equal(v2.length, 100);
      c2.free(v2);
    }
  });

  it("fragments closer than an entry's stretch evict each other and stay correct", () => {
    const backend = new HeapBackend({ maxOrder: 0, viewsPerPage: 16 });
    const page = backend.allocPage(0, false); // 4096 / 16: 256 bytes an entry
    const a = backend.view(page + 0, 10);
    const b = backend.view(page + 10, 10);
    const a2 = backend.view(page + 0, 10);
    assert.notEqual(a2, a, "b evicted a");
    assert.deepEqual(
      [a2.byteOffset, b.byteOffset],
      [0, 10],
      "each over its bytes",
    );
    assert.equal(backend.addressOf(b), page + 10);
    assert.equal(
      backend.view(page + 0, 11).length,
      11,
      "same offset, other size: a new view",
    );
    backend.free(page);
  });

  it("viewsPerPage: 0 makes every view new", () => {
    const cache = createPageFragCache({
      backend: new HeapBackend({ viewsPerPage: 0 }),
    });
    const a = cache.alloc(64)!;
    cache.free(a);
    cache.drain();
    const b = cache.alloc(64)!;
    assert.notEqual(a, b, "not recycled");
    assert.equal(cache.backend.stats().viewHits, 0);
    cache.free(b);
  });

  it("a stale view of a pooled page is a double free", () => {
    const cache = createPageFragCache();
    const v = cache.alloc(64)!;
    cache.free(v);
    cache.drain();
    throwsCode(() => cache.free(v), "EDOUBLEFREE");
  });

  it("ViewTable refuses a page it was not told about", () => {
    throwsCode(() => new ViewTable().view(5, 0, 1, 5), "ESTATE");
  });
});

describe("release signal", () => {
  it("counts every page release (pool or GC) and wakes waiters", async () => {
    const backend = new HeapBackend({ maxOrder: 0, poolBytes: 4096 });
    const sig = backend.releaseSignal;
    assert.ok(sig instanceof Int32Array);
    if (typeof SharedArrayBuffer === "function") {
      assert.ok(sig.buffer instanceof SharedArrayBuffer, "shareable");
    }
    const a = backend.allocPage(0, false);
    const b = backend.allocPage(0, false);
    const waitAsync = (Atomics as { waitAsync?: typeof Atomics.waitAsync })
      .waitAsync;
    const waiting = typeof waitAsync === "function"
      ? waitAsync(sig, 0, 0, 5000).value
      : undefined;
    // A pending waitAsync does not keep Deno's event loop alive by itself.
    const keepAlive = setTimeout(() => {}, 5000);
    backend.free(a); // to the pool
    assert.equal(Atomics.load(sig, 0), 1);
    backend.free(b); // beyond the pool: to the GC
    assert.equal(Atomics.load(sig, 0), 2);
    if (waiting instanceof Promise) {
      assert.equal(await waiting, "ok", "a waiter was woken");
    }
    clearTimeout(keepAlive);
  });
});

describe("PageBudget", () => {
  it("admits from the budget, then the reserve, and counts refusals", () => {
    const budget = PageBudget.create(8192, 4096);
    assert.equal(budget.admit(8192, false), 0);
    budget.charge(8192, false);
    assert.equal(budget.admit(4096, false), -1);
    assert.equal(budget.admit(4096, true), 1);
    budget.charge(4096, true);
    assert.equal(budget.admit(4096, true), -1);
    const s = budget.stats(0, 0);
    assert.deepEqual(
      [s.bytesInUse, s.reserveInUse, s.pageFailures, s.peakBytesInUse],
      [12288, 4096, 2, 12288],
    );
    budget.discharge(4096, true);
    budget.discharge(8192, false);
    assert.equal(budget.bytesInUse, 0);
  });

  it("rejects words that are too few", () => {
    throwsCode(() => new PageBudget(new Float64Array(3)), "EINVAL_OPTION");
  });
});
