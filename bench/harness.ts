/**
 * The one way every benchmark here runs mitata: a group of cases measured
 * one after the other with mitata's public `measure()` (its `min_cpu_time`,
 * `heap`, `gc` and `batch_samples` options), ratios against a baseline
 * measured in the same run, a printed table, and the results as plain data
 * for a JSON file. Also the runtime's name, the command-line flags the
 * benchmarks share, a garbage collector for V8, and the text table printer.
 *
 * Why `measure()` and not `bench()` + `run()`: `run()` gives every benchmark
 * mitata's fixed 642 ms of CPU time and has no option to change it; the
 * suite has 72 allocation cases and a minute. `measure()` takes the budget
 * as an option and returns the same statistics `run()` prints.
 *
 * @module
 */
import process from "node:process";
import { getHeapStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { measure } from "mitata";
import { RUNTIME } from "../test/worker_util.ts";
import { type Form, type LoopCache, pairs } from "./bodies.ts";

// ---------------------------------------------------------------- runtime

export { RUNTIME } from "../test/worker_util.ts";

/** The runtimes the suite knows. */
export type RuntimeName = "deno" | "bun" | "node";
/** All of them, in report order. */
export const RUNTIMES: readonly RuntimeName[] = ["deno", "bun", "node"];

/** The runtime's name and version, for reports. */
export function runtimeVersion(): string {
  const g = globalThis as {
    Deno?: { version: { deno: string; v8: string } };
    Bun?: { version: string };
  };
  if (g.Deno) return `Deno ${g.Deno.version.deno} (V8 ${g.Deno.version.v8})`;
  if (g.Bun) return `Bun ${g.Bun.version} (JavaScriptCore)`;
  return `Node ${process.versions.node} (V8 ${process.versions.v8})`;
}

/** The command line that runs the TypeScript file `path` on this runtime. */
export function childCommand(path: string, args: string[] = []): string[] {
  if (RUNTIME === "deno") return [process.execPath, "run", "-A", path, ...args];
  if (RUNTIME === "bun") return [process.execPath, path, ...args];
  return [process.execPath, "--import", "tsx", path, ...args];
}

// ------------------------------------------------------------------ flags

/** The flags every benchmark takes, plus any `--name value` number flags. */
export interface Flags {
  /** `--quick` or `PAGEFRAG_QUICK=1`: a smoke run with rough numbers. */
  quick: boolean;
  /** Boolean flags given (`--one-copy` -> "one-copy"). */
  has(name: string): boolean;
  /** A numeric flag (`--budget-ms 300` or `--budget-ms=300`), or `fallback`. */
  num(name: string, fallback: number): number;
}

/**
 * Parse `argv`; `usage` (which names every flag, as `--name`) is printed for
 * `--help`, and a flag it does not name is an error.
 */
export function parseFlags(argv: string[], usage: string): Flags {
  const given = new Map<string, string | true>();
  const known: string[] = usage.match(/--[a-z-]+/g) ?? [];
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split("=", 2);
    if (flag === "--help" || flag === "-h") {
      console.log(`usage: ${usage}`);
      process.exit(0);
    }
    if (!known.includes(flag)) {
      throw new Error(`unknown flag ${argv[i]} (usage: ${usage})`);
    }
    const next = argv[i + 1];
    const value = inline ??
      (next !== undefined && /^[\d_.]+$/.test(next) ? argv[++i] : true);
    given.set(flag.slice(2), value);
  }
  return {
    quick: given.has("quick") || process.env.PAGEFRAG_QUICK === "1",
    has: (name) => given.has(name),
    num: (name, fallback) => {
      const v = given.get(name);
      if (v === undefined) return fallback;
      const n = Number(String(v).replaceAll("_", ""));
      if (!(n > 0)) throw new Error(`--${name} needs a positive number`);
      return n;
    },
  };
}

// --------------------------------------------------------- gc and the heap

const g = globalThis as { gc?: () => void; Bun?: { gc(sync: boolean): void } };
if (typeof g.gc !== "function" && g.Bun === undefined) {
  try {
    // What --expose-gc would give: V8 runtimes then collect between cases.
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as unknown;
    if (typeof gc === "function") g.gc = gc as () => void;
  } catch {
    // Not exposed: mitata falls back to its own allocation trick.
  }
}

/** Collect garbage now if the runtime lets us. */
export function collectGarbage(): void {
  if (g.Bun !== undefined) g.Bun.gc(true);
  else g.gc?.();
}

/**
 * Bytes in use, read around each sample: the reader mitata's `run()` hands
 * `measure()` (V8: `used_heap_size + malloced_memory`; Bun: bmalloc's
 * `memoryUsage().current`, which misses most small JS objects).
 */
export const readHeap: (() => number) | undefined = await (async () => {
  if (RUNTIME === "bun") {
    const spec = "bun:jsc"; // not a literal: other runtimes never load it
    const { memoryUsage } = (await import(spec)) as {
      memoryUsage(): { current: number };
    };
    return () => memoryUsage().current;
  }
  try {
    getHeapStatistics();
    return () => {
      const m = getHeapStatistics();
      return m.used_heap_size + m.malloced_memory;
    };
  } catch {
    return undefined;
  }
})();

// ------------------------------------------------------------ measuring

/** One benchmark: a body that runs `per` operations per call. */
export interface Case {
  /** Unique name. */
  name: string;
  body: () => void;
  /** Operations per call of `body` (default 1): figures are per operation. */
  per?: number;
}

/** What was measured of one case, per operation. */
export interface Measured {
  name: string;
  /**
   * The figure the tables and ratios use: the median sample's ns per
   * operation, which a sample preempted by another process does not move
   * (the average does, on a busy machine).
   */
  ns: number;
  /** Average, median, fastest and 99th percentile ns per operation. */
  avg: number;
  p50: number;
  min: number;
  p99: number;
  /** mitata's heap figure: bytes allocated per operation (null: no reader). */
  heap: number | null;
}

