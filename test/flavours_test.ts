import "reflect-metadata";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { container } from "tsyringe";
import {
  configurePageFrag,
  createNapiCache,
  createNetdevCache,
  defaultNapiCache,
  defaultNetdevCache,
  HeapBackend,
  kernelRefill,
  napiAllocFrag,
  NapiFragCache,
  napiPoll,
  netdevAllocFrag,
  NetdevFragCache,
  order0Refill,
  pageFragFree,
} from "../mod.ts";
import { registerPageFrag, TOKENS } from "../di/mod.ts";
import { snapshot, throwsCode } from "./contract.ts";

describe("napi flavour", () => {
  it("every allocating call outside poll throws ECONTEXT and changes nothing", () => {
    const napi = createNapiCache();
    napi.poll(() => {
      napi.allocHandle(100);
      napi.prepare(10);
    });
    const before = snapshot(napi);
    const calls: [string, () => unknown][] = [
      ["alloc", () => napi.alloc(10)],
      ["allocHandle", () => napi.allocHandle(10)],
      ["allocAlign", () => napi.allocAlign(10, 8)],
      ["prepare", () => napi.prepare(10)],
      ["probe", () => napi.probe(10)],
      ["commit", () => napi.commit(10)],
      ["commitNoref", () => napi.commitNoref(10)],
      ["abort", () => napi.abort(1)],
    ];
    for (const [, call] of calls) throwsCode(call, "ECONTEXT");
    assert.deepEqual(snapshot(napi), before);
    // The prepared bytes are still there for a commit inside the scope.
    const addr = napi.poll(() => napi.commit(10));
    assert.equal(addr, napi.backend.pageOf(addr) + 100);
  });

  it("inside poll allocations succeed; free and drain work anywhere", () => {
    const napi = createNapiCache();
    const frags = napi.poll(() => [napi.alloc(1500)!, napi.alloc(64)!]);
    assert.equal(frags[0].length, 1500);
    for (const f of frags) napi.free(f);
    napi.drain();
    assert.equal(napi.backend.stats().bytesInUse, 0);
  });

  it("polls nest, and the scope ends with the outermost poll, even on a throw", () => {
    const napi = createNapiCache();
    napi.poll(() => {
      napi.poll(() => assert.ok(napi.inPoll()));
      assert.ok(napi.inPoll(), "still inside the outer poll");
      napi.free(napi.allocHandle(8)!);
    });
    assert.equal(napi.inPoll(), false);
    assert.throws(() =>
      napi.poll(() => {
        throw new Error("driver bug");
      }), /driver bug/);
    assert.equal(napi.inPoll(), false);
    throwsCode(() => napi.allocHandle(8), "ECONTEXT");
  });

  it("code after an await inside poll runs outside the scope", async () => {
    const napi = createNapiCache();
    const later = napi.poll(async () => {
      await Promise.resolve();
      return napi.inPoll();
    });
    assert.equal(await later, false);
  });
});

