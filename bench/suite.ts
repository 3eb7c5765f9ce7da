/**
 * The backend comparison: pagefrag side by side with its peers, in one
 * process, every ratio against baselines measured in the same process.
 *
 * ```sh
 * deno task bench          # deno run -A bench/suite.ts
 * bun run bench            # bun bench/suite.ts
 * npm run bench:node       # node --import tsx bench/suite.ts
 * ```
 *
 * 1. **Allocate + free** of 64, 256, 1500 and 2048-byte fragments (mitata,
 *    one `run()`, a `summary` and a `barplot` per size): `new Uint8Array(n)`
 *    (the baseline), `Buffer.allocUnsafe(n)`, `@thi.ng/malloc`'s `MemPool`
 *    (address and view form), pagefrag on the heap, shared and wasm
 *    backends in the napi and netdev flavours and both forms, and the two
 *    floors (`bench/contenders.ts`). Each backend runs from its own copy of
 *    the library, as in a program that uses one backend
 *    (`bench/isolate.ts`; `--one-copy` runs all three through one). Each
 *    benchmark is measured for `--budget-ms` (default 300) of CPU time
 *    instead of mitata's 642 ms, so that the 72 of them fit in the minute
 *    (`bench/mitata_budget.ts`).
 * 2. **Churn**: a 64/576/1500-byte packet mix at 7:4:1 with random short
 *    lifetimes, 300,000 operations after 100,000 of warm-up: time, garbage
 *    collections, peak bytes live against reserved, and the backend's page
 *    requests after warm-up (`bench/churn.ts`).
 * 3. **Cross-worker**: the kernel's page_frag self-test, ported, with 200,000
 *    pairs per mode (the command line `bench/page_frag_test.ts` defaults to
 *    2,000,000: run it for the long version), and the 256-byte fragment
 *    address hand-off against `postMessage` with 50,000 messages each.
 *
 * Then it prints every target of the benchmark issue with the measured ratio,
 * writes `bench/results/<runtime>.json` (mitata's JSON format plus a
 * `pagefrag` section) and regenerates `BENCHMARKS.md` and
 * `bench/results/chart.svg` from every results file present
 * (`bench/report.ts`).
 *
 * Flags: `--quick` (or `PAGEFRAG_QUICK=1`): a CI smoke run of a few seconds
 * that runs every benchmark briefly with mitata's `measure()` (2 ms each),
 * a short churn and cross-worker run, and renders the report in memory; it
 * writes nothing. `--budget-ms N`: mitata's CPU time per benchmark.
 * `--one-copy`: every backend through the project's own copy of the library.
 * `--no-write`: a full run that writes nothing. Exits 1 when a churn or
 * cross-worker run fails its correctness checks (a page not returned, a
 * corrupted message); a missed target is reported, not an error.
 *
 * @module
 */
import "./expose_gc.ts"; // first: mitata looks for gc when it is imported
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { resolve } from "node:path";
import process from "node:process";
import { barplot, bench, measure, run, summary } from "mitata";
import {
  churnBaselines,
  churnPagefrag,
  churnScript,
  LIVE_SLOTS,
} from "./churn.ts";
import {
  BACKENDS,
  BATCH,
  type Contender,
  contenders,
  info,
  makeCaches,
  SIZES,
} from "./contenders.ts";
import { loadCopies } from "./isolate.ts";
import { mitataHeapReader, mitataJson, withBudget } from "./mitata_budget.ts";
import {
  measureBusy,
  reportPageFragTest,
  runPageFragTest,
  table,
} from "./page_frag_selftest.ts";
import { RUNTIME, runtimeVersion } from "./page_frag_spawn.ts";
import {
  COMMANDS,
  renderChart,
  renderMarkdown,
  RESULTS_DIR,
  writeReport,
} from "./report.ts";
import type { BenchEntry, ResultsFile } from "./results_file.ts";
import { cell, TARGETS } from "./targets.ts";

// ------------------------------------------------------------------ options