/** How long to measure each case. */
export interface Budget {
  /** CPU time per case in ms (mitata's `min_cpu_time`). */
  ms: number;
  /** Calls per timed sample when a call is short (mitata's default 4096). */
  batchSamples?: number;
  /** Fewest samples (mitata's default 12). */
  minSamples?: number;
  /** Collect garbage before each case (default true; a full collection is milliseconds). */
  gc?: boolean;
}

/**
 * Measure every case with mitata's `measure()` after `warmup` calls of each
 * (mitata times a case call by call, timer included, when its first call
 * takes over 0.5 ms), printing one line per case as it goes.
 */
export async function measureAll(
  cases: readonly Case[],
  budget: Budget,
  warmup = 500,
): Promise<Map<string, Measured>> {
  for (const c of cases) for (let i = 0; i < warmup; i++) c.body();
  const out = new Map<string, Measured>();
  const width = Math.max(...cases.map((c) => c.name.length));
  for (const c of cases) {
    const per = c.per ?? 1;
    const s = await measure(c.body, {
      min_cpu_time: budget.ms * 1e6,
      batch_samples: budget.batchSamples ?? 4096,
      min_samples: budget.minSamples ?? 12,
      heap: readHeap,
      gc: budget.gc === false ? false : collectGarbage,
    });
    const m: Measured = {
      name: c.name,
      ns: s.p50 / per,
      avg: s.avg / per,
      p50: s.p50 / per,
      min: s.min / per,
      p99: s.p99 / per,
      heap: s.heap === undefined ? null : s.heap.avg / per,
    };
    out.set(c.name, m);
    console.log(
      `  ${c.name.padEnd(width)} ${ns(m.ns).padStart(8)} ns` +
        (m.heap === null ? "" : `  ${m.heap.toFixed(1).padStart(8)} B heap`),
    );
  }
  return out;
}

/**
 * A rows x columns table of ns per operation (medians), each cell with its ratio to
 * the `baseline` row of its column (`time / baseline`: above 1 costs more).
 */
export function ratioTable(
  rows: readonly string[],
  cols: readonly string[],
  nameOf: (row: string, col: string) => string,
  baseline: string,
  results: Map<string, Measured>,
): string {
  const t = (row: string, col: string) =>
    results.get(nameOf(row, col))?.ns ?? NaN;
  return table([
    ["", ...cols],
    ...rows.map((row) => [
      row,
      ...cols.map((col) =>
        `${ns(t(row, col))} ns (${
          (t(row, col) / t(baseline, col)).toFixed(2)
        }x)`
      ),
    ]),
  ]);
}

// ---------------------------------------------------------------- printing

/** Nanoseconds, with as many digits as they deserve. */
export function ns(t: number): string {
  if (!Number.isFinite(t)) return "-";
  if (t < 10) return t.toFixed(2);
  if (t < 100) return t.toFixed(1);
  return Math.round(t).toLocaleString("en-US");
}

/** Columns padded to their widest cell; the first and last left-aligned. */
export function table(rows: string[][]): string {
  const last = rows[0].length - 1;
  const widths = rows[0].map((_, i) =>
    Math.max(...rows.map((r) => (r[i] ?? "").length))
  );
  return rows.map((r) =>
    r.map((cell, i) =>
      i === 0 || i === last ? cell.padEnd(widths[i]) : cell.padStart(widths[i])
    ).join("  ").trimEnd()
  ).join("\n");
}

// ------------------------------------------------- caches side by side

/** A cache as {@linkcode compareCaches} drives and checks it. */
export interface ComparedCache extends LoopCache {
  poll?(fn: () => void): void;
  stats(): { allocFailures: number };
  backend: { stats(): { pagesAllocated: number } };
}

/**
 * alloc + free of `size` bytes in both forms, `batch` pairs a call, on each
 * of `caches` (a napi cache enters its poll scope once a call), printed as
 * ns per pair with the ratio to the `baseline` row; then checks that every
 * cache recycled its one page in place throughout.
 */
export async function compareCaches(
  title: string,
  caches: Record<string, ComparedCache>,
  baseline: string,
  argv: string[],
  size = 256,
  batch = 64,
): Promise<void> {
  const { quick } = parseFlags(argv, `${title} [--quick]`);
  const rows = Object.keys(caches);
  const cols = [`alloc(${size})+free`, `allocHandle(${size})+free`];
  const forms: Form[] = ["view", "handle"];
  const nameOf = (row: string, col: string) => `${row}: ${col}`;
  const cases = cols.flatMap((col, i) =>
    rows.map((row) => ({
      name: nameOf(row, col),
      body: pairs(caches[row], size, forms[i], batch, "poll" in caches[row]),
      per: batch,
    }))
  );
  console.log(
    `== ${title}: ns per pair, ${batch} pairs a call (mitata measure()${
      quick ? ", --quick: 20 ms each, rough" : ""
    }) ==`,
  );
  const results = await measureAll(cases, { ms: quick ? 20 : 500 }, 2000);
  console.log(`\n(in brackets: x ${baseline}, above 1 costs more)`);
  console.log(ratioTable(rows, cols, nameOf, baseline, results));
  for (const row of rows) {
    const c = caches[row];
    if (c.stats().allocFailures !== 0) throw new Error(`${row}: failures`);
    if (c.backend.stats().pagesAllocated !== 1) {
      throw new Error(`${row}: expected one page, recycled in place`);
    }
  }
  console.log(
    "each cache allocated one page and recycled it in place throughout",
  );
}