describe("netdev flavour", () => {
  it("allocates from any context, with private state on the heap backend", () => {
    const netdev = createNetdevCache();
    assert.ok(netdev instanceof NetdevFragCache);
    assert.equal(netdev.sharedState, undefined);
    const a = netdev.alloc(100)!;
    const b = netdev.allocHandle(100)!;
    netdev.free(a);
    netdev.free(b);
    netdev.drain();
    assert.equal(netdev.backend.stats().bytesInUse, 0);
  });

  it("errors inside the lock release it (the next call works)", () => {
    const netdev = new NetdevFragCache(
      new HeapBackend(),
      { name: "none", align: 1 },
      kernelRefill,
      { name: "k", mayUseReserve: (m) => m, mayRecycle: (p) => !p },
      new SharedArrayBuffer(NetdevFragCache.stateBytes),
    );
    throwsCode(() => netdev.allocHandle(0), "EINVAL_SIZE");
    throwsCode(() => netdev.commit(5), "ESTATE");
    assert.notEqual(netdev.allocHandle(5), null, "not deadlocked");
    assert.equal(netdev.locked(() => netdev.allocHandle(5)) !== null, true);
  });

  it("re-entrant allocation from inside a refill callback is correct (shared state, lock held)", () => {
    // Assigned once below; the refill policy defined before it needs the binding.
    // deno-lint-ignore prefer-const
    let netdev!: NetdevFragCache;
    let nested = 0;
    const live: [number, number][] = [];
    netdev = new NetdevFragCache(
      new HeapBackend({ pageSize: 4096, maxOrder: 0 }),
      { name: "none", align: 1 },
      {
        name: "reentrant",
        plan(size, min, max) {
          if (size === 999) {
            const a = netdev.allocHandle(100)!; // same worker, lock held
            live.push([a, 100]);
            nested++;
          }
          return order0Refill.plan(size, min, max);
        },
      },
      { name: "k", mayUseReserve: (m) => m, mayRecycle: (p) => !p },
      new SharedArrayBuffer(NetdevFragCache.stateBytes),
    );
    for (let i = 0; i < 100; i++) {
      const size = i % 5 === 0 ? 999 : 700;
      const a = netdev.allocHandle(size)!;
      assert.notEqual(a, null);
      live.push([a, size]);
    }
    assert.ok(nested > 3);
    const sorted = [...live].sort((x, y) => x[0] - y[0]);
    for (let i = 1; i < sorted.length; i++) {
      assert.ok(sorted[i - 1][0] + sorted[i - 1][1] <= sorted[i][0], "overlap");
    }
    for (const [a] of live) netdev.free(a);
    netdev.drain();
    assert.equal(netdev.backend.stats().bytesInUse, 0);
  });

  it("rejects shared state that is too small", () => {
    throwsCode(
      () =>
        new NetdevFragCache(
          new HeapBackend(),
          { name: "none", align: 1 },
          kernelRefill,
          { name: "k", mayUseReserve: (m) => m, mayRecycle: (p) => !p },
          new SharedArrayBuffer(8),
        ),
      "EINVAL_OPTION",
    );
  });
});

describe("flavours through DI and per-worker defaults", () => {
  it("both flavours resolve from a container over the same backend and policies", () => {
    const app = registerPageFrag(container.createChildContainer(), {
      refill: "order0",
    });
    const netdev = app.resolve<NetdevFragCache>(TOKENS.NetdevCache);
    const napi = app.resolve<NapiFragCache>(TOKENS.NapiCache);
    assert.ok(netdev instanceof NetdevFragCache);
    assert.ok(napi instanceof NapiFragCache);
    assert.equal(netdev.backend, napi.backend);
    assert.equal(napi.refillPolicy.name, "order0");
    app.register(TOKENS.RefillPolicy, { useValue: kernelRefill });
    assert.equal(
      app.resolve<NapiFragCache>(TOKENS.NapiCache).refillPolicy,
      kernelRefill,
    );
  });

  it("netdevAllocFrag / napiAllocFrag / napiPoll use this worker's default caches", () => {
    configurePageFrag({ maxBytes: 1 << 20 });
    const a = netdevAllocFrag(300)!;
    assert.equal(defaultNetdevCache().stats().allocs, 1);
    throwsCode(() => napiAllocFrag(300), "ECONTEXT");
    const b = napiPoll(() => napiAllocFrag(300))!;
    assert.equal(defaultNapiCache().stats().allocs, 1);
    assert.equal(defaultNapiCache().backend, defaultNetdevCache().backend);
    pageFragFree(a);
    pageFragFree(b);
  });

  it("configurePageFrag accepts a container and replaces the defaults", () => {
    const backend = new HeapBackend({ maxBytes: 4096 });
    const app = registerPageFrag(container.createChildContainer());
    app.register(TOKENS.Backend, { useValue: backend });
    const old = defaultNetdevCache();
    configurePageFrag(app);
    assert.notEqual(defaultNetdevCache(), old);
    assert.equal(defaultNetdevCache().backend, backend);
    const f = netdevAllocFrag(4000)!;
    assert.equal(netdevAllocFrag(4000), null, "the configured budget applies");
    pageFragFree(f);
    configurePageFrag();
  });
});
