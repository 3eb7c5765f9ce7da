import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  attachNetdevCache,
  createNetdevCache,
  shareNetdevCache,
} from "../mod.ts";
import { DEATHS, detachAndReuse, netdevDeath } from "./workers/faults.ts";
import { runStress } from "../bench/stress.ts";
import { runWorkers } from "./worker_util.ts";
import type {
  NetdevWorkerData,
  NetdevWorkerResult,
} from "./workers/netdev_worker.ts";
import { throwsCode } from "./contract.ts";

for (const backend of ["shared", "wasm"] as const) {
  describe(`one netdev cache shared by two workers (${backend} backend)`, () => {
    it("concurrent allocation for a few seconds: no overlap, no lost page", async () => {
      const netdev = createNetdevCache({
        backend,
        pageSize: 4096,
        maxOrder: 3,
        maxBytes: 8 << 20,
      });
      assert.notEqual(
        netdev.sharedState,
        undefined,
        "state lives in shared memory",
      );
      const descriptor = shareNetdevCache(netdev);
      const ctl = new SharedArrayBuffer(8);
      const url = new URL("./workers/netdev_worker.ts", import.meta.url);
      const results = await runWorkers<NetdevWorkerResult>(
        url,
        [0, 1].map((id): NetdevWorkerData => ({
          descriptor,
          ctl,
          id,
          ms: 1500,
        })),
      );
      for (const r of results) {
        assert.equal(r.corrupt, 0, "a fragment was handed out twice");
        assert.equal(r.nulls, 0);
        assert.ok(r.allocs > 1000, `only ${r.allocs} allocations`);
      }
      // The counters are the cache's, shared: they saw both workers.
      const total = results[0].allocs + results[1].allocs;
      assert.equal(netdev.stats().allocs, total);
      netdev.drain();
      const s = netdev.backend.stats();
      assert.equal(s.bytesInUse, 0, "every page went back");
      assert.equal(s.pagesAllocated, s.pagesFreed);
    });
  });
}

describe("netdev sharing errors", () => {
  it("a heap-backed netdev cache cannot be shared; junk descriptors are refused", async () => {
    const { attachNetdevCache } = await import("../mod.ts");
    throwsCode(() => shareNetdevCache(createNetdevCache()), "EINVAL_OPTION");
    throwsCode(() => attachNetdevCache({} as never), "EINVAL_OPTION");
  });
});

