/**
 * The hot loops of the suite that call into pagefrag: the allocation
 * benchmark's bodies (one alloc + free per call, per flavour and form) and
 * the churn loops (view and address form).
 *
 * The suite loads this module, with the library, once per backend from a
 * private copy (`bench/isolate.ts`), so that each backend's benchmarks run
 * code the engine compiled for that backend alone, as in a program that uses
 * one backend. Import only the library (`../mod.ts`) and mitata here.
 *
 * @module
 */
import { do_not_optimize } from "mitata";
import type { NapiFragCache, NetdevFragCache } from "../mod.ts";

function oom(): never {
  throw new Error("out of memory");
}

// ------------------------------------------ allocation benchmark bodies
// One function literal per (flavour, form), so that each call site sees one
// cache class. Each call is `batch` alloc + free pairs; napi enters its poll
// scope once per call, as a driver's poll handles up to 64 packets (the
// NAPI budget) per softirq.

/** `batch` x (`napi.alloc(n)` + free by view), inside one poll. */
export function napiView(
  napi: NapiFragCache,
  n: number,
  batch: number,
): () => void {
  const body = () => {
    for (let i = 0; i < batch; i++) {
      const frag = napi.alloc(n) ?? oom();
      do_not_optimize(frag);
      napi.free(frag);
    }
  };
  return () => napi.poll(body);
}

/** `batch` x (`napi.allocHandle(n)` + free by address), inside one poll. */
export function napiHandle(
  napi: NapiFragCache,
  n: number,
  batch: number,
): () => void {
  const body = () => {
    for (let i = 0; i < batch; i++) {
      const addr = napi.allocHandle(n) ?? oom();
      do_not_optimize(addr);
      napi.free(addr);
    }
  };
  return () => napi.poll(body);
}

/** `batch` x (`netdev.alloc(n)` + free by view). */
export function netdevView(
  netdev: NetdevFragCache,
  n: number,
  batch: number,
): () => void {
  return () => {
    for (let i = 0; i < batch; i++) {
      const frag = netdev.alloc(n) ?? oom();
      do_not_optimize(frag);
      netdev.free(frag);
    }
  };
}

/** `batch` x (`netdev.allocHandle(n)` + free by address). */
export function netdevHandle(
  netdev: NetdevFragCache,
  n: number,
  batch: number,
): () => void {
  return () => {
    for (let i = 0; i < batch; i++) {
      const addr = netdev.allocHandle(n) ?? oom();
      do_not_optimize(addr);
      netdev.free(addr);
    }
  };
}

// ------------------------------------------------------------ churn loops

/**
 * A churn loop over script indices `[from, to)` (call it inside the napi
 * cache's poll); returns the peak bytes live. `release()` frees every live
 * fragment.
 */
export interface ChurnLoop {
  (from: number, to: number): number;
  release(): void;
}

/** The churn workload's script: which of `live` slots, what size. */
export interface ChurnOps {
  slots: Uint16Array;
  sizes: Uint16Array;
}

/** Views: free the one in the slot (by view), allocate the next. */
export function churnViews(
  ops: ChurnOps,
  live: number,
  napi: NapiFragCache,
): ChurnLoop {
  const frags: (Uint8Array | undefined)[] = new Array(live).fill(undefined);
  let liveBytes = 0;
  const { slots, sizes } = ops;
  const loop = (from: number, to: number): number => {
    let peak = 0;
    for (let i = from; i < to; i++) {
      const s = slots[i];
      const n = sizes[i];
      const old = frags[s];
      if (old !== undefined) {
        liveBytes -= old.length;
        napi.free(old);
      }
      const frag = napi.alloc(n) ?? oom();
      do_not_optimize(frag);
      frags[s] = frag;
      liveBytes += n;
      if (liveBytes > peak) peak = liveBytes;
    }
    return peak;
  };
  return Object.assign(loop, {
    release: () => {
      for (let s = 0; s < live; s++) {
        const old = frags[s];
        if (old !== undefined) napi.free(old);
        frags[s] = undefined;
      }
      liveBytes = 0;
    },
  });
}

/** Addresses: free the one in the slot (by address), allocate the next. */
export function churnHandles(
  ops: ChurnOps,
  live: number,
  napi: NapiFragCache,
): ChurnLoop {
  const addrs = new Int32Array(live);
  const addrSize = new Int32Array(live);
  let liveBytes = 0;
  const { slots, sizes } = ops;
  const loop = (from: number, to: number): number => {
    let peak = 0;
    for (let i = from; i < to; i++) {
      const s = slots[i];
      const n = sizes[i];
      if (addrs[s] !== 0) napi.free(addrs[s]);
      const addr = napi.allocHandle(n) ?? oom();
      do_not_optimize(addr);
      addrs[s] = addr;
      liveBytes += n - addrSize[s];
      addrSize[s] = n;
      if (liveBytes > peak) peak = liveBytes;
    }
    return peak;
  };
  return Object.assign(loop, {
    release: () => {
      for (let s = 0; s < live; s++) {
        if (addrs[s] !== 0) napi.free(addrs[s]);
        addrs[s] = 0;
        addrSize[s] = 0;
      }
      liveBytes = 0;
    },
  });
}
