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
 * 1. **Allocate + free** of 64, 256, 1500 and 2048-byte fragments, 64 pairs
 *    per call (`bench/contenders.ts`): `new Uint8Array(n)`,
 *    `Buffer.allocUnsafe(n)`, `@thi.ng/malloc`'s `MemPool`, pagefrag on the
 *    heap, shared and wasm backends in both flavours and both forms, and the
 *    two floors; ns and mitata's heap bytes per pair (`bench/harness.ts`).
 *    Each backend runs from its own copy of the library (`bench/isolate.ts`).
 * 2. **First calls**: child processes on this runtime (`bench/first_call.ts`)
 *    time the first `createPageFragCache()` and `alloc`+`free` of a fresh
 *    process, and run the benchmark a user writes first (no warm-up)
 *    against a warmed one; mitata times `createPageFragCache()` here, warm.
 * 3. **Churn** under random (exponential) lifetimes (`bench/churn.ts`):
 *    time, collections, new buffers after warm-up, and page bytes held per
 *    live byte for every backend, also with smaller pages and order-0 refill.
 * 4. **Cross-worker**: the kernel's page_frag self-test, ported, and the
 *    256-byte address hand-off against `postMessage` (`bench/page_frag_test.ts`
 *    is its command line, with longer defaults).
 *
 * Then it prints issue 11's targets with the measured values, writes
 * `bench/results/<runtime>.json` and regenerates `BENCHMARKS.md` and the
 * chart from every results file present (`bench/report.ts`).
 *
 * Flags: `--quick` (or `PAGEFRAG_QUICK=1`): a smoke run of a few seconds
 * (2 ms per benchmark, short churn and cross-worker runs) that writes
 * nothing. `--budget-ms N`: CPU time per allocation benchmark (default 300).
 * `--one-copy`: every backend through the project's own copy of the library.
 * `--no-write`: a full run that writes nothing. Exits 1 when a churn or
 * cross-worker run fails its checks; a missed target is reported, not an
 * error.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import {
  churnBaselines,
  churnPagefrag,
  churnScript,
  LIVE_SLOTS,
} from "./churn.ts";
import { BACKENDS, contenders, info, makeCaches, SIZES } from "./contenders.ts";
import {
  childCommand,
  measureAll,
  ns,
  parseFlags,
  RUNTIME,
  runtimeVersion,
  table,
} from "./harness.ts";
import { loadCopies } from "./isolate.ts";
import {
  measureBusy,
  reportPageFragTest,
  runPageFragTest,
} from "./page_frag_selftest.ts";
import {
  churnTable,
  COMMANDS,
  firstCallTable,
  memoryTable,
  type Render,
  renderChart,
  renderMarkdown,
  RESULTS_DIR,
  targetsTable,
  writeReport,
} from "./report.ts";
import type { FirstCall, MemoryRow, ResultsFile } from "./results_file.ts";

const flags = parseFlags(
  process.argv.slice(2),
  "suite.ts [--quick] [--budget-ms N] [--one-copy] [--no-write]",
);
const quick = flags.quick;
const budgetMs = quick ? 2 : flags.num("budget-ms", 300);
const write = !quick && !flags.has("no-write");
const started = performance.now();
/** In --quick, say how long the suite has run (it must stay short: npm test runs it). */
const lap = (what: string) =>
  quick &&
  console.log(
    `(${what}: ${((performance.now() - started) / 1000).toFixed(1)} s)`,
  );
const busy = quick ? NaN : await measureBusy(300);
const busyAtStart = Number.isNaN(busy) ? null : busy;
const cpuName = cpus()[0]?.model.trim() ?? "unknown CPU";
console.log(
  `pagefrag backend comparison on ${runtimeVersion()}, ${cpus().length} x ${cpuName}` +
    (busyAtStart === null
      ? ""
      : `, CPUs ${Math.round(busyAtStart * 100)}% busy before the start`) +
    (quick ? " (--quick: smoke run, rough numbers, nothing written)" : ""),
);
if (busyAtStart !== null && busyAtStart > 0.25) {
  console.log(
    "note: other processes are using the CPUs: figures will be noisy",
  );
}

// --------------------------------------------------- 1. allocate + free

const copies = await loadCopies(BACKENDS, flags.has("one-copy"));
const caches = makeCaches(copies);
lap("copies loaded");
const groups = SIZES.map((n) => contenders(n, caches));
console.log(
  `\n== 1. allocate + free: ns and heap bytes per pair (mitata measure(), ${budgetMs} ms each) ==`,
);
const measured = await measureAll(groups.flat(), {
  ms: budgetMs,
  batchSamples: quick ? 16 : 256,
  minSamples: quick ? 4 : 12,
  gc: !quick,
}, quick ? 20 : 500);
lap("allocation done");
const alloc = groups.flat().map((c) => ({
  ...info(c),
  ...measured.get(c.name)!,
  name: c.name,
}));
console.log(
  `\n== ns per alloc+free pair, medians (in brackets: times faster than new Uint8Array(n)) ==`,
);
console.log(table([
  ["contender", ...SIZES.map((n) => `${n} B`)],
  ...groups[0].map((c, i) => [
    c.label,
    ...groups.map((g) => {
      const t = measured.get(g[i].name)!.ns;
      return `${ns(t)} (${(measured.get(g[0].name)!.ns / t).toFixed(2)}x)`;
    }),
  ]),
]));

// ------------------------------------------------------- 2. first calls

/** Median of `xs`. */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[s.length >> 1];
}