function parseArgs(argv: string[]) {
  const o = {
    quick: process.env.PAGEFRAG_QUICK === "1",
    write: true,
    budgetMs: 300,
    oneCopy: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split("=", 2);
    if (flag === "--quick") o.quick = true;
    else if (flag === "--no-write") o.write = false;
    else if (flag === "--one-copy") o.oneCopy = true;
    else if (flag === "--budget-ms") {
      const v = Number(inline ?? argv[++i]);
      if (!(v > 0)) throw new Error(`--budget-ms needs a number of ms`);
      o.budgetMs = v;
    } else if (flag === "--help" || flag === "-h") {
      console.log(
        "usage: suite.ts [--quick] [--budget-ms N] [--one-copy] [--no-write]",
      );
      process.exit(0);
    } else throw new Error(`unknown flag ${argv[i]} (try --help)`);
  }
  if (o.quick) o.write = false;
  return o;
}

const o = parseArgs(process.argv.slice(2));
const started = performance.now();
// How busy the CPUs are before we start (other processes: the figures are
// only as quiet as the machine). /proc/stat over 300 ms where there is one.
const busy = o.quick ? NaN : await measureBusy(300);
const busyAtStart = Number.isNaN(busy) ? null : busy;
const cpuName = cpus()[0]?.model.trim() ?? "unknown CPU";

console.log(
  `pagefrag backend comparison on ${runtimeVersion()}, ${cpus().length} x ${cpuName}` +
    (busyAtStart === null
      ? ""
      : `, CPUs ${Math.round(busyAtStart * 100)}% busy before the start`) +
    (o.quick ? " (--quick: smoke run, rough numbers, nothing written)" : ""),
);
if (busyAtStart !== null && busyAtStart > 0.25) {
  console.log(
    "note: other processes are using the CPUs; figures will be noisy (run again when the machine is idle)",
  );
}

// --------------------------------------------------- 1. allocate + free

const copies = await loadCopies(BACKENDS, o.oneCopy);
const caches = makeCaches(copies);
const groups: Contender[][] = SIZES.map((n) => contenders(n, caches));

// Warm every contender first (500 calls of 64 pairs): mitata times a
// benchmark call by call (timer included) when its first call takes over
// 500 µs, and the first calls compile the caches' paths and take their pages.
for (const group of groups) {
  for (const c of group) {
    for (let i = 0; i < (o.quick ? 20 : 500); i++) c.fn();
  }
}

let benchmarks: BenchEntry[];
let mitataResult: { layout?: unknown; benchmarks: unknown; context: unknown };
if (o.quick) {
  console.log(
    `\n== 1. allocate + free (mitata measure(), 2 ms each; ns per pair) ==`,
  );
  benchmarks = [];
  for (const group of groups) {
    for (const c of group) {
      const stats = await measure(c.fn, {
        min_cpu_time: 2e6,
        min_samples: 4,
        batch_samples: 16,
      });
      benchmarks.push({ alias: c.name, runs: [{ name: c.name, stats }] });
      console.log(
        `  ${c.name.padEnd(36)} ${
          (stats.avg / BATCH).toFixed(2).padStart(9)
        } ns`,
      );
    }
  }
  mitataResult = { benchmarks, context: {} };
} else {
  console.log(
    `\n== 1. allocate + free (mitata; ${o.budgetMs} ms of CPU time per benchmark; ` +
      `each iteration is ${BATCH} alloc+free pairs: divide times by ${BATCH}, ratios hold as they are) ==`,
  );
  const heap = await mitataHeapReader();
  for (const group of groups) {
    barplot(() => {
      summary(() => {
        for (const c of group) {
          withBudget(bench(c.name, c.fn), o.budgetMs * 1e6, heap, 256)
            .baseline(c.kind === "baseline" && c.label === "new Uint8Array");
        }
      });
    });
  }
  mitataResult = await run();
  benchmarks = mitataResult.benchmarks as BenchEntry[];
}

{
  // mitata's figures are per iteration of BATCH pairs: the same per pair.
  const avg = new Map<string, number>();
  for (const b of benchmarks) {
    const s = b.runs[0]?.stats;
    if (s !== undefined) avg.set(b.alias, s.avg / BATCH);
  }
  console.log(
    `\n== ns per alloc+free pair (in brackets: times faster than new Uint8Array(n)) ==`,
  );
  console.log(table([
    ["contender", ...SIZES.map((n) => `${n} B`)],
    ...groups[0].map((c, i) => [
      c.label,
      ...groups.map((g) => {
        const t = avg.get(g[i].name) ?? NaN;
        const base = avg.get(g[0].name) ?? NaN;
        return `${t.toFixed(1)} (${(base / t).toFixed(2)}x)`;
      }),
    ]),
  ]));
}

