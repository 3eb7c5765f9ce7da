import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { HeapBackend } from "../mod.ts";
import { contractSuite, throwsCode } from "./contract.ts";

contractSuite("heap", (options) => new HeapBackend(options));

describe("heap backend", () => {
  it("pages are separate ArrayBuffers that go back to the GC when released", () => {
    const backend = new HeapBackend();
    const page = backend.allocPage(0, false);
    const view = backend.view(page, 16);
    assert.ok(view.buffer instanceof ArrayBuffer);
    assert.equal(view.buffer.byteLength, 4096);
    backend.free(page);
    assert.equal(backend.stats().pagesInUse, 0);
    throwsCode(() => backend.view(page, 16), "EDOUBLEFREE");
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
