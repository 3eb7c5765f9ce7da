// `using` on every runtime: Deno and Bun run the syntax natively, Node 20
// through tsx (esbuild lowers `using` to try/finally calling
// [Symbol.dispose]). Symbol.dispose itself is a runtime global on all three
// (Node has had it since 20.4 / 18.18); the first test checks that without
// polyfilling it, so a runtime without it fails here, not in user code.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  createNapiCache,
  createNetdevCache,
  createPageFragCache,
  HeapBackend,
  SharedBackend,
  WasmBackend,
} from "../mod.ts";

describe("using (explicit resource management)", () => {
  it("Symbol.dispose is a runtime global (no polyfill)", () => {
    assert.equal(typeof Symbol.dispose, "symbol", "Symbol.dispose missing");
    assert.equal(
      typeof createPageFragCache()[Symbol.dispose],
      "function",
      "caches have [Symbol.dispose]",
    );
  });

  it("a cache is destroyed (drained) at the end of its block", () => {
    const backend = new HeapBackend();
    let escaped;
    {
      using cache = createPageFragCache({ backend });
      cache.free(cache.alloc(100)!);
      assert.equal(backend.stats().pagesInUse, 1, "the cache holds its page");
      escaped = cache;
    }
    assert.equal(escaped.isDestroyed(), true, "disposed = destroyed");
    assert.equal(backend.stats().pagesInUse, 0, "the page went back");
    assert.throws(() => escaped.alloc(1), { code: "ESTATE" });
  });

  it("a fragment outlives its disposed cache and frees as usual", () => {
    const backend = new HeapBackend();
    let frag: Uint8Array<ArrayBuffer>;
    {
      using cache = createPageFragCache({ backend });
      frag = cache.alloc(64)!;
      frag.fill(7);
    }
    assert.equal(frag[63], 7, "the bytes are intact");
    assert.equal(backend.stats().pagesInUse, 1, "the fragment pins its page");
    backend.free(backend.addressOf(frag));
    assert.equal(backend.stats().pagesInUse, 0, "and frees it");
  });

  it("netdev and napi caches dispose too", () => {
    const backend = new HeapBackend();
    let netdevRef, napiRef;
    {
      using netdev = createNetdevCache({ backend });
      using napi = createNapiCache({ backend });
      netdev.free(netdev.alloc(10)!);
      napi.poll(() => napi.free(napi.alloc(10)!));
      netdevRef = netdev;
      napiRef = napi;
    }
    assert.ok(netdevRef.isDestroyed() && napiRef.isDestroyed(), "both retired");
    assert.equal(backend.stats().pagesInUse, 0, "both pages went back");
  });

  for (
    const [name, make] of [
      ["heap", () => new HeapBackend({ maxBytes: 1 << 20 })],
      ["shared", () => new SharedBackend({ maxBytes: 1 << 20 })],
      ["wasm", () => new WasmBackend({ maxBytes: 1 << 20 })],
    ] as const
  ) {
    it(`a ${name} backend refuses pages once disposed, frees still work`, () => {
      let page = 0;
      let escaped;
      {
        using backend = make();
        using cache = createPageFragCache({ backend });
        page = backend.allocPage(0, false);
        cache.free(cache.alloc(8)!);
        escaped = backend;
      } // disposal runs in reverse: the cache (drain), then the backend
      assert.equal(escaped.stats().pagesInUse, 1, "only the raw page is live");
      assert.throws(() => escaped.allocPage(0, false), { code: "ESTATE" });
      escaped.free(page);
      assert.equal(escaped.stats().pagesInUse, 0, "the free went through");
      escaped[Symbol.dispose](); // twice is harmless
    });
  }
});
