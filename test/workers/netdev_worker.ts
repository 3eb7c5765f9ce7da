/**
 * One of two workers that use the very same netdev cache (state in shared
 * memory, an Atomics lock per call) for `ms` milliseconds: allocate, fill
 * with a pattern unique to (worker, sequence), keep a window of live
 * fragments, and check each pattern before freeing it. Two workers handed
 * overlapping fragments would overwrite each other's patterns.
 */
import { attachNetdevCache, type NetdevCacheDescriptor } from "../../mod.ts";
import { barrier, workerMain } from "../worker_util.ts";
import { prng } from "../../testing/prng.ts";

export interface NetdevWorkerData {
  descriptor: NetdevCacheDescriptor;
  ctl: SharedArrayBuffer;
  id: number;
  ms: number;
}

export interface NetdevWorkerResult {
  allocs: number;
  corrupt: number;
  nulls: number;
}

workerMain((data: NetdevWorkerData): NetdevWorkerResult => {
  const netdev = attachNetdevCache(data.descriptor);
  const backend = netdev.backend;
  const window: [addr: number, size: number, tag: number][] = [];
  let allocs = 0, corrupt = 0, nulls = 0;
  const rand = prng(data.id * 7919 + 1);
  barrier(new Int32Array(data.ctl), 0, 2);
  const end = performance.now() + data.ms;
  while (performance.now() < end) {
    for (let k = 0; k < 256; k++) {
      const size = 1 + Math.floor(rand() * 2000);
      const view = k & 1 ? netdev.alloc(size) : null;
      const addr = view ? backend.addressOf(view) : netdev.allocHandle(size);
      if (addr === null) {
        nulls++;
        continue;
      }
      const tag = (data.id * 131 + allocs) & 255;
      backend.view(addr, size).fill(tag);
      window.push([addr, size, tag]);
      allocs++;
      if (window.length > 64) {
        const [a, s, t] = window.shift()!;
        if (!backend.view(a, s).every((b) => b === t)) corrupt++;
        netdev.free(a);
      }
    }
  }
  for (const [a, s, t] of window) {
    if (!backend.view(a, s).every((b) => b === t)) corrupt++;
    netdev.free(a);
  }
  return { allocs, corrupt, nulls };
});