/** Run bench/first_call.ts in a fresh process `runs` times; its JSON lines. */
function child(mode: string, runs: number): Record<string, number>[] {
  const path = fileURLToPath(new URL("./first_call.ts", import.meta.url));
  const [cmd, ...args] = childCommand(path, [`--mode=${mode}`]);
  const out: Record<string, number>[] = [];
  for (let i = 0; i < runs; i++) {
    const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 60_000 });
    const line = r.stdout?.trim().split("\n").pop() ?? "";
    if (r.status !== 0 || !line.startsWith("{")) {
      console.log(`note: first_call.ts --mode=${mode} failed: ${r.stderr}`);
      return out;
    }
    out.push(JSON.parse(line));
  }
  return out;
}

console.log(`\n== 2. first calls (fresh processes on ${RUNTIME}) ==`);
const times = child("time", quick ? 1 : 5);
const user = child(quick ? "measure" : "mitata", 1);
const lib = copies.heap;
const warmCreate = await measureAll(
  [{
    name: "createPageFragCache() (warm)",
    body: () => lib.createPageFragCache(),
  }],
  { ms: quick ? 5 : 200 },
  1000,
);
const pick = (k: string) => median(times.map((t) => t[k]));
const firstCall: FirstCall | null = times.length === 0 ? null : {
  runs: times.length,
  importMs: pick("importMs"),
  createUs: pick("createUs"),
  firstPairUs: pick("firstPairUs"),
  secondPairUs: pick("secondPairUs"),
  warmCreateUs: warmCreate.get("createPageFragCache() (warm)")!.ns / 1000,
  userColdNs: user[0]?.coldNs ?? NaN,
  userWarmNs: user[0]?.warmNs ?? NaN,
};
lap("first calls done");

// ------------------------------------------------------------- 3. churn

const churnOps = quick ? 20_000 : 300_000;
const script = churnScript(quick ? 5_000 : 100_000, churnOps);
console.log(
  `\n== 3. churn: 64/576/1500 B at 7:4:1, exponential lifetimes (mean ${LIVE_SLOTS} operations), ` +
    `${churnOps.toLocaleString("en-US")} operations after warm-up ==`,
);
const churn = churnBaselines(script);
for (const backend of BACKENDS) {
  for (const form of ["view", "handle"] as const) {
    const napi = copies[backend].createNapiCache({ backend });
    const name = `${backend} ${form === "view" ? "alloc" : "allocHandle"}`;
    churn.push(churnPagefrag(script, napi, name, form));
  }
}
// The same workload under the options that lower the memory held.
const VARIANTS: [string, Record<string, unknown>][] = [
  ["{} (4 KiB << 3: 32 KiB pages)", {}],
  ['{ refill: "order0" } (4 KiB pages)', { refill: "order0" }],
  ["{ maxOrder: 1 } (8 KiB pages)", { maxOrder: 1 }],
  ['{ pageSize: 2048, refill: "order0" }', {
    pageSize: 2048,
    refill: "order0",
  }],
];
const memScript = churnScript(quick ? 5_000 : 50_000, quick ? 10_000 : 100_000);
const memory: MemoryRow[] = [];
let memoryOk = true;
for (const backend of BACKENDS) {
  for (const [options, o] of VARIANTS) {
    const napi = copies[backend].createNapiCache({ backend, ...o });
    const r = churnPagefrag(memScript, napi, backend, "handle");
    memoryOk &&= r.ok;
    memory.push({
      backend,
      options,
      pageBytes: napi.backend.pageSize <<
        (o.refill === "order0" ? 0 : napi.backend.maxOrder),
      heldPerLive: r.heldPerLive ?? NaN,
      liveBytes: r.liveBytes,
    });
  }
}
lap("churn done");

// ------------------------------------------------------ 4. cross-worker

console.log("\n== 4. cross-worker ==");
const crossWorker = await runPageFragTest({
  nrTest: quick ? 2_000 : 200_000,
  msgs: quick ? 2_000 : 50_000,
  warmup: !quick,
  measureLoad: false,
});
console.log(reportPageFragTest(crossWorker));

// ---------------------------------------------------------- the targets

const file: ResultsFile = {
  schema: 2,
  runtime: RUNTIME,
  runtimeVersion: runtimeVersion(),
  cpu: cpuName,
  cpus: cpus().length,
  date: new Date().toISOString(),
  command: COMMANDS[RUNTIME],
  budgetMs,
  busyAtStart,
  seconds: 0,
  alloc,
  firstCall,
  churn,
  memory,
  crossWorker,
};
const one = { [RUNTIME]: file };
const text: Render = (head, rows) => table([head, ...rows]);
console.log(`\n== first calls (fresh processes on ${RUNTIME}) ==`);
console.log(firstCallTable(one, text));
console.log(`\n== churn (${churnOps.toLocaleString("en-US")} operations) ==`);
console.log(churnTable(file, text));
console.log("\npage bytes held per live byte, by cache options:");
console.log(memoryTable(one, text));
console.log(`\n== targets (issue 11; ${runtimeVersion()}) ==`);
console.log(targetsTable(one, text));

file.seconds = (performance.now() - started) / 1000;
if (write) {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = resolve(RESULTS_DIR, `${RUNTIME}.json`);
  writeFileSync(path, JSON.stringify(file, null, 2) + "\n");
  console.log(`\nwrote ${[path, ...writeReport()].join(", ")}`);
} else {
  // Render the report anyway (not written), so that --quick keeps it working.
  renderMarkdown(one, "chart.svg");
  renderChart(one);
}
console.log(`suite took ${file.seconds.toFixed(1)} s`);
const ok = churn.every((c) => c.ok) && memoryOk && crossWorker.ok;
if (!ok) console.log("FAILED: a churn or cross-worker run failed its checks");
process.exitCode = ok ? 0 : 1;
