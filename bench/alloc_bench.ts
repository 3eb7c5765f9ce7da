/**
 * Allocation benchmark: what a short-lived byte buffer costs with pagefrag,
 * with the engine, and at the floor of what any refcounted page allocator
 * could cost.
 *
 * For 64, 256, 1500 and 2048 bytes, one mitata `summary` group each:
 *
 * - `new Uint8Array(n)`: the baseline, a fresh zeroed buffer;
 * - `alloc(n)+free`: pagefrag's view form;
 * - `allocHandle(n)+free`: pagefrag's address form (no JS object);
 * - `handle floor(n)` and `view floor(n)`: the least work any refcounted page
 *   allocator can do, without and with a view (see `bench/floors.ts`).
 *
 * Every loop frees what it allocates, so pages recycle, and every result is
 * consumed with `do_not_optimize`. pagefrag does not zero recycled bytes
 * (like `Buffer.allocUnsafe`); `new Uint8Array` does.
 *
 * Then the "hot path allocates nothing" proof: heap growth per operation over
 * 10 million `allocHandle(256)+free` after warm-up, against the same loop doing
 * `new Uint8Array(1)` (and `alloc(256)+free`, whose only allocation is the
 * view). On V8 (Deno, Node) it reads `used_heap_size + external_memory` around
 * chunks of 1,000 operations: bytes per operation. JSC (Bun) has no
 * allocated-bytes counter (its `heapUsed` moves only when blocks are added), so
 * there it counts the cells not yet collected (`bun:jsc` `heapStats()`) around
 * 50 sampled chunks of 10,000 (10 with `--quick`): objects per operation. Each
 * chunk is paired with an empty chunk read the same way, whose growth (the
 * reader's own allocation) is subtracted; chunks in which a collection ran are
 * left out. mitata prints its own heap estimate as the third line of each
 * benchmark (on Bun it reads malloc-level `memoryUsage().current`, which misses
 * most allocation).
 *
 * ```sh
 * deno run -A bench/alloc_bench.ts
 * npx bun bench/alloc_bench.ts
 * npx tsx bench/alloc_bench.ts
 * ```
 *
 * `--quick` (or `PAGEFRAG_QUICK=1`) measures each benchmark for 20 ms with
 * mitata's `measure()` instead of the full `run()` report, and the proof
 * over 500,000 operations: a couple of seconds in all.
 *
 * @module
 */
import process from "node:process";
import { getHeapStatistics } from "node:v8";
import { bench, do_not_optimize, measure, run, summary } from "mitata";
import { createPageFragCache } from "../mod.ts";
import { floorBodies } from "./floors.ts";

const QUICK = process.argv.slice(2).includes("--quick") ||
  process.env.PAGEFRAG_QUICK === "1";
const SIZES = [64, 256, 1500, 2048] as const;

// ------------------------------------------------------------- benchmarks

const cache = createPageFragCache();

interface Contender {
  readonly name: string;
  /** Column title in the results table. */
  readonly label: string;
  readonly fn: () => void;
}

function contenders(n: number): Contender[] {
  const floors = floorBodies(n);
  return [
    {
      name: `new Uint8Array(${n})`,
      label: "new Uint8Array",
      fn: () => do_not_optimize(new Uint8Array(n)),
    },
    {
      name: `alloc(${n})+free`,
      label: "alloc+free",
      fn: () => {
        const frag = cache.alloc(n);
        if (frag === null) throw new Error("out of memory");
        do_not_optimize(frag);
        cache.free(frag);
      },
    },
    {
      name: `allocHandle(${n})+free`,
      label: "allocHandle+free",
      fn: () => {
        const addr = cache.allocHandle(n);
        if (addr === null) throw new Error("out of memory");
        do_not_optimize(addr);
        cache.free(addr);
      },
    },
    { name: `view floor(${n})`, label: "view floor", fn: floors.view },
    { name: `handle floor(${n})`, label: "handle floor", fn: floors.handle },
  ];
}

const groups = SIZES.map((n) => ({ n, contenders: contenders(n) }));
/** Average and median ns per iteration, by benchmark name. */
const results = new Map<string, { avg: number; p50: number }>();

