import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  createPageFragCache,
  HeapBackend,
  kernelRefill,
  type PageFragCache,
} from "../mod.ts";
import { contractSuite, throwsCode } from "./contract.ts";

contractSuite("heap", (options) => new HeapBackend(options));

describe("heap backend", () => {
  it("pages are separate ArrayBuffers; a released one waits in the pool, not in use", () => {
    const backend = new HeapBackend();
    const page = backend.allocPage(0, false);
    const view = backend.view(page, 16);
    assert.ok(view.buffer instanceof ArrayBuffer);
    assert.equal(view.buffer.byteLength, 4096);
    backend.free(page);
    assert.equal(backend.stats().pagesInUse, 0);
    assert.equal(backend.pooledBytes(), 4096);
    throwsCode(() => backend.view(page, 16), "EDOUBLEFREE");
    throwsCode(() => backend.addressOf(view), "EDOUBLEFREE");
  });

  it("without a pool, released pages go to the GC and views are new", () => {
    const backend = new HeapBackend({ poolBytes: 0 });
    const page = backend.allocPage(0, false);
    const view = backend.view(page, 16);
    backend.free(page);
    assert.equal(backend.pooledBytes(), 0);
    const again = backend.allocPage(0, false);
    assert.equal(again, page, "the address range is reused");
    assert.notEqual(
      backend.view(again, 16).buffer,
      view.buffer,
      "a new buffer",
    );
    throwsCode(() => backend.addressOf(view), "EDOUBLEFREE");
    backend.free(again);
    assert.equal(backend.stats().buffersCreated, 2);
  });

  it("page orders 0..maxOrder have pageSize << order bytes; budget and reserve are kept apart", () => {
    const backend = new HeapBackend({
      pageSize: 1024,
      maxOrder: 2,
      maxBytes: 4096,
      reserveBytes: 2048,
    });
    const p2 = backend.allocPage(2, false);
    assert.equal(backend.pageBytes(p2), 4096);
    assert.equal(backend.allocPage(0, false), 0, "budget spent");
    const r1 = backend.allocPage(1, true);
    assert.notEqual(r1, 0);
    assert.ok(backend.isPfmemalloc(r1));
    assert.equal(backend.allocPage(0, true), 0, "reserve spent");
    const s = backend.stats();
    assert.equal(s.bytesInUse, 6144);
    assert.equal(s.reserveInUse, 2048);
    assert.equal(s.bytesTotal, 6144);
    assert.equal(s.pageFailures, 2);
    backend.free(p2);
    backend.free(r1);
    assert.equal(backend.stats().bytesInUse, 0);
    assert.equal(backend.stats().peakBytesInUse, 6144);
  });

  it("a released range is reused for a page of the same order", () => {
    const backend = new HeapBackend();
    const a = backend.allocPage(3, false);
    backend.free(a);
    const b = backend.allocPage(3, false);
    assert.equal(b, a);
    assert.equal(backend.pageOf(b + 30000), b);
  });

  it("addresses stay small integers below 2**30", () => {
    const backend = new HeapBackend({ pageSize: 1 << 20, maxOrder: 0 });
    const pages: number[] = [];
    for (;;) {
      const p = backend.allocPage(0, false);
      if (p === 0) break;
      assert.ok(p < 2 ** 30);
      pages.push(p);
      if (pages.length > 2000) break;
    }
    assert.equal(pages.length, 1023, "1 GiB of address space, slot 0 unused");
    for (const p of pages) backend.free(p);
  });

  it("bad orders are EINVAL_OPTION", () => {
    const backend = new HeapBackend({ maxOrder: 1 });
    throwsCode(() => backend.allocPage(2, false), "EINVAL_OPTION");
    throwsCode(() => backend.allocPage(-1, false), "EINVAL_OPTION");
    throwsCode(() => backend.allocPage(0.5, false), "EINVAL_OPTION");
    assert.equal(backend.stats().pagesAllocated, 0);
  });
});

describe("re-entry", () => {
  it("a refill policy or backend that allocates from the same cache mid-refill corrupts nothing", () => {
    // Assigned once below; the callbacks defined before it need the binding.
    // deno-lint-ignore prefer-const
    let cache!: PageFragCache;
    const live: [addr: number, size: number][] = [];
    let nestedCount = 0;
    let depth = 0;
    const nested = (size: number) => {
      depth++;
      const a = cache.allocHandle(size);
      depth--;
      if (a !== null) {
        live.push([a, size]);
        nestedCount++;
      }
    };
    class ReentrantBackend extends HeapBackend {
      override allocPage(order: number, reserve: boolean): number {
        if (depth === 0) nested(700); // allocate while the cache is between pages
        return super.allocPage(order, reserve);
      }
    }
    const backend = new ReentrantBackend({ pageSize: 4096, maxOrder: 1 });
    cache = createPageFragCache({
      backend,
      refill: {
        name: "reentrant-plan",
        plan(size, min, max) {
          if (depth === 0 && size === 1000) nested(300);
          return kernelRefill.plan(size, min, max);
        },
      },
    });
    for (let i = 0; i < 300; i++) {
      const size = i % 3 === 0 ? 1000 : 500;
      const a = cache.allocHandle(size);
      assert.notEqual(a, null);
      live.push([a!, size]);
      if (i % 4 === 0) {
        const [f] = live.splice(Math.floor(live.length / 2), 1);
        cache.free(f[0]);
      }
    }
    assert.ok(nestedCount > 10, "the nested path ran");
    const sorted = [...live].sort((x, y) => x[0] - y[0]);
    for (let i = 1; i < sorted.length; i++) {
      assert.ok(sorted[i - 1][0] + sorted[i - 1][1] <= sorted[i][0], "overlap");
    }
    for (const [a, size] of live) {
      assert.equal(backend.pageOf(a), backend.pageOf(a + size - 1));
      cache.free(a);
    }
    cache.drain();
    assert.equal(backend.stats().bytesInUse, 0, "every page came back");
  });
});
