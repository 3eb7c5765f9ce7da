// snapshot() over a TracingBackend: the page states the browser picture
// draws (live, freed, recycled, pinned, pfmemalloc), checked without a browser.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPageFragCache, HeapBackend } from "../mod.ts";
import { snapshot, TracingBackend } from "../debug/snapshot.ts";

const traced = (o = {}) =>
  createPageFragCache({
    backend: new TracingBackend(
      new HeapBackend({ pageSize: 4096, maxOrder: 0, ...o }),
    ),
  });

describe("snapshot", () => {
  it("without a tracer: counters only", () => {
    const cache = createPageFragCache();
    cache.free(cache.alloc(10)!);
    const s = snapshot(cache);
    assert.equal(s.pages, undefined, "no page view");
    assert.equal(s.cache.allocs, 1, "cache counters");
    assert.equal(s.backend.pagesInUse, 1, "backend counters");
  });

  it("live and freed fragments, in page order", () => {
    const cache = traced();
    const a = cache.alloc(100)!;
    cache.free(cache.alloc(200)!);
    const [page] = snapshot(cache).pages!;
    assert.deepEqual(
      page.fragments.map((f) => [f.offset, f.size, f.state]),
      [[0, 100, "live"], [100, 200, "freed"]],
      "both fragments with their states",
    );
    assert.ok(page.held && !page.pinned, "the cache's current page");
    cache.free(a);
  });

  it("a page whose fragments were all freed is recycled in place", () => {
    const cache = traced();
    for (let i = 0; i < 4; i++) cache.free(cache.alloc(1024)!); // exactly one page
    cache.free(cache.alloc(1024)!); // exhausted, all free: recycled, carved again
    const s = snapshot(cache);
    assert.equal(s.cache.recycles, 1, "the cache counted a recycle");
    assert.equal(s.pages!.length, 1, "still one page");
    assert.equal(s.pages![0].recycles, 1, "the tracer saw it");
    assert.deepEqual(
      s.pages![0].fragments.map((f) => f.state),
      ["freed", "recycled", "recycled", "recycled"],
      "offset 0 carved and freed again, the rest from before the recycle",
    );
  });

  it("a page kept by one fragment after the cache moved on is pinned", () => {
    const cache = traced();
    const keep = cache.alloc(16)!;
    cache.free(cache.alloc(4090)!); // does not fit: a refill, the first page is left
    const s = snapshot(cache);
    const first = s.pages!.find((p) =>
      p.fragments.some((f) => f.state === "live")
    )!;
    assert.ok(first.pinned && !first.held, "pinned, held by no cache");
    assert.equal(s.backend.pinnedPages, 1, "the backend agrees");
    cache.free(keep);
    assert.equal(snapshot(cache).pages!.length, 1, "the pinned page went back");
  });

  it("reserve pages are marked pfmemalloc", () => {
    const cache = traced({ maxBytes: 0, reserveBytes: 4096 });
    const f = cache.alloc(10, { memalloc: true })!;
    assert.equal(
      snapshot(cache).pages![0].pfmemalloc,
      true,
      "from the reserve",
    );
    cache.free(f);
  });
});
