/**
 * The shape of `bench/results/<runtime>.json`, written by `bench/suite.ts`
 * and read by `bench/report.ts` and `bench/targets.ts`, and the lookups they
 * share.
 *
 * @module
 */
import type { ChurnResult } from "./churn.ts";
import type { ContenderInfo } from "./contenders.ts";
import type { Measured, RuntimeName } from "./harness.ts";
import type { PageFragTestResults } from "./page_frag_selftest.ts";

/** One allocation contender and what was measured of it (ns, bytes per pair). */
export type AllocResult = ContenderInfo & Omit<Measured, "name">;

/** The first-call figures (medians over the child processes). */
export interface FirstCall {
  /** Child processes run for the `time` figures. */
  runs: number;
  /** Import of the library in a fresh process, ms. */
  importMs: number;
  /** The first `createPageFragCache()` of a fresh process, µs. */
  createUs: number;
  /** Its first `alloc(256)`+`free`, µs; the second one. */
  firstPairUs: number;
  secondPairUs: number;
  /** `createPageFragCache()` on a warmed process (mitata), µs. */
  warmCreateUs: number;
  /** The user's first mitata benchmark: no warm-up, and warmed (ns per call). */
  userColdNs: number;
  userWarmNs: number;
}

/** Page bytes held per live byte under churn, for one backend and options. */
export interface MemoryRow {
  backend: string;
  /** The cache options, as written (`{}`, `{ refill: "order0" }`, ...). */
  options: string;
  /** Largest page the options allow, in bytes. */
  pageBytes: number;
  heldPerLive: number;
  liveBytes: number;
}

/** A results file. */
export interface ResultsFile {
  /** The file format (named so: Deno reads any `deno.json` as its config, where `version` is a string). */
  schema: 2;
  runtime: RuntimeName;
  /** e.g. "Deno 2.9.5 (V8 ...)". */
  runtimeVersion: string;
  cpu: string;
  cpus: number;
  /** ISO date of the run. */
  date: string;
  /** The command that made the file. */
  command: string;
  /** CPU time per allocation benchmark, ms. */
  budgetMs: number;
  /** Share of the CPUs' time in use (0..1) just before the run, or null. */
  busyAtStart: number | null;
  /** Seconds the whole suite took. */
  seconds: number;
  alloc: AllocResult[];
  firstCall: FirstCall | null;
  churn: ChurnResult[];
  memory: MemoryRow[];
  crossWorker: PageFragTestResults | null;
}

/** Median ns per pair of the contender labelled `label` at `size`, or NaN. */
export function nsByLabel(
  file: ResultsFile,
  label: string,
  size: number,
): number {
  return byLabel(file, label, size)?.ns ?? NaN;
}

/** The contender labelled `label` at `size`. */
export function byLabel(
  file: ResultsFile,
  label: string,
  size: number,
): AllocResult | undefined {
  return file.alloc.find((c) => c.label === label && c.size === size);
}
