/**
 * The shape of `bench/results/<runtime>.json`: mitata's JSON format
 * (`layout`, `benchmarks`, `context`) plus a `pagefrag` section with what
 * mitata does not know (what each contender is, churn, cross-worker), and
 * the lookups the suite and the report share.
 *
 * @module
 */
import type { ChurnResult } from "./churn.ts";
import type { ContenderInfo } from "./contenders.ts";
import type { PageFragTestResults } from "./page_frag_selftest.ts";

export type RuntimeName = "deno" | "bun" | "node";
export const RUNTIMES: readonly RuntimeName[] = ["deno", "bun", "node"];

/** The statistics of one benchmark that the report reads (ns per iteration). */
export interface BenchStats {
  avg: number;
  p50: number;
  p75: number;
  p99: number;
  min: number;
  max: number;
}

/** One benchmark as mitata's JSON has it (the fields the report reads). */
export interface BenchEntry {
  alias: string;
  runs: { name: string; stats?: BenchStats; error?: unknown }[];
}

/** What the suite adds to mitata's JSON. */
export interface PagefragSection {
  version: 1;
  runtime: RuntimeName;
  /** e.g. "Deno 2.9.5 (V8 ...)". */
  runtimeVersion: string;
  cpu: string;
  cpus: number;
  /** ISO date of the run. */
  date: string;
  /** The command that made the file. */
  command: string;
  /** mitata's per-benchmark CPU-time budget used, in ms. */
  budgetMs: number;
  /** Alloc + free pairs per benchmark iteration: mitata's times are per this many. */
  batch: number;
  /** Share of the CPUs' time in use (0..1) just before the run, or null where unknown. */
  busyAtStart: number | null;
  /** Seconds the whole suite took. */
  seconds: number;
  contenders: ContenderInfo[];
  churn: ChurnResult[];
  crossWorker: PageFragTestResults | null;
}

/** A results file. */
export interface ResultsFile {
  layout?: unknown;
  benchmarks: BenchEntry[];
  context: {
    cpu?: { name?: string | null; freq?: number };
    runtime?: string | null;
    version?: string | null;
    arch?: string | null;
  };
  pagefrag: PagefragSection;
}

/**
 * Average ns per alloc + free of benchmark `name` (mitata's average per
 * iteration over the batch), or NaN if it has none.
 */
export function avgOf(file: ResultsFile, name: string): number {
  for (const b of file.benchmarks) {
    if (b.alias !== name) continue;
    const s = b.runs[0]?.stats;
    return s === undefined ? NaN : s.avg / (file.pagefrag.batch ?? 1);
  }
  return NaN;
}

/** Average ns of the contender labelled `label` at `size`, or NaN. */
export function avgByLabel(
  file: ResultsFile,
  label: string,
  size: number,
): number {
  const c = file.pagefrag.contenders.find((c) =>
    c.label === label && c.size === size
  );
  return c === undefined ? NaN : avgOf(file, c.name);
}
