import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type AlignmentPolicy,
  createPageFragCache,
  fixedAlignment,
  HeapBackend,
  type PageFragOptions,
  SharedBackend,
  WasmBackend,
} from "../mod.ts";
import { throwsCode } from "./contract.ts";

describe("options", () => {
  const bad: [string, unknown, string][] = [
    ["unknown key", { maxbytes: 10 }, "EINVAL_OPTION"],
    ["not an object", 42, "EINVAL_OPTION"],
    ["pageSize not a power of two", { pageSize: 3000 }, "EINVAL_OPTION"],
    ["pageSize below 1024", { pageSize: 512 }, "EINVAL_OPTION"],
    ["pageSize a string", { pageSize: "4096" }, "EINVAL_OPTION"],
    ["maxOrder negative", { maxOrder: -1 }, "EINVAL_OPTION"],
    ["maxOrder fractional", { maxOrder: 1.5 }, "EINVAL_OPTION"],
    [
      "largest page over 512 MiB",
      { pageSize: 1 << 20, maxOrder: 10 },
      "EINVAL_OPTION",
    ],
    ["negative budget", { maxBytes: -1 }, "EINVAL_OPTION"],
    ["NaN budget", { maxBytes: NaN }, "EINVAL_OPTION"],
    ["negative reserve", { reserveBytes: -4096 }, "EINVAL_OPTION"],
    ["infinite reserve", { reserveBytes: Infinity }, "EINVAL_OPTION"],
    ["unknown backend", { backend: "disk" }, "EINVAL_OPTION"],
    ["unknown refill policy", { refill: "fastest" }, "EINVAL_OPTION"],
    ["unknown pfmemalloc policy", { pfmemalloc: "allow" }, "EINVAL_OPTION"],
    [
      "refill policy without plan()",
      { refill: { name: "x" } },
      "EINVAL_OPTION",
    ],
    ["align 3", { align: 3 }, "EINVAL_ALIGN"],
    ["align larger than a page", { align: 8192 }, "EINVAL_ALIGN"],
    ["align 0", { align: 0 }, "EINVAL_ALIGN"],
    [
      "align policy with bad align",
      { align: { name: "x", align: 6 } },
      "EINVAL_ALIGN",
    ],
    ["budget given with a backend instance", {
      backend: new HeapBackend(),
      maxBytes: 1,
    }, "EINVAL_OPTION"],
    ["pageSize disagreeing with the backend", {
      backend: new HeapBackend(),
      pageSize: 8192,
    }, "EINVAL_OPTION"],
  ];
  for (const [label, options, code] of bad) {
    it(`${label} → ${code}`, () => {
      throwsCode(() => createPageFragCache(options as PageFragOptions), code);
    });
  }

  it('backend "shared" and "wasm" build those backends from the options', () => {
    const shared = createPageFragCache({
      backend: "shared",
      maxBytes: 1 << 20,
    });
    assert.ok(shared.backend instanceof SharedBackend);
    assert.equal(shared.backend.stats().bytesTotal, 1 << 20);
    const wasm = createPageFragCache({ backend: "wasm", pageSize: 8192 });
    assert.ok(wasm.backend instanceof WasmBackend);
    assert.equal(wasm.backend.pageSize, 8192);
  });

  it("defaults: 4096-byte pages, maxOrder 3, unlimited budget, no reserve, no alignment", () => {
    const cache = createPageFragCache();
    assert.equal(cache.backend.pageSize, 4096);
    assert.equal(cache.backend.maxOrder, 3);
    assert.equal(cache.backend.stats().bytesTotal, Infinity);
    const a = cache.allocHandle(3)!;
    assert.equal(cache.allocHandle(3), a + 3);
  });

  it("a numeric align becomes the default alignment; per-call align overrides it", () => {
    const cache = createPageFragCache({ align: 256 });
    cache.allocHandle(1);
    assert.equal(cache.allocHandle(1)! % 256, 0);
    const a = cache.allocHandle(1, { align: 1 })!;
    assert.equal(cache.allocHandle(1, { align: 1 }), a + 1);
  });

  it("an alignment policy with alignFor() is asked per size", () => {
    const seen: number[] = [];
    const policy: AlignmentPolicy = {
      name: "by-size",
      align: 1,
      alignFor: (size) => {
        seen.push(size);
        return size >= 100 ? 128 : 1;
      },
    };
    const cache = createPageFragCache({ align: policy });
    cache.allocHandle(5);
    assert.equal(cache.allocHandle(100)! % 128, 0);
    assert.deepEqual(seen, [5, 100]);
    const bad = createPageFragCache({
      align: { name: "broken", align: 1, alignFor: () => 3 },
    });
    throwsCode(() => bad.allocHandle(1), "EINVAL_ALIGN");
    assert.equal(bad.stats().allocs, 0);
  });

  it("fixedAlignment rejects a non-power of two", () => {
    throwsCode(() => fixedAlignment(12), "EINVAL_ALIGN");
  });

  it("larger pages and orders change the largest fragment", () => {
    const cache = createPageFragCache({ pageSize: 16384, maxOrder: 1 });
    assert.notEqual(cache.allocHandle(32768), null);
    throwsCode(() => cache.allocHandle(32769), "EINVAL_SIZE");
  });
});

describe("zeroing", () => {
  it("fragments of a recycled page keep old bytes unless zero is asked for", () => {
    const cache = createPageFragCache({ maxOrder: 0 });
    const a = cache.alloc(4096)!;
    a.fill(0xaa);
    cache.free(a);
    const dirty = cache.alloc(100)!; // recycled in place
    assert.equal(cache.stats().recycles, 1);
    assert.equal(dirty[0], 0xaa, "old bytes, like Buffer.allocUnsafe");
    const clean = cache.alloc(100, { zero: true })!;
    assert.ok(clean.every((b) => b === 0));
    const addr = cache.allocHandle(100, { zero: true })!;
    assert.ok(cache.backend.view(addr, 100).every((b) => b === 0));
  });

  it("zero: true on the cache clears every alloc/allocHandle; zero: false per call opts out", () => {
    const cache = createPageFragCache({ maxOrder: 0, zero: true });
    assert.equal(cache.zero, true);
    const a = cache.alloc(4096)!;
    a.fill(0x55);
    cache.free(a);
    assert.ok(cache.alloc(300)!.every((b) => b === 0));
    const h = cache.allocHandle(300)!;
    assert.ok(cache.backend.view(h, 300).every((b) => b === 0));
    const raw = cache.alloc(300, { zero: false })!;
    assert.equal(raw[0], 0x55);
    throwsCode(
      () => createPageFragCache({ zero: 1 as never }),
      "EINVAL_OPTION",
    );
  });

  it("a view never reaches outside its fragment", () => {
    const cache = createPageFragCache();
    const a = cache.alloc(10)!;
    const b = cache.alloc(10)!;
    assert.equal(a.length, 10);
    a.fill(1, 0, 100); // fill clamps to the view
    assert.ok(b.every((x) => x === 0));
  });
});
