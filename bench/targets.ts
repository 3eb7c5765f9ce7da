/**
 * The targets of issue 11 (and the cross-worker targets before it),
 * evaluated on one results file: each check gives the measured value,
 * whether it is met, and a short cell for the tables (terminal and
 * `BENCHMARKS.md`).
 *
 * Allocation targets are about 256-byte fragments on the heap backend (the
 * default), for each flavour; churn about every backend.
 *
 * @module
 */
import { MAIN_SIZE, pagefragLabel } from "./contenders.ts";
import type { RuntimeName } from "./harness.ts";
import { byLabel, nsByLabel, type ResultsFile } from "./results_file.ts";

/** One measured value against its target. */
export interface Check {
  /** What was measured (e.g. "napi"). */
  what: string;
  value: number;
  pass: boolean;
}

/** How a value is shown. */
export type Unit = "x" | "" | " B" | " µs";

/** A target of the issue. */
export interface Target {
  /** The target as the issue states it. */
  text: string;
  /** Runtimes it applies to. */
  runtimes: readonly RuntimeName[];
  unit: Unit;
  /** The checks on one results file (empty when it has no data for it). */
  evaluate(file: ResultsFile): Check[];
}

const ALL: readonly RuntimeName[] = ["deno", "bun", "node"];
const V8: readonly RuntimeName[] = ["deno", "node"];
const N = MAIN_SIZE;

/** One check per flavour of `value(flavour, file)` on the heap backend. */
function perFlavour(
  value: (flavour: "napi" | "netdev", file: ResultsFile) => number,
  pass: (v: number) => boolean,
): (file: ResultsFile) => Check[] {
  return (file) =>
    (["napi", "netdev"] as const).flatMap((what) => {
      const v = value(what, file);
      return Number.isFinite(v) ? [{ what, value: v, pass: pass(v) }] : [];
    });
}

const heap = (f: "napi" | "netdev", form: "view" | "handle") =>
  pagefragLabel("heap", f, form);
/** How many times faster the heap contender is than `label`. */
const fasterThan =
  (label: string, form: "view" | "handle" = "view") =>
  (f: "napi" | "netdev", file: ResultsFile) =>
    nsByLabel(file, label, N) / nsByLabel(file, heap(f, form), N);

/** A first-call figure, when the run has them. */
function firstCall(
  what: string,
  value: (fc: NonNullable<ResultsFile["firstCall"]>) => number,
  pass: (v: number) => boolean,
): (file: ResultsFile) => Check[] {
  return (file) => {
    const fc = file.firstCall;
    if (fc === null) return [];
    const v = value(fc);
    return Number.isFinite(v) ? [{ what, value: v, pass: pass(v) }] : [];
  };
}

/** Checks of the cross-worker results, when the run has them. */
function crossWorker(
  checks: (x: NonNullable<ResultsFile["crossWorker"]>) => Check[],
): (file: ResultsFile) => Check[] {
  return (file) => file.crossWorker === null ? [] : checks(file.crossWorker);
}