// Warm every contender first. mitata times a benchmark call by call, timer
// and heap reads included, when its first call takes over 500 µs, and the
// very first pagefrag call compiles the refill path and takes a page.
for (const { contenders } of groups) {
  for (const { fn } of contenders) for (let i = 0; i < 10_000; i++) fn();
}

if (QUICK) {
  console.log(
    "== allocation benchmark (--quick: mitata measure(), 20 ms each, " +
      "rough numbers; run without --quick for the full mitata report) ==",
  );
  for (const { contenders } of groups) {
    for (const { name, fn } of contenders) {
      const stats = await measure(fn, { min_cpu_time: 20e6 });
      results.set(name, stats);
      console.log(
        `  ${name.padEnd(24)} ${stats.avg.toFixed(2).padStart(9)} ns/iter`,
      );
    }
  }
} else {
  console.log("== allocation benchmark (mitata) ==");
  for (const { contenders } of groups) {
    summary(() => {
      for (const { name, fn } of contenders) {
        bench(name, fn).baseline(name.startsWith("new Uint8Array"));
      }
    });
  }
  const { benchmarks } = await run();
  for (const trial of benchmarks) {
    const stats = trial.runs[0]?.stats;
    if (stats !== undefined) results.set(trial.alias, stats);
  }
}

/** How many times faster (or slower) `time` is than `baseline`. */
function ratio(time: number, baseline: number): string {
  return time <= baseline
    ? `${(baseline / time).toFixed(2)}x faster`
    : `${(time / baseline).toFixed(2)}x slower`;
}

/** Average ns per iteration of each contender of a group, in order. */
function averages(contenders: Contender[]): number[] {
  return contenders.map((c) => {
    const r = results.get(c.name);
    if (r === undefined) throw new Error(`${c.name} produced no result`);
    return r.avg;
  });
}

console.log(
  "\n== average ns per allocation + free " +
    "(speed-up over new Uint8Array: above 1 is faster) ==",
);
const labels = groups[0].contenders.map((c) => c.label);
console.log("bytes" + labels.map((l) => l.padStart(20)).join(""));
for (const { n, contenders } of groups) {
  const times = averages(contenders);
  const cells = times.map((t) =>
    `${t.toFixed(1)} (${(times[0] / t).toFixed(2)}x)`.padStart(20)
  );
  console.log(String(n).padEnd(5) + cells.join(""));
}
console.log();
for (const { n, contenders } of groups) {
  const [base, view, handle, vFloor, hFloor] = averages(contenders);
  console.log(
    `${n} B: alloc+free is ${ratio(view, base)} than new Uint8Array(${n}), ` +
      `allocHandle+free ${ratio(handle, base)}; ` +
      `cost over the floor: alloc+free ${(view / vFloor).toFixed(2)}x ` +
      `the view floor, allocHandle+free ${(handle / hFloor).toFixed(2)}x ` +
      `the handle floor`,
  );
}

// ------------------------------------------ hot path allocates nothing

/** How the heap is read, in what unit, and how often. */
interface HeapProbe {
  /** What is read, for the report. */
  readonly source: string;
  /** What `read` counts: "bytes" or "objects". */
  readonly unit: string;
  /** Operations between two reads. */
  readonly chunk: number;
  /** At most this many chunks are measured; the rest only run. */
  readonly maxSamples: number;
  /** The count now. */
  read(): number;
}

/** The shape of the one `bun:jsc` function used here. */
interface BunJsc {
  heapStats(): { objectTypeCounts: Record<string, number> };
}

async function heapProbe(): Promise<HeapProbe> {
  if ("Bun" in globalThis) {
    // JSC has no allocated-bytes counter: heapUsed only moves when the
    // collector adds blocks, so steady-state allocation does not show. It
    // does count every cell not yet collected, by type: count cells. (A
    // count is a heap walk, milliseconds: so chunks are sampled.)
    const spec = "bun:jsc"; // not a literal: other runtimes never load it
    const jsc = (await import(spec)) as BunJsc;
    return {
      source: "bun:jsc heapStats().objectTypeCounts (cells)",
      unit: "objects",
      chunk: 10_000,
      maxSamples: QUICK ? 10 : 50,
      read: () => {
        let cells = 0;
        const counts = jsc.heapStats().objectTypeCounts;
        for (const type in counts) cells += counts[type];
        return cells;
      },
    };
  }
  // V8: exact bytes of the JS heap, plus off-heap ArrayBuffer memory.
  return {
    source: "v8.getHeapStatistics(): used_heap_size + external_memory",
    unit: "bytes",
    chunk: 1000,
    maxSamples: Infinity,
    read: () => {
      const s = getHeapStatistics();
      return s.used_heap_size + s.external_memory;
    },
  };
}

