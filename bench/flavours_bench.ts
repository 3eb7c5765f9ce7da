/**
 * What the netdev flavour's protection costs against napi: alloc + free of
 * 256 bytes, in the view form (`alloc`) and the address form (`allocHandle`),
 * on four caches over the same kind of heap backend:
 *
 * - `plain`: a bare {@linkcode PageFragCache}, no protection at all;
 * - `napi`: a {@linkcode NapiFragCache}, the baseline. Its protection is the
 *   poll scope: one `poll()` entry, then only a depth check per call;
 * - `netdev (private)`: a {@linkcode NetdevFragCache} with private state: a
 *   re-entry depth counter around every call, no lock;
 * - `netdev (shared)`: a `NetdevFragCache` whose state lives in a
 *   `SharedArrayBuffer`: every call also takes and releases an `Atomics`
 *   lock (uncontended here: one thread), and the cache's state words are
 *   read and written in shared memory.
 *
 * How napi is measured. `poll(fn)` is synchronous and mitata measures
 * asynchronously, so one poll cannot enclose the whole measurement. Instead
 * every contender runs the same body: a batch of 64 (the kernel's NAPI poll
 * weight) alloc + free pairs per benchmark call. The napi contender enters
 * its poll scope once per batch, exactly as a driver's poll handles up to 64
 * packets per softirq, so its per-allocation cost includes 1/64 of a
 * `poll()` entry (a try/finally and a call: well under a nanosecond per
 * allocation). The figures are the medians of mitata's samples divided by
 * 64 (`compareCaches` in `bench/harness.ts`).
 *
 * Every contender has a loop compiled for it alone (`bench/bodies.ts`), so
 * each call site sees one cache class only, and every result goes through
 * `do_not_optimize`. Every loop frees what it allocates, so each cache
 * recycles one page in place throughout.
 *
 * Reading the numbers: an address-form pair takes 5-20 ns, so JIT decisions
 * move it by tens of percent between runs and runtimes (tier-up timing,
 * inlining; the four flavours share the cache core's methods, so the engine
 * compiles them having seen all four classes, as in a program that uses both
 * flavours). `plain`, `napi` and `netdev (private)` are usually within that
 * noise of one another (on Bun `napi` has measured faster than `plain`); the
 * shared netdev's `Atomics` lock is the cost that stands out. The view form
 * adds a `Uint8Array` per allocation, which dominates it and dilutes every
 * ratio there.
 *
 * ```sh
 * deno run -A bench/flavours_bench.ts
 * npx bun bench/flavours_bench.ts
 * node --import tsx bench/flavours_bench.ts
 * ```
 *
 * `--quick` (or `PAGEFRAG_QUICK=1`) measures each benchmark for 20 ms
 * instead of 500.
 *
 * @module
 */
import process from "node:process";
import {
  HeapBackend,
  kernelPfmemalloc,
  kernelRefill,
  NapiFragCache,
  NetdevFragCache,
  noAlignment,
  PageFragCache,
} from "../mod.ts";
import { compareCaches } from "./harness.ts";

const parts = () =>
  [new HeapBackend(), noAlignment, kernelRefill, kernelPfmemalloc] as const;
const shared = new NetdevFragCache(
  ...parts(),
  new SharedArrayBuffer(NetdevFragCache.stateBytes),
);
if (shared.sharedState === undefined) {
  throw new Error("the shared netdev cache should use the Atomics lock path");
}
await compareCaches(
  "napi vs netdev",
  {
    "plain": new PageFragCache(...parts()),
    "napi": new NapiFragCache(...parts()),
    "netdev (private)": new NetdevFragCache(...parts()),
    "netdev (shared)": shared,
  },
  "napi",
  process.argv.slice(2),
);
