/**
 * Turn the suite's results files into `BENCHMARKS.md` and
 * `bench/results/chart.svg` (drawn here, no chart library): every
 * `bench/results/<runtime>.json` present (deno, bun, node) becomes a column.
 * `bench/suite.ts` calls {@linkcode writeReport} after each full run; run this
 * file to regenerate both from the files alone, on any runtime:
 *
 * ```sh
 * deno run -A bench/report.ts
 * ```
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { MAIN_SIZE, SIZES } from "./contenders.ts";
import { ns, type RuntimeName, RUNTIMES } from "./harness.ts";
import { KERNEL } from "./page_frag_selftest.ts";
import { nsByLabel, type ResultsFile } from "./results_file.ts";
import { cell, TARGETS } from "./targets.ts";

/** The project's root directory. */
const ROOT = fileURLToPath(new URL("../", import.meta.url));

/** Where results files live. */
export const RESULTS_DIR: string = fileURLToPath(
  new URL("./results/", import.meta.url),
);
/** The generated page. */
export const BENCHMARKS_MD: string = fileURLToPath(
  new URL("../BENCHMARKS.md", import.meta.url),
);

const TITLE: Record<RuntimeName, string> = {
  deno: "Deno",
  bun: "Bun",
  node: "Node",
};
/** The command that runs the suite on each runtime. */
export const COMMANDS: Record<RuntimeName, string> = {
  deno: "deno task bench",
  bun: "bun run bench",
  node: "npm run bench:node",
};
const COLOR: Record<RuntimeName, string> = {
  deno: "#3b6fb6",
  bun: "#d9822b",
  node: "#4a9c4a",
};

export type Results = Partial<Record<RuntimeName, ResultsFile>>;

/** Every `<runtime>.json` in `dir` (of this file format: older ones are left out). */
export function loadResults(dir: string = RESULTS_DIR): Results {
  const out: Results = {};
  for (const rt of RUNTIMES) {
    const path = resolve(dir, `${rt}.json`);
    if (!existsSync(path)) continue;
    const file = JSON.parse(readFileSync(path, "utf8")) as ResultsFile;
    if (file.schema === 2) out[rt] = file;
  }
  return out;
}

// ------------------------------------------------------------- formatting

const ratio = (r: number) =>
  !Number.isFinite(r) ? "-" : r >= 10 ? `${r.toFixed(1)}x` : `${r.toFixed(2)}x`;

function bytes(n: number | null): string {
  if (n === null) return "-";
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

/** Draws a table: markdown here, aligned text in the suite's terminal output. */
export type Render = (
  head: string[],
  rows: string[][],
  left?: boolean,
) => string;

/** A markdown table: the first column left-aligned, the rest right-aligned unless `left`. */
export function mdTable(
  head: string[],
  rows: string[][],
  left = false,
): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [
    line(head),
    line(head.map((_, i) => (i === 0 || left ? "---" : "---:"))),
    ...rows.map(line),
  ].join("\n");
}

/** The runtimes present, in order. */
function present(results: Results): RuntimeName[] {
  return RUNTIMES.filter((rt) => results[rt] !== undefined);
}

/** Labels of the contenders at `size`, in the order the suite ran them. */
function labels(results: Results, size: number): string[] {
  const seen: string[] = [];
  for (const rt of present(results)) {
    for (const c of results[rt]!.alloc) {
      if (c.size === size && !seen.includes(c.label)) seen.push(c.label);
    }
  }
  return seen;
}

// --------------------------------------------------------------- markdown

/** The allocation table for `size`: ns per alloc + free, and x new Uint8Array. */
export function allocTable(results: Results, size: number): string {
  const rts = present(results);
  const rows = labels(results, size).map((label) => [
    label,
    ...rts.map((rt) => {
      const f = results[rt]!;
      const t = nsByLabel(f, label, size);
      const base = nsByLabel(f, "new Uint8Array", size);
      return `${ns(t)} ns (${ratio(base / t)})`;
    }),
  ]);
  return mdTable(["contender", ...rts.map((rt) => TITLE[rt])], rows);
}

