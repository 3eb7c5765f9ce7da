/**
 * The leak-detection scenarios that need a forced garbage collection. They
 * run in the test process when it can collect on demand (`gc` exposed, or
 * `Bun.gc`), else in a child process of the same runtime started with
 * `--expose-gc` (see `test/leaks_test.ts` and `test/workers/leak_child.ts`).
 */
import { createPageFragCache, type PageFragOptions } from "../mod.ts";
import { instrumentationOf, type LeakReport } from "../debug/mod.ts";

/** What the scenarios found, as plain data (it crosses a process boundary). */
export interface LeakScenarioResult {
  /** Leaks reported with the sanitizer's sites, sorted by size. */
  withSites: {
    size: number;
    address: number;
    site: string | undefined;
    leaks: number;
  }[];
  /** Leaks reported without the sanitizer (no sites). */
  withoutSites: { size: number; site: string | undefined }[];
  /** Leaks reported at level "sampled" (interval 4) out of 40 dropped views. */
  sampled: number;
  /** Views tracked at "sampled" out of 40. */
  sampledRegistered: number;
  /** Views still tracked after the collections (the ones kept alive). */
  stillTracked: number;
  /** Collections it took. */
  collections: number;
}

/** A function that forces a full garbage collection. */
export type ForceGc = () => void;

/** The forced-GC function of this runtime, if it has one. */
export function findGc(): ForceGc | undefined {
  const g = globalThis as {
    gc?: () => void;
    Bun?: { gc(force: boolean): void };
  };
  if (typeof g.Bun?.gc === "function") return () => g.Bun!.gc(true);
  if (typeof g.gc === "function") return () => g.gc!();
  return undefined;
}

/** Allocate in a frame of its own, so nothing on the caller's stack refers to the views. */
function allocateAndDrop(
  options: PageFragOptions,
  reports: LeakReport[],
  keep: Uint8Array[],
) {
  const ld = options.leakDetection;
  const cache = createPageFragCache({
    ...options,
    leakDetection: {
      ...(typeof ld === "string" ? { level: ld } : ld),
      onLeak: (r) => reports.push(r),
    },
  });
  const dropper = () => {
    // Leaked: allocated and dropped, never freed. Sizes 100..109.
    for (let i = 0; i < 10; i++) cache.alloc(100 + i);
    // Not leaks: freed in every way there is.
    for (let i = 0; i < 5; i++) cache.free(cache.alloc(50)!);
    for (let i = 0; i < 5; i++) {
      const v = cache.alloc(51)!;
      cache.backend.free(cache.backend.addressOf(v));
    }
    const last = cache.alloc(52)!;
    cache.abort(last);
    // Not leaks: kept alive by the caller.
    for (let i = 0; i < 5; i++) keep.push(cache.alloc(70)!);
  };
  dropper();
  return cache;
}

async function collect(gc: ForceGc, until: () => boolean): Promise<number> {
  let n = 0;
  for (; n < 40 && !until(); n++) {
    gc();
    await new Promise((r) => setTimeout(r, 5));
  }
  return n;
}

export async function leakScenario(gc: ForceGc): Promise<LeakScenarioResult> {
  const keep: Uint8Array[] = [];
  const withSites: LeakReport[] = [];
  const withoutSites: LeakReport[] = [];
  const sampled: LeakReport[] = [];
  const a = allocateAndDrop(
    { sanitize: true, leakDetection: "all" },
    withSites,
    keep,
  );
  allocateAndDrop({ leakDetection: "all" }, withoutSites, keep);
  const s = allocateAndDrop(
    { leakDetection: { level: "sampled", sampleInterval: 4 } },
    sampled,
    keep,
  );
  // 30 more dropped views at "sampled" (40 in all, with the 10 above).
  (() => {
    for (let i = 0; i < 30; i++) s.alloc(200);
  })();
  const registered = instrumentationOf(s)!.leaks!.stats().registered;
  const collections = await collect(
    gc,
    () => withSites.length >= 10 && withoutSites.length >= 10,
  );
  // Give the sampled detector a few more rounds.
  await collect(gc, () => sampled.length >= 10);
  const stillTracked = instrumentationOf(a)!.leaks!.stats().tracked;
  keep.length = 0; // (kept until here)
  return {
    withSites: withSites
      .map((r) => ({
        size: r.size,
        address: r.address,
        site: r.allocatedAt,
        leaks: r.leaks,
      }))
      .sort((x, y) => x.size - y.size),
    withoutSites: withoutSites.map((r) => ({
      size: r.size,
      site: r.allocatedAt,
    }))
      .sort((x, y) => x.size - y.size),
    sampled: sampled.length,
    sampledRegistered: registered,
    stillTracked,
    collections,
  };
}
