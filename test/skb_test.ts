import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createNapiCache, createNetdevCache } from "../mod.ts";
import {
  MAX_SKB_FRAGS,
  napiAllocSkb,
  NET_SKB_PAD,
  netdevAllocSkb,
  SKB_SMALL_HEAD,
  skbCanCoalesce,
  skbFillPageDesc,
  skbFragSizeAdd,
} from "../net/skb.ts";
import { throwsCode } from "./contract.ts";

describe("skb allocators", () => {
  it("the head holds headroom + len bytes, from the matching frag cache", () => {
    const netdev = createNetdevCache();
    const skb = netdevAllocSkb(1000, { cache: netdev })!;
    assert.equal(skb.headroom, NET_SKB_PAD);
    assert.equal(skb.len, 1000);
    assert.equal(skb.head.length, 1000 + NET_SKB_PAD);
    assert.equal(skb.data.length, 1000);
    assert.equal(skb.data.byteOffset, skb.head.byteOffset + NET_SKB_PAD);
    assert.notEqual(skb.headAddr, 0, "a fragment");
    assert.equal(netdev.stats().allocs, 1);
    const napi = createNapiCache();
    const rx = napi.poll(() =>
      napiAllocSkb(700, { cache: napi, headroom: 32 })
    )!;
    assert.equal(rx.headroom, 32);
    assert.equal(napi.stats().allocs, 1);
    skb.free();
    rx.free();
    netdev.drain();
    napi.drain();
    assert.equal(netdev.backend.stats().bytesInUse, 0);
    assert.equal(napi.backend.stats().bytesInUse, 0);
  });

  it("very small and larger-than-a-page heads use a plain allocation", () => {
    const netdev = createNetdevCache();
    const tiny = netdevAllocSkb(SKB_SMALL_HEAD - NET_SKB_PAD, {
      cache: netdev,
    })!;
    const big = netdevAllocSkb(5000, { cache: netdev })!;
    assert.equal(tiny.headAddr, 0);
    assert.equal(big.headAddr, 0);
    assert.equal(big.len, 5000);
    assert.equal(netdev.stats().allocs, 0);
    const just = netdevAllocSkb(SKB_SMALL_HEAD - NET_SKB_PAD + 1, {
      cache: netdev,
    })!;
    assert.notEqual(just.headAddr, 0);
    for (const s of [tiny, big, just]) s.free();
  });

  it("napiAllocSkb needs the poll scope", () => {
    const napi = createNapiCache();
    throwsCode(() => napiAllocSkb(1000, { cache: napi }), "ECONTEXT");
    throwsCode(() => napiAllocSkb(10, { cache: napi }), "ECONTEXT"); // plain head too
    throwsCode(() => napiAllocSkb(9000, { cache: napi }), "ECONTEXT");
  });

  it("pfmemalloc propagates from the cache's reserve page", () => {
    const netdev = createNetdevCache({
      maxBytes: 0,
      reserveBytes: 4096,
      refill: "order0",
    });
    assert.equal(
      netdevAllocSkb(1000, { cache: netdev }),
      null,
      "no budget without memalloc",
    );
    const skb = netdevAllocSkb(1000, { cache: netdev, memalloc: true })!;
    assert.equal(skb.pfmemalloc, true);
    skb.free();
    const normal = createNetdevCache();
    const n = netdevAllocSkb(1000, { cache: normal })!;
    assert.equal(n.pfmemalloc, false);
    // A frag from a reserve page marks the skb too.
    const addr = netdev.allocHandle(100, { memalloc: true })!;
    const page = netdev.backend.pageOf(addr);
    const carrier = netdevAllocSkb(0, { cache: netdev })!;
    assert.equal(carrier.pfmemalloc, false);
    skbFillPageDesc(carrier, 0, page, addr - page, 100);
    assert.equal(carrier.pfmemalloc, true);
    carrier.free();
    n.free();
  });

  it("coalescing merges adjacent frags; free() returns every page", () => {
    const cache = createNetdevCache({ pageSize: 4096, maxOrder: 0 });
    const skb = netdevAllocSkb(0, { cache })!;
    let i = 0;
    let merged = 0;
    let total = 0;
    for (let n = 0; n < 40; n++) {
      const p = cache.prepare(32)!;
      const page = cache.backend.pageOf(p.addr);
      const offset = p.addr - page;
      const copy = Math.min(p.size, 300);
      total += copy;
      if (skbCanCoalesce(skb, i, page, offset)) {
        skbFragSizeAdd(skb.frags[i - 1], copy);
        cache.commitNoref(copy);
        merged++;
      } else {
        skbFillPageDesc(skb, i++, page, offset, copy);
        cache.commit(copy);
      }
    }
    assert.equal(skb.dataLen, total, "every copied byte is in a frag");
    assert.ok(merged > 30, `merged ${merged}`);
    assert.ok(skb.frags.length <= 4, "one frag per page, ~13 writes each");
    for (let k = 1; k < skb.frags.length; k++) {
      assert.notEqual(skb.frags[k].page, skb.frags[k - 1].page);
    }
    cache.drain();
    skb.free();
    assert.equal(cache.backend.stats().bytesInUse, 0);
    throwsCode(() => skb.free(), "EDOUBLEFREE");
  });

  it("bad lengths, slots and pages are errors", () => {
    const cache = createNetdevCache();
    throwsCode(() => netdevAllocSkb(-1, { cache }), "EINVAL_SIZE");
    throwsCode(() => netdevAllocSkb(1.5, { cache }), "EINVAL_SIZE");
    throwsCode(
      () => netdevAllocSkb(10, { cache, headroom: -1 }),
      "EINVAL_SIZE",
    );
    const skb = netdevAllocSkb(0, { cache })!;
    const a = cache.allocHandle(10)!;
    const page = cache.backend.pageOf(a);
    throwsCode(() => skbFillPageDesc(skb, 1, page, 0, 10), "ESTATE");
    throwsCode(() => skbFillPageDesc(skb, 0, page + 1, 0, 10), "EFOREIGN");
    for (let k = 0; k < MAX_SKB_FRAGS; k++) {
      skbFillPageDesc(skb, k, page, 0, 1);
    }
    throwsCode(() => skbFillPageDesc(skb, MAX_SKB_FRAGS, page, 0, 1), "ESTATE");
  });
});