/** The targets table: every target, per runtime, measured and met or not. */
export function targetsTable(
  results: Results,
  render: Render = mdTable,
): string {
  const rts = present(results);
  const rows = TARGETS.map((t) => [
    t.text,
    ...rts.map((rt) =>
      t.runtimes.includes(rt) ? cell(t.evaluate(results[rt]!), t.unit) : "n/a"
    ),
  ]);
  return render(["target", ...rts.map((rt) => TITLE[rt])], rows, true);
}

/** The churn table of one results file. */
export function churnTable(
  file: ResultsFile,
  render: Render = mdTable,
): string {
  const int = (n: number | null) =>
    n === null ? "-" : n.toLocaleString("en-US");
  const rows = file.churn.map((c) => [
    c.name,
    ns(c.nsPerOp),
    c.gc === null ? "n/a" : `${c.gc.count} / ${c.gc.ms.toFixed(1)} ms`,
    bytes(Math.round(c.liveBytes)),
    c.heldPerLive === null ? "-" : ratio(c.heldPerLive),
    int(c.pageRequests),
    c.newBuffers === null ? "-" : `${int(c.newBuffers)} (${c.newBuffersFrom})`,
    int(c.recycledInPlace),
    c.ok ? "yes" : "NO",
  ]);
  return render([
    "contender",
    "ns/op",
    "GCs / GC time",
    "mean live",
    "page bytes held / live byte",
    "page requests",
    "new buffers",
    "recycled in place",
    "all pages back",
  ], rows);
}

/** Page bytes held per live byte by backend and cache options, per runtime. */
export function memoryTable(
  results: Results,
  render: Render = mdTable,
): string {
  const rts = present(results);
  const rows: string[][] = [];
  for (const m of results[rts[0]]?.memory ?? []) {
    rows.push([
      `${m.backend} ${m.options}`,
      ...rts.map((rt) => {
        const r = results[rt]!.memory.find((x) =>
          x.backend === m.backend && x.options === m.options
        );
        return r === undefined ? "-" : ratio(r.heldPerLive);
      }),
    ]);
  }
  return render(["backend and options", ...rts.map((rt) => TITLE[rt])], rows);
}

/** The first-call figures, per runtime. */
export function firstCallTable(
  results: Results,
  render: Render = mdTable,
): string {
  const rts = present(results);
  const cells = (f: (fc: NonNullable<ResultsFile["firstCall"]>) => string) =>
    rts.map((rt) => {
      const fc = results[rt]!.firstCall;
      return fc === null ? "-" : f(fc);
    });
  return render(["figure", ...rts.map((rt) => TITLE[rt])], [
    [
      "import the library (fresh process)",
      ...cells((f) => `${f.importMs.toFixed(1)} ms`),
    ],
    [
      "first `createPageFragCache()`",
      ...cells((f) => `${f.createUs.toFixed(0)} µs`),
    ],
    [
      "first `alloc(256)`+`free`",
      ...cells((f) => `${f.firstPairUs.toFixed(0)} µs`),
    ],
    [
      "second `alloc(256)`+`free`",
      ...cells((f) => `${f.secondPairUs.toFixed(1)} µs`),
    ],
    [
      "`createPageFragCache()`, warm (mitata)",
      ...cells((f) => `${f.warmCreateUs.toFixed(1)} µs`),
    ],
    [
      "user's first mitata bench, no warm-up / warmed",
      ...cells((f) =>
        `${ns(f.userColdNs)} / ${ns(f.userWarmNs)} ns (${
          ratio(f.userColdNs / f.userWarmNs)
        })`
      ),
    ],
  ]);
}