/** Growth of the count across one call `fn(n)`. */
function growth(fn: (n: number) => void, n: number, read: () => number) {
  const before = read();
  fn(n);
  return read() - before;
}

const nothing = (_n: number) => {};

/**
 * Run `loop` for `ops` operations in chunks and return the mean growth per
 * operation. Each measured chunk is followed by a measured empty chunk, and
 * the empty chunk's growth (the reader's own allocation, at that moment) is
 * subtracted. Pairs in which either count shrank (a collection ran) are left
 * out; of the rest, the highest and lowest 1% are trimmed (the collector's
 * concurrent bookkeeping moves the counters by kilobytes now and then).
 */
function perOp(
  loop: (n: number) => void,
  ops: number,
  probe: HeapProbe,
): { perOp: number; kept: number; samples: number } {
  const { chunk, read } = probe;
  const chunks = Math.ceil(ops / chunk);
  const stride = Math.max(1, Math.floor(chunks / probe.maxSamples));
  const net = new Float64Array(Math.ceil(chunks / stride));
  let samples = 0;
  let kept = 0;
  for (let c = 0; c < chunks; c++) {
    if (c % stride !== 0) {
      loop(chunk);
      continue;
    }
    samples++;
    const g = growth(loop, chunk, read);
    const o = growth(nothing, chunk, read);
    if (g >= 0 && o >= 0) net[kept++] = g - o;
  }
  const sorted = net.subarray(0, kept).sort();
  const cut = Math.floor(kept * 0.01);
  const middle = sorted.subarray(cut, kept - cut);
  let sum = 0;
  for (const v of middle) sum += v;
  return { perOp: sum / middle.length / chunk, kept, samples };
}

const PROOF_SIZE = 256;
const proofLoops: ReadonlyArray<readonly [string, (n: number) => void]> = [
  [`allocHandle(${PROOF_SIZE})+free`, (n) => {
    for (let i = 0; i < n; i++) {
      const addr = cache.allocHandle(PROOF_SIZE);
      if (addr === null) throw new Error("out of memory");
      do_not_optimize(addr);
      cache.free(addr);
    }
  }],
  [`alloc(${PROOF_SIZE})+free`, (n) => {
    for (let i = 0; i < n; i++) {
      const frag = cache.alloc(PROOF_SIZE);
      if (frag === null) throw new Error("out of memory");
      do_not_optimize(frag);
      cache.free(frag);
    }
  }],
  ["new Uint8Array(1)", (n) => {
    for (let i = 0; i < n; i++) do_not_optimize(new Uint8Array(1));
  }],
];

const PROOF_OPS = QUICK ? 500_000 : 10_000_000;
const probe = await heapProbe();
const sampled = probe.maxSamples === Infinity
  ? "every chunk"
  : `${probe.maxSamples} chunks spread over the run`;
console.log(
  `\n== hot path allocates nothing: heap growth per operation ==\n` +
    `${PROOF_OPS.toLocaleString("en-US")} operations each, after warm-up; ` +
    `${probe.source} read around chunks of ${probe.chunk} (${sampled}),\n` +
    `less an empty chunk read the same way; chunks with a collection are ` +
    `left out, 1% trimmed at each end`,
);
const warm = QUICK ? 100_000 : 500_000;
for (const [, loop] of proofLoops) loop(warm);
// Warm the harness itself.
perOp(nothing, Math.min(100, probe.maxSamples) * probe.chunk, probe);
const refills = cache.stats().refills;
for (const [name, loop] of proofLoops) {
  const r = perOp(loop, PROOF_OPS, probe);
  const shown = Math.abs(r.perOp) < 0.005 ? 0 : r.perOp; // no "-0.00"
  console.log(
    `  ${name.padEnd(24)} ${shown.toFixed(2).padStart(8)} ` +
      `${probe.unit}/op (${r.kept}/${r.samples} samples kept)`,
  );
}
console.log(
  `pages installed during the proof: ${cache.stats().refills - refills} ` +
    `(every exhausted page was recycled in place)`,
);
