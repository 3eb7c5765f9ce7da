/**
 * The targets of the benchmark issue, evaluated on one results file: each
 * gives the measured ratio, whether it is met, and a short cell for the
 * tables (terminal and `BENCHMARKS.md`).
 *
 * Allocation targets are about 256-byte fragments on the heap backend (the
 * default), for each flavour; churn about every backend; cross-worker about
 * the six self-test modes and the 256-byte message hand-off.
 *
 * @module
 */
import { MAIN_SIZE, pagefragLabel } from "./contenders.ts";
import {
  avgByLabel,
  type ResultsFile,
  type RuntimeName,
} from "./results_file.ts";

/** One measured value against its target. */
export interface Check {
  /** What was measured (e.g. "napi"). */
  what: string;
  /** The ratio (or count) measured. */
  value: number;
  pass: boolean;
}

/** A target of the issue. */
export interface Target {
  id: string;
  /** The target as the issue states it. */
  text: string;
  /** Runtimes it applies to. */
  runtimes: readonly RuntimeName[];
  /** How a value is shown: "x" for ratios, "" for counts. */
  unit: "x" | "";
  /** The checks on one results file (empty when it has no data for it). */
  evaluate(file: ResultsFile): Check[];
}

const ALL: readonly RuntimeName[] = ["deno", "bun", "node"];
const V8: readonly RuntimeName[] = ["deno", "node"];
const N = MAIN_SIZE;

/** Checks of `ratio(pagefrag, file)` for the heap backend's two flavours. */
function heapChecks(
  form: "view" | "handle",
  ratio: (pagefrag: number, file: ResultsFile) => number,
  pass: (r: number) => boolean,
): (file: ResultsFile) => Check[] {
  return (file) =>
    (["napi", "netdev"] as const).flatMap((flavour) => {
      const t = avgByLabel(file, pagefragLabel("heap", flavour, form), N);
      const value = ratio(t, file);
      return Number.isFinite(value)
        ? [{ what: flavour, value, pass: pass(value) }]
        : [];
    });
}

const faster = (label: string) => (t: number, file: ResultsFile) =>
  avgByLabel(file, label, N) / t;
const overFloor = (label: string) => (t: number, file: ResultsFile) =>
  t / avgByLabel(file, label, N);

export const TARGETS: readonly Target[] = [
  {
    id: "view-vs-uint8array",
    text: `alloc+free of ${N} B at least 20x faster than new Uint8Array(${N})`,
    runtimes: V8,
    unit: "x",
    evaluate: heapChecks("view", faster("new Uint8Array"), (r) => r >= 20),
  },
  {
    id: "view-vs-allocunsafe",
    text:
      `alloc+free of ${N} B at least 2x faster than Buffer.allocUnsafe(${N})`,
    runtimes: V8,
    unit: "x",
    evaluate: heapChecks("view", faster("Buffer.allocUnsafe"), (r) => r >= 2),
  },
  {
    id: "view-vs-floor",
    text: `alloc+free of ${N} B within 1.5x of the view floor`,
    runtimes: V8,
    unit: "x",
    evaluate: heapChecks("view", overFloor("view floor"), (r) => r <= 1.5),
  },
  {
    id: "handle-vs-floor",
    text: `allocHandle+free of ${N} B within 2x of the handle floor`,
    runtimes: ALL,
    unit: "x",
    evaluate: heapChecks("handle", overFloor("handle floor"), (r) => r <= 2),
  },
  {
    id: "handle-vs-mempool",
    text:
      `allocHandle+free of ${N} B at least 5x faster than MemPool malloc+free`,
    runtimes: ALL,
    unit: "x",
    evaluate: heapChecks("handle", faster("MemPool malloc"), (r) => r >= 5),
  },
  {
    id: "handle-vs-uint8array-bun",
    text:
      `Bun: allocHandle+free of ${N} B at least 3x faster than new Uint8Array(${N})`,
    runtimes: ["bun"],
    unit: "x",
    evaluate: heapChecks("handle", faster("new Uint8Array"), (r) => r >= 3),
  },
  {
    id: "churn-zero-pages",
    text:
      "churn: zero new backend pages after warm-up (pages of new engine memory; allocPage calls in the churn table)",
    runtimes: ALL,
    unit: "",
    evaluate: (file) => {
      // One check per backend: the most new pages of its two forms.
      const checks: Check[] = [];
      for (const c of file.pagefrag.churn) {
        if (c.kind !== "pagefrag" || c.newPages === null) continue;
        const what = c.backend ?? c.name;
        const pass = c.newPages === 0 && c.ok;
        const seen = checks.find((k) => k.what === what);
        if (seen === undefined) checks.push({ what, value: c.newPages, pass });
        else {
          seen.value = Math.max(seen.value, c.newPages);
          seen.pass &&= pass;
        }
      }
      return checks;
    },
  },
  {
    id: "xworker-vs-kernel",
    text:
      "cross-worker self-test: ns per alloc+free pair within 2x of the kernel's (50 ns aligned, 110 ns non-aligned)",
    runtimes: ALL,
    unit: "x",
    evaluate: (file) => {
      const x = file.pagefrag.crossWorker;
      if (x === null) return [];
      return x.modes.map((m) => {
        const k = m.align === 1 ? x.kernel.nonAlignedNs : x.kernel.alignedNs;
        const value = m.nsPerPair / k;
        return {
          what: `${m.len} B${m.align === 1 ? "" : " aligned"}`,
          value,
          pass: value <= 2 && m.ok,
        };
      });
    },
  },
  {
    id: "xworker-vs-postmessage",
    text:
      "cross-worker: fragment address hand-off at least 20x cheaper than postMessage per message",
    runtimes: ALL,
    unit: "x",
    evaluate: (file) => {
      const x = file.pagefrag.crossWorker;
      if (x === null) return [];
      const value = x.postMessageOverRing;
      return [{ what: "256 B", value, pass: value >= 20 && x.ok }];
    },
  },
];

/** `value` as the tables show it. */
export function formatValue(value: number, unit: "x" | ""): string {
  if (unit === "") return value.toLocaleString("en-US");
  return `${value >= 10 ? value.toFixed(1) : value.toFixed(2)}x`;
}

/** One table cell: every check of a target, marked met or missed. */
export function cell(checks: Check[], unit: "x" | ""): string {
  if (checks.length === 0) return "-";
  return checks.map((c) =>
    `${c.what} ${formatValue(c.value, unit)} ${c.pass ? "✓" : "✗"}`
  ).join(", ");
}