/** The cross-worker table: every mode and the message hand-off, per runtime. */
export function crossWorkerTable(results: Results): string {
  const rts = present(results).filter((rt) =>
    results[rt]!.crossWorker !== null
  );
  if (rts.length === 0) return "(no cross-worker results)";
  const first = results[rts[0]]!.crossWorker!;
  const rows = first.modes.map((m, i) => {
    const k = m.align === 1
      ? first.kernel.nonAlignedNs
      : first.kernel.alignedNs;
    return [
      `${m.len} B, ${m.align === 1 ? "not aligned" : "aligned to 64"}`,
      ns(k),
      ...rts.map((rt) => {
        const r = results[rt]!.crossWorker!.modes[i];
        return `${ns(r.nsPerPair)} (${ratio(r.nsPerPair / k)})`;
      }),
    ];
  });
  rows.push([
    "256 B message: address on the ring / postMessage",
    "-",
    ...rts.map((rt) => {
      const x = results[rt]!.crossWorker!;
      return `${ns(x.messages[0].nsPerMsg)} / ${ns(x.messages[1].nsPerMsg)} (${
        ratio(x.postMessageOverRing)
      } cheaper)`;
    }),
  ]);
  return mdTable(
    ["ns per alloc+free pair", "kernel", ...rts.map((rt) => TITLE[rt])],
    rows,
  );
}

/** `BENCHMARKS.md` for `results`; `chartPath` relative to the page. */
export function renderMarkdown(results: Results, chartPath: string): string {
  const rts = present(results);
  const out: string[] = [];
  out.push(
    "# Benchmarks",
    "",
    "<!-- Generated by bench/report.ts from bench/results/*.json: do not edit by hand. -->",
    "",
    "pagefrag side by side with its peers, on one machine. Each column comes from one command,",
    "which runs `bench/suite.ts` (mitata, one process per runtime, every ratio against baselines",
    "measured in the same process), writes `bench/results/<runtime>.json` and regenerates this",
    "page and the chart from every results file present. Measure on your own machine: these",
    "are one machine's numbers; docs/performance.md explains the missed targets.",
    "",
    mdTable(
      [
        "runtime",
        "command",
        "version",
        "CPU",
        "date",
        "CPUs busy before the start",
        "suite time",
      ],
      rts.map((rt) => {
        const p = results[rt]!;
        return [
          TITLE[rt],
          `\`${p.command}\``,
          p.runtimeVersion,
          `${p.cpu} (${p.cpus} CPUs)`,
          p.date.slice(0, 16).replace("T", " "),
          p.busyAtStart === null ? "-" : `${Math.round(p.busyAtStart * 100)}%`,
          `${p.seconds.toFixed(0)} s`,
        ];
      }),
      true,
    ),
    "",
    `![alloc + free of ${MAIN_SIZE} B, ns per operation, per runtime](${chartPath})`,
    "",
    "## Targets",
    "",
    `Issue 11's targets. Allocation: ${MAIN_SIZE}-byte fragments on the heap backend (the default),`,
    "for each flavour (napi, netdev). ✓ met, ✗ missed. Ratios are of mitata's medians in one run.",
    "",
    targetsTable(results),
    "",
    "## Allocate + free",
    "",
    "ns per alloc + free (the median of mitata's `measure()` samples, divided by the 64 pairs",
    "every call runs), and in brackets how many times faster than `new Uint8Array(n)` in",
    "the same process (above 1 is faster). Each pagefrag contender is",
    "`<backend> <flavour> <form>`: `alloc` returns a `Uint8Array` and is freed by view,",
    "`allocHandle` returns an address and is freed by address. The floors are the least work",
    "any refcounted page allocator can do (`bench/floors.ts`). Budgets: mitata measures each",
    `benchmark for ${
      rts.map((rt) => `${results[rt]!.budgetMs} ms`).filter((
        v,
        i,
        a,
      ) => a.indexOf(v) === i).join(" / ")
    } of CPU time (\`bench/harness.ts\`).`,
    "",
  );
  for (const size of [MAIN_SIZE, ...SIZES.filter((s) => s !== MAIN_SIZE)]) {
    out.push(`### ${size} B`, "", allocTable(results, size), "");
  }
  out.push(
    "## First calls",
    "",
    "A fresh process per figure (`bench/first_call.ts`, median of the processes): the first",
    "cache and the first `alloc`+`free`, each timed alone with `performance.now()`; and the",
    'benchmark a user writes first (`bench("alloc", () => { const v = c.alloc(256); c.free(v);',
    "return v; })`, no warm-up) against the same body warmed, in one mitata `run()` (ns per call).",
    "",
    firstCallTable(results),
    "",
    "## Churn",
    "",
    "A packet-size mix (64, 576 and 1500 bytes at 7:4:1) with random lifetimes (each operation",
    "frees a random one of 128 live buffers and allocates the next: geometric, i.e. exponential,",
    "lifetimes with a mean of 128 operations), replayed from the same seeded script for every",
    "contender; pagefrag on a napi cache. *Page bytes held / live byte*: the backend's bytes of",
    "pages over the bytes the workload holds, averaged over the run. *Page requests*: backend",
    "`allocPage` calls after warm-up; *new buffers*: new `ArrayBuffer`s made after warm-up",
    "(`backend.stats().buffersCreated`, or the arena's growth in 32 KiB pages); *recycled in",
    "place*: exhausted pages the cache reused because every fragment was already free. GCs:",
    "`v8.GCProfiler` over the measured operations.",
    "",
  );
  for (const rt of rts) {
    const f = results[rt]!;
    const c = f.churn[0];
    out.push(
      `### ${TITLE[rt]}${
        c === undefined
          ? ""
          : ` (${c.ops.toLocaleString("en-US")} operations after warm-up)`
      }`,
      "",
      churnTable(f),
      "",
    );
  }
  out.push(
    "### Page bytes held per live byte, by cache options",
    "",
    "The same workload (allocHandle form) with smaller pages: a page goes back only when its",
    "last fragment does, so smaller pages hold less (docs/performance.md).",
    "",
    memoryTable(results),
    "",
  );
  const x = rts.map((rt) => results[rt]!.crossWorker).find((x) => x !== null);
  out.push(
    "## Cross-worker",
    "",
    "The kernel's page_frag self-test, ported (`bench/page_frag_test.ts`): a producer worker",
    "allocates from its own cache on a shared backend and pushes addresses through a 512-slot",
    "ring; a consumer worker frees them. ns per alloc+free pair, and in brackets against the",
    `kernel series' cover letter (arm64, ${KERNEL.len}-byte fragments: ${
      ns(KERNEL.alignedS * 1e9 / KERNEL.pairs)
    } ns aligned, ${
      ns(KERNEL.nonAlignedS * 1e9 / KERNEL.pairs)
    } ns not aligned).`,
    `The suite runs ${
      x === undefined ? "?" : x.nrTest.toLocaleString("en-US")
    } pairs per mode (the command line's default is 2,000,000).`,
    "",
    crossWorkerTable(results),
    "",
  );
  return out.join("\n");
}

