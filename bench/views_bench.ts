/**
 * Recycled views against the engine's buffers, in one mitata run: a view
 * `alloc(256)+free` on the heap backend next to `new Uint8Array(256)`,
 * `Buffer.allocUnsafe(256)` and the address form `allocHandle(256)+free`.
 *
 * Every body is warmed up (200,000 calls) before mitata sees it, so mitata's
 * first call is fast and it batches as it does for a warmed process. mitata
 * reports the JS heap per call on V8 (`used_heap_size + malloced_memory`
 * around each batch) and on Bun (`bun:jsc` `memoryUsage().current`, which
 * misses most small allocations). After the report a summary prints the
 * ratios issue 11 sets targets for, and the heap backend's view hits and
 * misses and buffers made.
 *
 * ```sh
 * deno run -A bench/views_bench.ts
 * npx bun bench/views_bench.ts
 * npx tsx bench/views_bench.ts
 * ```
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { bench, do_not_optimize, run } from "mitata";
import { createPageFragCache } from "../mod.ts";

const N = 256;
const viewCache = createPageFragCache();
const handleCache = createPageFragCache();

const bodies: Record<string, () => unknown> = {
  "new Uint8Array(256)": () => do_not_optimize(new Uint8Array(N)),
  "Buffer.allocUnsafe(256)": () => do_not_optimize(Buffer.allocUnsafe(N)),
  "alloc(256)+free": () => {
    const v = viewCache.alloc(N)!;
    viewCache.free(v);
    return do_not_optimize(v);
  },
  "allocHandle(256)+free": () => {
    const a = handleCache.allocHandle(N)!;
    handleCache.free(a);
    return do_not_optimize(a);
  },
};

// Warm up outside mitata: its first call then takes well under 0.5 ms.
for (const fn of Object.values(bodies)) {
  for (let i = 0; i < 200_000; i++) fn();
}
for (const [name, fn] of Object.entries(bodies)) bench(name, fn);

const result = await run();

// Ratios from the medians (p50) and from the means: on a busy machine the
// mean carries other processes' time, the median much less.
const p50 = new Map<string, number>();
const avg = new Map<string, number>();
const heap = new Map<string, number | undefined>();
for (const b of result.benchmarks) {
  const stats = b.runs[0]?.stats;
  if (stats === undefined) continue;
  p50.set(b.alias, stats.p50);
  avg.set(b.alias, stats.avg);
  heap.set(b.alias, stats.heap?.avg);
}
const VIEW = "alloc(256)+free";
const both = (over: string, under: string) =>
  `p50 ${(p50.get(over)! / p50.get(under)!).toFixed(2)}x, avg ${
    (avg.get(over)! / avg.get(under)!).toFixed(2)
  }x`;
const s = viewCache.backend.stats();
const runtime = "Bun" in globalThis
  ? "bun"
  : "Deno" in globalThis
  ? "deno"
  : "node";
console.log(`\n== ${runtime}: view alloc(256)+free against the others ==`);
for (const name of Object.keys(bodies)) {
  console.log(
    `${name.padEnd(24)} p50 ${p50.get(name)!.toFixed(1).padStart(7)} ns` +
      `  avg ${avg.get(name)!.toFixed(1).padStart(7)} ns`,
  );
}
console.log(
  `Buffer.allocUnsafe(256) / view: ${
    both("Buffer.allocUnsafe(256)", VIEW)
  } (target >= 3)`,
);
console.log(
  `new Uint8Array(256) / view:     ${both("new Uint8Array(256)", VIEW)}`,
);
console.log(
  `view / allocHandle+free:        ${
    both(VIEW, "allocHandle(256)+free")
  } (target <= 1.5)`,
);
const h = heap.get(VIEW);
console.log(
  `heap per view alloc+free:       ${
    h === undefined ? "n/a" : `${h.toFixed(1)} bytes`
  } (target < 8, V8's figure)`,
);
console.log(
  `backend: viewHits ${s.viewHits}, viewMisses ${s.viewMisses}, ` +
    `buffersCreated ${s.buffersCreated}, pagesAllocated ${s.pagesAllocated}`,
);