export const TARGETS: readonly Target[] = [
  {
    text:
      `alloc+free of ${N} B at least 3x faster than Buffer.allocUnsafe(${N})`,
    runtimes: ALL,
    unit: "x",
    evaluate: perFlavour(fasterThan("Buffer.allocUnsafe"), (r) => r >= 3),
  },
  {
    text: `alloc+free of ${N} B at least 30x faster than new Uint8Array(${N})`,
    runtimes: V8,
    unit: "x",
    evaluate: perFlavour(fasterThan("new Uint8Array"), (r) => r >= 30),
  },
  {
    text:
      `Bun: alloc+free of ${N} B at least 3x faster than new Uint8Array(${N})`,
    runtimes: ["bun"],
    unit: "x",
    evaluate: perFlavour(fasterThan("new Uint8Array"), (r) => r >= 3),
  },
  {
    text: `alloc+free of ${N} B within 1.5x of allocHandle+free`,
    runtimes: ALL,
    unit: "x",
    evaluate: perFlavour(
      (f, file) =>
        nsByLabel(file, heap(f, "view"), N) /
        nsByLabel(file, heap(f, "handle"), N),
      (r) => r <= 1.5,
    ),
  },
  {
    text:
      `alloc+free of ${N} B: under 8 B of JS heap per pair (mitata's heap figure)`,
    runtimes: V8,
    unit: " B",
    evaluate: perFlavour(
      (f, file) => byLabel(file, heap(f, "view"), N)?.heap ?? NaN,
      (b) => b < 8,
    ),
  },
  {
    text: `allocHandle+free of ${N} B within 3x of the bump-pointer floor`,
    runtimes: ALL,
    unit: "x",
    evaluate: perFlavour(
      (f, file) =>
        nsByLabel(file, heap(f, "handle"), N) /
        nsByLabel(file, "handle floor", N),
      (r) => r <= 3,
    ),
  },
  {
    text: `allocHandle+free of ${N} B faster than MemPool malloc+free`,
    runtimes: ALL,
    unit: "x",
    evaluate: perFlavour(fasterThan("MemPool malloc", "handle"), (r) => r > 1),
  },
  {
    text:
      "churn: 0 new ArrayBuffers after warm-up (new buffers in the churn table)",
    runtimes: ALL,
    unit: "",
    evaluate: (file) => {
      // One check per backend: the most new buffers of its two forms.
      const checks: Check[] = [];
      for (const c of file.churn) {
        if (c.kind !== "pagefrag" || c.newBuffers === null) continue;
        const what = c.backend ?? c.name;
        const pass = c.newBuffers === 0 && c.ok;
        const seen = checks.find((k) => k.what === what);
        if (seen === undefined) {
          checks.push({ what, value: c.newBuffers, pass });
        } else {
          seen.value = Math.max(seen.value, c.newBuffers);
          seen.pass &&= pass;
        }
      }
      return checks;
    },
  },
  {
    text: "first alloc+free of a fresh process under 250 µs",
    runtimes: ALL,
    unit: " µs",
    evaluate: firstCall("first", (fc) => fc.firstPairUs, (us) => us < 250),
  },
  {
    text: "createPageFragCache() on a warmed process under 20 µs",
    runtimes: ALL,
    unit: " µs",
    evaluate: firstCall("warm", (fc) => fc.warmCreateUs, (us) => us < 20),
  },
  {
    text:
      "a user's first mitata bench of alloc+free (no warm-up) within 1.3x of a warmed one",
    runtimes: ALL,
    unit: "x",
    evaluate: firstCall(
      "cold/warm",
      (fc) => fc.userColdNs / fc.userWarmNs,
      (r) => r <= 1.3,
    ),
  },
  {
    text:
      "cross-worker self-test: ns per pair within 2x of the kernel's (50 ns aligned, 110 ns non-aligned)",
    runtimes: ALL,
    unit: "x",
    evaluate: crossWorker((x) =>
      x.modes.map((m) => {
        const k = m.align === 1 ? x.kernel.nonAlignedNs : x.kernel.alignedNs;
        const value = m.nsPerPair / k;
        const what = `${m.len} B${m.align === 1 ? "" : " aligned"}`;
        return { what, value, pass: value <= 2 && m.ok };
      })
    ),
  },
  {
    text:
      "cross-worker: fragment address hand-off at least 20x cheaper than postMessage",
    runtimes: ALL,
    unit: "x",
    evaluate: crossWorker((x) => [{
      what: "256 B",
      value: x.postMessageOverRing,
      pass: x.postMessageOverRing >= 20 && x.ok,
    }]),
  },
];

/** `value` as the tables show it. */
export function formatValue(value: number, unit: Unit): string {
  if (unit === "") return value.toLocaleString("en-US");
  if (unit === "x") {
    return `${value >= 10 ? value.toFixed(1) : value.toFixed(2)}x`;
  }
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)}${unit}`;
}

/** One table cell: every check of a target, marked met or missed. */
export function cell(checks: Check[], unit: Unit): string {
  if (checks.length === 0) return "-";
  return checks.map((c) =>
    `${c.what} ${formatValue(c.value, unit)} ${c.pass ? "✓" : "✗"}`
  ).join(", ");
}