for (const backend of ["shared", "wasm"] as const) {
  describe(`a worker dies holding a shared netdev cache (${backend})`, () => {
    for (const death of DEATHS) {
      it(`H1/H2: inside locked(), by ${death}: the survivor's wait is bounded and names it; recover() frees everything`, async () => {
        await netdevDeath(backend, "locked", death);
      });
      it(`H3: inside a refill policy during allocHandle, by ${death}`, async () => {
        await netdevDeath(backend, "refill", death);
      });
    }
  });

  describe(`one thread, two handles of one shared netdev cache (${backend})`, () => {
    it("H4: a second handle inside locked() of the first is re-entry, not a wait on itself", () => {
      const nd = createNetdevCache({ backend, lockTimeoutMs: 200 });
      const t0 = performance.now();
      const addr = nd.locked(() =>
        attachNetdevCache(shareNetdevCache(nd)).allocHandle(64)
      );
      assert.equal(typeof addr, "number", "the inner call returned");
      assert.ok(performance.now() - t0 < 150, "without waiting");
      // A cloned descriptor (another SharedArrayBuffer object) too.
      const other = attachNetdevCache(structuredClone(shareNetdevCache(nd)));
      const b = nd.locked(() => other.allocHandle(64));
      assert.equal(b, addr! + 64, "the same cache");
      assert.equal(nd.lockHolder(), 0, "released after both");
      nd.free(addr!);
      nd.free(b!);
    });

    it("F1: a prepare belongs to its handle; commit through another, or after another allocated, is ESTATE with nothing changed", () => {
      const a = createNetdevCache({ backend });
      const b = attachNetdevCache(shareNetdevCache(a));
      const p = a.prepare(100)!;
      const at = p.addr;
      const before = a.stats();
      throwsCode(() => b.commit(100), "ESTATE");
      throwsCode(() => b.commitNoref(10), "ESTATE");
      assert.deepEqual(a.stats(), before, "nothing changed");
      assert.equal(a.commit(100), at, "the owner still commits");
      a.prepare(50);
      const other = b.allocHandle(10)!; // another handle allocated meanwhile
      throwsCode(() => a.commit(50), "ESTATE");
      b.prepare(50);
      throwsCode(() => a.commit(50), "ESTATE"); // b's prepare is not a's
      const c = b.commit(50);
      assert.equal(c, other + 10, "b's own prepare commits where it said");
      throwsCode(() => a.abort(c), "ESTATE"); // the latest is b's
      b.abort(c);
      a.free(at);
      a.free(other);
      a.drain();
      assert.equal(a.backend.stats().bytesInUse, 0);
    });

    it("F4: zero means zero through every handle; it cannot be turned off through one", () => {
      const z = createNetdevCache({ backend, zero: true, maxOrder: 0 });
      const d = shareNetdevCache(z);
      assert.equal(d.zero, true, "the descriptor records it");
      const dirty = z.allocHandle(4000)!;
      z.backend.view(dirty, 4000).fill(0xee);
      z.free(dirty);
      z.drain(); // the page recycles with old bytes in it
      const h = attachNetdevCache({ ...d, zero: false }); // an edited descriptor
      assert.equal(h.zero, true, "the shared state wins");
      const a = h.allocHandle(4000)!;
      assert.ok(h.backend.view(a, 4000).every((x) => x === 0), "zeroed");
      throwsCode(() => attachNetdevCache(d, { zero: false }), "EINVAL_OPTION");
      h.free(a);
      // { zero: true } on a cache that does not zero turns it on for all.
      const n = createNetdevCache({ backend });
      const m = attachNetdevCache(shareNetdevCache(n), { zero: true });
      assert.equal(m.zero, true);
      const old = n.allocHandle(100)!;
      assert.equal(
        n.zero,
        true,
        "for every handle (from its next call): pages recycle between them",
      );
      n.free(old);
      n.zero = false; // cannot be turned off
      n.free(n.allocHandle(10)!);
      assert.equal(n.zero, true, "back on at the next call");
      throwsCode(
        () => attachNetdevCache(shareNetdevCache(n), { zero: "yes" } as never),
        "EINVAL_OPTION",
      );
    });

    it("a descriptor mixing two caches is refused (EINVAL_OPTION), and the arena stays as it was", () => {
      const n1 = createNetdevCache({ backend });
      const n2 = createNetdevCache({ backend });
      const live = n2.allocHandle(64)!;
      const d1 = shareNetdevCache(n1);
      const d2 = shareNetdevCache(n2);
      throwsCode(
        () => attachNetdevCache({ ...d1, backend: d2.backend }),
        "EINVAL_OPTION",
      );
      throwsCode(
        () =>
          attachNetdevCache({ ...d1, state: d2.state, backend: d1.backend }),
        "EINVAL_OPTION",
      );
      assert.equal(n2.allocHandle(64), live + 64, "n2 untouched");
      throwsCode(
        () => attachNetdevCache(d1, { backend: "heap" } as never),
        "EINVAL_OPTION",
      );
    });
  });
}

describe("shared netdev cache: detach", () => {
  for (const backend of ["shared", "wasm"] as const) {
    it(`a worker that detach()es frees its attachment for the next (${backend})`, async () => {
      await detachAndReuse(backend);
    });
  }
});

describe("fault stress, short (bench/stress.ts runs it for 60 s)", () => {
  it("3 workers, one arena, one shared netdev cache, random kills and re-attach: no corruption, no hang, nothing lost", async () => {
    const r = await runStress({
      seconds: 4,
      backend: "shared",
      killEvery: [100, 400],
      seed: 7,
    });
    assert.deepEqual(r.errors, [], "no worker failed");
    assert.equal(r.corrupt, 0, "every byte checked");
    assert.equal(r.hangs, 0, "nothing hung");
    assert.ok(r.kills >= 1, "workers were killed");
    assert.ok(r.ops > 10_000, `only ${r.ops} operations`);
    // What a terminate() can still take (docs/hardening.md, "what cannot
    // be recovered"): the fragment a worker was freeing (its ledger says
    // so), or a page caught in the instant around the atomic operation
    // that changes its count: at most one page per kill.
    assert.ok(
      r.lostPages <= r.uncertain + r.terminated,
      `${r.lostPages} pages lost in ${r.terminated} terminations`,
    );
  });
});