// ------------------------------------------------------------- 2. churn

const churnOps = o.quick ? 20_000 : 300_000;
const script = churnScript(o.quick ? 5_000 : 100_000, churnOps);
console.log(
  `\n== 2. churn: 64/576/1500 B at 7:4:1, ${LIVE_SLOTS} live buffers, ` +
    `${churnOps.toLocaleString("en-US")} operations after warm-up ==`,
);
const churn = churnBaselines(script);
for (const backend of BACKENDS) {
  for (const form of ["view", "handle"] as const) {
    const { lib, bodies } = copies[backend];
    churn.push(
      churnPagefrag(
        script,
        lib.createNapiCache({ backend }),
        bodies,
        backend,
        form,
      ),
    );
  }
}
const kib = (n: number | null) =>
  n === null ? "-" : `${(n / 1024).toFixed(0)} KiB`;
const count = (n: number | null) => n === null ? "-" : String(n);
console.log(table([
  [
    "contender",
    "ns/op",
    "GCs",
    "GC ms",
    "peak live",
    "peak reserved",
    "page requests",
    "new pages",
    "recycled",
    "pages back",
  ],
  ...churn.map((c) => [
    c.name,
    c.nsPerOp.toFixed(1),
    c.gc === null ? "n/a" : String(c.gc.count),
    c.gc === null ? "n/a" : c.gc.ms.toFixed(1),
    kib(c.peakLiveBytes),
    kib(c.peakReservedBytes),
    count(c.pageRequests),
    count(c.newPages),
    count(c.recycledInPlace),
    c.ok ? "yes" : "NO",
  ]),
]));

// ------------------------------------------------------ 3. cross-worker

console.log("\n== 3. cross-worker ==");
const crossWorker = await runPageFragTest({
  nrTest: o.quick ? 2_000 : 200_000,
  msgs: o.quick ? 2_000 : 50_000,
  warmup: !o.quick,
  measureLoad: false,
});
console.log(reportPageFragTest(crossWorker));

// ---------------------------------------------------------- the targets

const file: ResultsFile = {
  ...(mitataResult as Omit<ResultsFile, "pagefrag">),
  benchmarks,
  pagefrag: {
    version: 1,
    runtime: RUNTIME,
    runtimeVersion: runtimeVersion(),
    cpu: cpuName,
    cpus: cpus().length,
    date: new Date().toISOString(),
    command: COMMANDS[RUNTIME],
    budgetMs: o.quick ? 2 : o.budgetMs,
    batch: BATCH,
    busyAtStart,
    seconds: 0,
    contenders: groups.flat().map(info),
    churn,
    crossWorker,
  },
};

console.log(`\n== targets (${runtimeVersion()}) ==`);
console.log(table([
  ["target", "measured"],
  ...TARGETS.filter((t) => t.runtimes.includes(RUNTIME)).map((t) => [
    t.text,
    cell(t.evaluate(file), t.unit),
  ]),
]));

const seconds = (performance.now() - started) / 1000;
file.pagefrag.seconds = seconds;
if (o.write) {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = resolve(RESULTS_DIR, `${RUNTIME}.json`);
  writeFileSync(path, mitataJson(mitataResult, { pagefrag: file.pagefrag }));
  const written = writeReport();
  console.log(`\nwrote ${[path, ...written].join(", ")}`);
} else {
  // Render the report anyway (not written), so that --quick keeps it working.
  const results = { [RUNTIME]: file };
  renderMarkdown(results, "chart.svg");
  renderChart(results);
}
console.log(`suite took ${seconds.toFixed(1)} s`);

const ok = churn.every((c) => c.ok) && crossWorker.ok;
if (!ok) console.log("FAILED: a churn or cross-worker run failed its checks");
process.exitCode = ok ? 0 : 1;