// ------------------------------------------------------------------ chart

function esc(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(
    ">",
    "&gt;",
  );
}

/**
 * The main comparison as SVG: alloc + free of `MAIN_SIZE` bytes, one row per
 * contender, one bar per runtime, log scale (shorter is faster).
 */
export function renderChart(results: Results): string {
  const rts = present(results);
  const rows = labels(results, MAIN_SIZE);
  const labelW = 190, plotW = 560, right = 70, top = 58, bar = 9, gap = 10;
  const rowH = Math.max(1, rts.length) * bar + gap;
  const height = top + rows.length * rowH + 40;
  const width = labelW + plotW + right;
  let max = 1;
  for (const rt of rts) {
    for (const l of rows) {
      const t = nsByLabel(results[rt]!, l, MAIN_SIZE);
      if (Number.isFinite(t)) max = Math.max(max, t);
    }
  }
  const decades = Math.max(1, Math.ceil(Math.log10(max)));
  const x = (t: number) =>
    labelW + (Math.log10(Math.max(1, t)) / decades) * plotW;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${
      width / 2
    }" y="18" text-anchor="middle" font-size="14" font-weight="bold">alloc + free of ${MAIN_SIZE} B: ns per operation (log scale, shorter is faster)</text>`,
  );
  rts.forEach((rt, i) => {
    const lx = labelW + i * 150;
    out.push(
      `<rect x="${lx}" y="30" width="12" height="12" fill="${COLOR[rt]}"/>`,
      `<text x="${lx + 16}" y="40">${
        esc(results[rt]!.runtimeVersion.split(" (")[0])
      }</text>`,
    );
  });
  for (let d = 0; d <= decades; d++) {
    const gx = labelW + (d / decades) * plotW;
    out.push(
      `<line x1="${gx}" y1="${top - 4}" x2="${gx}" y2="${
        top + rows.length * rowH
      }" stroke="#dddddd"/>`,
      `<text x="${gx}" y="${
        top + rows.length * rowH + 14
      }" text-anchor="middle" fill="#555555">${
        (10 ** d).toLocaleString("en-US")
      } ns</text>`,
    );
  }
  rows.forEach((label, r) => {
    const y0 = top + r * rowH;
    out.push(
      `<text x="${labelW - 6}" y="${
        y0 + (rowH - gap) / 2 + 4
      }" text-anchor="end">${esc(label)}</text>`,
    );
    rts.forEach((rt, i) => {
      const t = nsByLabel(results[rt]!, label, MAIN_SIZE);
      if (!Number.isFinite(t)) return;
      const y = y0 + i * bar;
      out.push(
        `<rect x="${labelW}" y="${y}" width="${
          (x(t) - labelW).toFixed(1)
        }" height="${bar - 1}" fill="${COLOR[rt]}"><title>${TITLE[rt]} ${
          esc(label)
        }: ${ns(t)} ns</title></rect>`,
        `<text x="${(x(t) + 3).toFixed(1)}" y="${
          y + bar - 1.5
        }" font-size="8" fill="#333333">${ns(t)}</text>`,
      );
    });
  });
  out.push(
    `<text x="${labelW}" y="${
      height - 8
    }" fill="#555555">made by bench/report.ts from bench/results/*.json</text>`,
    "</svg>",
    "",
  );
  return out.join("\n");
}

