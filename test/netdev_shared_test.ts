import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createNetdevCache, shareNetdevCache } from "../mod.ts";
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
