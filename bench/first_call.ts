/**
 * What a fresh process pays the first time it uses pagefrag: run as a child
 * process by `bench/suite.ts` (one per runtime, on the runtime that runs the
 * suite), it prints one JSON object and exits.
 *
 * - `--mode=time` (default): the time to import the library, to make the
 *   first cache, and of the first and second `alloc(256)`+`free` (and
 *   `allocHandle`), each timed alone with `performance.now()`.
 * - `--mode=mitata`: the benchmark a user writes first, the obvious way, with
 *   no warm-up (`bench("alloc", () => { const v = c.alloc(256); c.free(v);
 *   return v; })` on a cache nothing has touched), then the same body on a
 *   cache warmed with 100,000 calls, in one mitata `run()`: mitata's
 *   averages of both. `--mode=measure`: the same with mitata's `measure()`
 *   and 50 ms each (the suite's `--quick`): `run()` measures with it, with
 *   the same warm-up rule, so the first call counts the same way.
 *
 * ```sh
 * deno run -A bench/first_call.ts
 * bun bench/first_call.ts --mode=mitata
 * node --import tsx bench/first_call.ts
 * ```
 *
 * @module
 */
import process from "node:process";

const t0 = performance.now();
const lib = await import("../mod.ts");
const importMs = performance.now() - t0;
const mode = process.argv.find((a) => a.startsWith("--mode="))?.slice(7) ??
  "time";

/** Microseconds that `fn` took, once. */
function once(fn: () => void): number {
  const t = performance.now();
  fn();
  return (performance.now() - t) * 1000;
}

if (mode === "time") {
  let c!: ReturnType<typeof lib.createPageFragCache>;
  const createUs = once(() => (c = lib.createPageFragCache()));
  const firstPairUs = once(() => c.free(c.alloc(256)!));
  const secondPairUs = once(() => c.free(c.alloc(256)!));
  const firstHandlePairUs = once(() => c.free(c.allocHandle(256)!));
  const secondCreateUs = once(() => lib.createPageFragCache());
  console.log(JSON.stringify({
    importMs,
    createUs,
    firstPairUs,
    secondPairUs,
    firstHandlePairUs,
    secondCreateUs,
  }));
} else {
  const { bench, measure, run } = await import("mitata");
  const cold = lib.createPageFragCache();
  const coldBody = () => {
    const v = cold.alloc(256)!;
    cold.free(v);
    return v;
  };
  const warm = lib.createPageFragCache();
  const body = () => {
    const v = warm.alloc(256)!;
    warm.free(v);
    return v;
  };
  if (mode === "measure") {
    const opts = { min_cpu_time: 50e6 };
    const coldNs = (await measure(coldBody, opts)).avg;
    for (let i = 0; i < 100_000; i++) body();
    const warmNs = (await measure(body, opts)).avg;
    console.log(JSON.stringify({ coldNs, warmNs }));
  } else {
    bench("alloc", coldBody);
    for (let i = 0; i < 100_000; i++) body();
    bench("alloc (warmed)", body);
    const { benchmarks } = await run({ format: "quiet" });
    const avg = (i: number) => benchmarks[i]?.runs[0]?.stats?.avg ?? NaN;
    console.log(JSON.stringify({ coldNs: avg(0), warmNs: avg(1) }));
  }
}