/**
 * Format generated files with the project's formatter (`deno fmt`), so that
 * `deno fmt --check` stays clean: Deno's own binary, or the one the `deno`
 * dev dependency installs. False (and the files as written) without one.
 */
export function formatGenerated(paths: string[]): boolean {
  const deno = "Deno" in globalThis
    ? process.execPath
    : resolve(ROOT, "node_modules", ".bin", "deno");
  if (!existsSync(deno)) return false;
  const r = spawnSync(deno, ["fmt", "--quiet", ...paths], {
    cwd: ROOT,
    stdio: "ignore",
    env: { ...process.env, NO_COLOR: "1" },
  });
  return r.status === 0;
}

/**
 * The section `npm run bench:realworld` writes (between its markers) in the
 * page as it is now, so regenerating the suite's part keeps it.
 */
function realworldSection(mdPath: string): string {
  let old = "";
  try {
    old = readFileSync(mdPath, "utf8");
  } catch {
    return "";
  }
  const start = old.indexOf("<!-- realworld:start -->");
  const endMark = "<!-- realworld:end -->";
  const end = old.indexOf(endMark);
  return start < 0 || end < start
    ? ""
    : "\n" + old.slice(start, end + endMark.length) + "\n";
}

/**
 * Regenerate `BENCHMARKS.md` and `chart.svg` from the results files in
 * `dir`, and format them and the results files; returns the paths written
 * (none when there are no results).
 */
export function writeReport(
  dir: string = RESULTS_DIR,
  mdPath: string = BENCHMARKS_MD,
): string[] {
  const results = loadResults(dir);
  const rts = present(results);
  if (rts.length === 0) return [];
  const chart = resolve(dir, "chart.svg");
  writeFileSync(chart, renderChart(results));
  const chartLink = relative(dirname(mdPath), chart).replaceAll("\\", "/");
  writeFileSync(
    mdPath,
    renderMarkdown(results, chartLink) + realworldSection(mdPath),
  );
  const json = rts.map((rt) => resolve(dir, `${rt}.json`));
  if (!formatGenerated([mdPath, chart, ...json])) {
    console.log(
      "note: deno not found: run `deno fmt` on BENCHMARKS.md and bench/results/",
    );
  }
  return [mdPath, chart];
}

if (
  process.argv[1] !== undefined &&
  resolve(process.argv[1]) === fileURLToPath(import.meta.url)
) {
  const written = writeReport();
  console.log(
    written.length === 0
      ? `no results in ${RESULTS_DIR}: run the suite first`
      : `wrote ${written.join(" and ")}`,
  );
}
