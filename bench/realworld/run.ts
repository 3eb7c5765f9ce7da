/**
 * The real-world benchmarks: `npm run bench:realworld`.
 *
 * Runs every workload module beside this file (`tcp_receive.ts`,
 * `encode.ts`, `pipeline.ts`: each exports a {@linkcode Workload}) on Node,
 * Deno and Bun, each (runtime, workload, mode) in a child process of its
 * own (bench/realworld/child.ts), 3 reps with the order of the runs rotated
 * each rep. It records messages/s, CPU time per message, GCs and peak RSS,
 * writes `bench/results/realworld.json` (rows
 * `{ runtime, workload, mode, baseline, perSec, cpuNsPer, gcs, rssMB, rep }`)
 * and the section of BENCHMARKS.md between `<!-- realworld:start -->` and
 * `<!-- realworld:end -->`, with the medians, the targets and a chart.
 *
 * GCs are counted from each runtime's own GC log: Node
 * `node --trace-gc` and Deno `--v8-flags=--trace-gc` print one line per
 * collection (`... ms: Scavenge ...`, `Mark-Compact`, ...) on stdout; Bun
 * with `BUN_JSC_logGC=1` prints one `[GC<...>: START ...` line per
 * JavaScriptCore collection (eden or full) on stderr. Worker threads are
 * counted too (they log to the same streams).
 *
 * Flags: `--quick` (small counts, one child per runtime and workload, one
 * rep, correctness only, nothing written; exit code 1 if a check failed),
 * `--runtimes=node,deno,bun`, `--workloads=pipeline,...`, `--reps=3`,
 * `--count=<n>` (messages per run, for every workload), `--no-write`
 * (print only).
 *
 * @module
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { type ChildReport, MARKER } from "./child.ts";
import type { Workload } from "./workload.ts";

/** One result row of bench/results/realworld.json. */
export interface Row {
  runtime: Runtime;
  workload: string;
  mode: string;
  baseline: boolean;
  perSec: number;
  cpuNsPer: number;
  gcs: number;
  rssMB: number;
  rep: number;
}

type Runtime = "node" | "deno" | "bun";
const RUNTIMES: Runtime[] = ["node", "deno", "bun"];
const NAMES: Record<Runtime, string> = {
  node: "Node",
  deno: "Deno",
  bun: "Bun",
};
/** The workload modules, in the order of the report. */
const MODULES = ["tcp_receive.ts", "encode.ts", "pipeline.ts"];

const here = new URL(".", import.meta.url);
const root = new URL("../../", import.meta.url);
const CHILD = fileURLToPath(new URL("child.ts", here));

/** A runtime's binary: node_modules/.bin first (deno and bun come from npm), then PATH. */
function bin(rt: Runtime): string {
  if (rt === "node") {
    return process.execPath.includes("node") ? process.execPath : "node";
  }
  const local = fileURLToPath(new URL(`node_modules/.bin/${rt}`, root));
  return existsSync(local) ? local : rt;
}

/** The command line and environment that run the child on `rt` with GC logging on. */
function command(rt: Runtime, args: string[]) {
  const env = { ...process.env, NO_COLOR: "1" };
  if (rt === "node") {
    return {
      cmd: bin(rt),
      argv: ["--trace-gc", "--import", "tsx", CHILD, ...args],
      env,
    };
  }
  if (rt === "deno") {
    return {
      cmd: bin(rt),
      argv: ["run", "-A", "--v8-flags=--trace-gc", CHILD, ...args],
      env,
    };
  }
  return {
    cmd: bin(rt),
    argv: [CHILD, ...args],
    env: { ...env, BUN_JSC_logGC: "1" },
  };
}

// One match per collection. Not anchored: several threads log to the same
// stream, and a line of one can land in the middle of another's.
const V8_GC =
  /\[\d+:0x[0-9a-f]+\]\s+\d+ ms: (Scavenge|Mark-Compact|Mark-Sweep|Minor)/gi;
const JSC_GC = /\[GC<[^>]*>: START/g;
/** Collections logged in `line`. */
function gcsIn(line: string): number {
  return (line.match(V8_GC)?.length ?? 0) + (line.match(JSC_GC)?.length ?? 0);
}

interface ChildRun {
  reports: ChildReport[];
  gcs: number;
  code: number | null;
  stderr: string;
}

/** Run one child to its end (bounded by `timeoutMs`), counting its GC log lines. */
function runChild(
  rt: Runtime,
  file: string,
  modes: string[],
  count: number | undefined,
  quick: boolean,
  timeoutMs: number,
): Promise<ChildRun> {
  const report = join(
    tmpdir(),
    `pagefrag-realworld-${process.pid}-${Date.now()}-${
      Math.random().toString(36).slice(2)
    }.jsonl`,
  );
  const args = [
    fileURLToPath(new URL(file, here)),
    `--out=${report}`,
    `--modes=${modes.join(",")}`,
    ...(count === undefined ? [] : [`--count=${count}`]),
    ...(quick ? ["--quick"] : []),
  ];
  const { cmd, argv, env } = command(rt, args);
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, {
      cwd: fileURLToPath(root),
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const reports: ChildReport[] = [];
    let gcs = 0, n = 0, out = "", err = "", errKept = "";
    const lines = (chunk: string, isErr: boolean) => {
      const text = (isErr ? err : out) + chunk;
      const parts = text.split("\n");
      const rest = parts.pop()!;
      if (isErr) err = rest;
      else out = rest;
      for (const line of parts) {
        if (line.startsWith(MARKER)) {
          reports.push(JSON.parse(line.slice(MARKER.length)));
        } else if ((n = gcsIn(line)) > 0) gcs += n;
        else if (
          isErr && errKept.length < 20_000 &&
          // Bun's GC log, whose lines interleaved writes from several
          // threads can split: keep only what is not part of it.
          !/^(GC END|\[GC<|Requesting GC)|kb\b|ms\]|END\]|^\s*$/.test(line)
        ) {
          errKept += line + "\n";
        }
      }
    };
    child.stdout.setEncoding("utf8").on("data", (c: string) => lines(c, false));
    child.stderr.setEncoding("utf8").on("data", (c: string) => lines(c, true));
    const timer = setTimeout(() => {
      errKept += `killed after ${timeoutMs} ms\n`;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      lines("\n", false);
      lines("\n", true);
      if (existsSync(report)) {
        for (const line of readFileSync(report, "utf8").split("\n")) {
          if (line.startsWith(MARKER)) {
            reports.push(JSON.parse(line.slice(MARKER.length)));
          }
        }
        rmSync(report);
      }
      resolve({ reports, gcs, code, stderr: errKept });
    });
  });
}

async function versions(): Promise<Record<Runtime, string>> {
  const v = {} as Record<Runtime, string>;
  for (const rt of RUNTIMES) {
    v[rt] = await new Promise<string>((resolve) => {
      const c = spawn(bin(rt), ["--version"], {
        stdio: ["ignore", "pipe", "ignore"],
      });
      let s = "";
      c.stdout.setEncoding("utf8").on("data", (d: string) => (s += d));
      // "deno 2.9.5 (stable, ...)" -> "2.9.5"; "v20.20.2" -> "20.20.2".
      c.on("close", () =>
        resolve(
          s.split("\n")[0].trim().replace(/^(deno|bun)\s+/i, "").replace(
            /^v/,
            "",
          )
            .replace(/\s*\(.*\)$/, ""),
        ));
      c.on("error", () => resolve("not found"));
    });
  }
  return v;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function flag(name: string): string | undefined {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a?.slice(name.length + 3);
}

// ------------------------------------------------------------------ report

/** A number with a k/M suffix, 3 significant digits. */
function si(x: number): string {
  if (x >= 1e6) return `${(x / 1e6).toPrecision(3)}M`;
  if (x >= 1e3) return `${(x / 1e3).toPrecision(3)}k`;
  return x.toPrecision(3);
}

interface Median {
  runtime: Runtime;
  workload: string;
  mode: string;
  baseline: boolean;
  perSec: number;
  cpuNsPer: number;
  gcs: number;
  rssMB: number;
}

function medians(rows: Row[]): Median[] {
  const groups = new Map<string, Row[]>();
  for (const r of rows) {
    const k = `${r.runtime}\0${r.workload}\0${r.mode}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  return [...groups.values()].map((g) => ({
    runtime: g[0].runtime,
    workload: g[0].workload,
    mode: g[0].mode,
    baseline: g[0].baseline,
    perSec: median(g.map((r) => r.perSec)),
    cpuNsPer: median(g.map((r) => r.cpuNsPer)),
    gcs: median(g.map((r) => r.gcs)),
    rssMB: median(g.map((r) => r.rssMB)),
  }));
}

/** A target: pagefrag's mode of a workload against a baseline mode (matched by name). */
interface Target {
  text: string;
  workload: string;
  baseline: RegExp;
  /** Minimum ratio of messages/s per runtime. */
  speed: Partial<Record<Runtime, number>>;
  /** Minimum ratio of baseline GCs to pagefrag's GCs, if any. */
  gcs?: number;
}

const TARGETS: Target[] = [
  {
    text:
      "tcp-receive through the adapter: messages/s at least 1.5x Buffer.allocUnsafe (Node, Deno), 1.2x (Bun), with at least 4x fewer GCs",
    workload: "tcp-receive",
    baseline: /allocUnsafe/,
    speed: { node: 1.5, deno: 1.5, bun: 1.2 },
    gcs: 4,
  },
  {
    text:
      "encode through FragWriter: messages/s at least 1.5x the Buffer.allocUnsafe encoder",
    workload: "encode",
    baseline: /allocUnsafe/,
    speed: { node: 1.5, deno: 1.5, bun: 1.5 },
  },
  {
    text:
      "pipeline through FragRing: messages/s at least 5x postMessage of a Uint8Array",
    workload: "pipeline",
    baseline: /postMessage Uint8Array/,
    speed: { node: 5, deno: 5, bun: 5 },
  },
  {
    text:
      "pipeline through FragRing: no slower than a plain SharedArrayBuffer byte ring",
    workload: "pipeline",
    baseline: /byte ring/,
    speed: { node: 1, deno: 1, bun: 1 },
  },
];

function targetCell(t: Target, ms: Median[], rt: Runtime): string {
  const of = ms.filter((m) => m.runtime === rt && m.workload === t.workload);
  const mine = of.find((m) => !m.baseline);
  const base = of.find((m) => m.baseline && t.baseline.test(m.mode));
  if (mine === undefined || base === undefined) return "n/a";
  const speed = mine.perSec / base.perSec;
  let ok = speed >= t.speed[rt]!;
  let cell = `${speed.toFixed(2)}x`;
  if (t.gcs !== undefined) {
    const fewer = base.gcs / Math.max(mine.gcs, 1);
    ok &&= fewer >= t.gcs;
    cell += `, GCs ${base.gcs} -> ${mine.gcs} (${fewer.toFixed(1)}x fewer)`;
  }
  return `${cell} ${ok ? "✓" : "✗"}`;
}

function table(head: string[], body: string[][]): string {
  const rows = [head, head.map(() => "---"), ...body];
  return rows.map((r) => `| ${r.join(" | ")} |`).join("\n");
}

/** The BENCHMARKS.md section (without the markers). */
export function section(
  rows: Row[],
  meta: {
    date: string;
    cpu: string;
    load: string;
    versions: Record<Runtime, string>;
    seconds: number;
    reps: number;
  },
): string {
  const ms = medians(rows);
  const runtimes = RUNTIMES.filter((rt) => ms.some((m) => m.runtime === rt));
  const workloads = [...new Set(ms.map((m) => m.workload))];
  const out: string[] = [];
  out.push("## Real-world workloads");
  out.push("");
  out.push(
    "<!-- Generated by bench/realworld/run.ts from bench/results/realworld.json: do not edit by hand. -->",
  );
  out.push("");
  out.push(
    "Three programs a user would write, each run in a process of its own on every runtime " +
      `(\`npm run bench:realworld\`, ${meta.reps} rep${
        meta.reps === 1 ? "" : "s"
      }, order rotated each rep; medians shown). ` +
      "Messages/s and CPU time are of the region a workload times (the pipeline's: from both " +
      "workers ready to the last message checked, so worker start-up is left out; otherwise the " +
      "whole run); CPU time is the process's (worker threads included) divided by the messages; GCs are " +
      "collections in the runtime's GC log (Node `--trace-gc`, Deno `--v8-flags=--trace-gc`, " +
      "Bun `BUN_JSC_logGC=1`) over the whole process; RSS is the process's peak.",
  );
  out.push("");
  out.push(
    `${meta.date}, ${meta.cpu}, load average ${meta.load} at the start, ${meta.seconds} s in all; ` +
      runtimes.map((rt) => `${NAMES[rt]} ${meta.versions[rt]}`).join(", ") +
      ".",
  );
  out.push("");
  out.push("### Targets");
  out.push("");
  out.push(table(
    ["target", ...runtimes.map((rt) => NAMES[rt])],
    TARGETS.filter((t) => workloads.includes(t.workload)).map((t) => [
      t.text,
      ...runtimes.map((rt) => targetCell(t, ms, rt)),
    ]),
  ));
  for (const w of workloads) {
    out.push("");
    out.push(`### ${w}`);
    out.push("");
    const body: string[][] = [];
    for (const rt of runtimes) {
      const of = ms.filter((m) => m.runtime === rt && m.workload === w);
      const mine = of.find((m) => !m.baseline);
      for (const m of of) {
        body.push([
          NAMES[rt],
          m.baseline ? m.mode : `**${m.mode}**`,
          si(m.perSec),
          mine === undefined || m === mine
            ? ""
            : `${(mine.perSec / m.perSec).toFixed(2)}x`,
          Math.round(m.cpuNsPer).toLocaleString("en-US"),
          String(m.gcs),
          m.rssMB.toFixed(0),
        ]);
      }
    }
    out.push(table(
      [
        "runtime",
        "mode",
        "messages/s",
        "pagefrag's speed-up",
        "CPU ns/message",
        "GCs",
        "peak RSS MB",
      ],
      body,
    ));
    out.push("");
    out.push("```text");
    const width = 40;
    for (const rt of runtimes) {
      const of = ms.filter((m) => m.runtime === rt && m.workload === w);
      const top = Math.max(...of.map((m) => m.perSec));
      const pad = Math.max(...of.map((m) => m.mode.length));
      out.push(`${NAMES[rt]}, messages/s`);
      for (const m of of) {
        const n = Math.max(1, Math.round((m.perSec / top) * width));
        out.push(
          `  ${m.mode.padEnd(pad)} ${"█".repeat(n)}${" ".repeat(width - n)} ${
            si(m.perSec)
          }`,
        );
      }
    }
    out.push("```");
  }
  return out.join("\n");
}

const START = "<!-- realworld:start -->";
const END = "<!-- realworld:end -->";

/** Put `body` between the markers of BENCHMARKS.md (appending them the first time). */
function writeSection(body: string): void {
  const file = fileURLToPath(new URL("BENCHMARKS.md", root));
  const text = existsSync(file) ? readFileSync(file, "utf8") : "# Benchmarks\n";
  const block = `${START}\n\n${body}\n\n${END}`;
  const a = text.indexOf(START), b = text.indexOf(END);
  const next = a >= 0 && b > a
    ? text.slice(0, a) + block + text.slice(b + END.length)
    : text.replace(/\n*$/, "\n\n") + block + "\n";
  writeFileSync(file, next);
}

// ------------------------------------------------------------------ main

async function main(): Promise<void> {
  const started = performance.now();
  const quick = process.argv.includes("--quick");
  const runtimes = (flag("runtimes")?.split(",") ?? RUNTIMES) as Runtime[];
  const only = flag("workloads")?.split(",");
  const reps = quick ? 1 : Number(flag("reps") ?? 3);
  const count = flag("count") === undefined ? undefined : Number(flag("count"));
  const write = !process.argv.includes("--no-write");
  const workloads: { file: string; w: Workload }[] = [];
  for (const file of MODULES) {
    if (!existsSync(fileURLToPath(new URL(file, here)))) {
      console.log(`(no ${file} yet: skipped)`);
      continue;
    }
    const w = (await import(new URL(file, here).href) as { workload: Workload })
      .workload;
    if (only === undefined || only.includes(w.name)) {
      workloads.push({ file, w });
    }
  }
  const load = loadavg().map((x) => x.toFixed(2)).join(" ");
  const rows: Row[] = [];
  let failures = 0;

  const record = (
    rt: Runtime,
    w: Workload,
    run: ChildRun,
    rep: number,
    modes: string[],
  ) => {
    for (const mode of modes) {
      const r = run.reports.find((x) => x.mode === mode);
      const label = `${NAMES[rt].padEnd(4)} ${w.name} / ${mode}`;
      if (r === undefined || !r.ok) {
        failures++;
        console.log(
          `✗ ${label}: ${
            r?.note ?? `no report (exit ${run.code})`
          }\n${run.stderr}`,
        );
        continue;
      }
      const row: Row = {
        runtime: rt,
        workload: w.name,
        mode,
        baseline: w.modes.find((m) => m.name === mode)!.baseline,
        perSec: Math.round(r.messages / (r.wallMs / 1000)),
        cpuNsPer: Math.round((r.cpuUs * 1000) / r.messages),
        gcs: run.gcs,
        rssMB: Math.round(r.rssMB * 10) / 10,
        rep,
      };
      rows.push(row);
      console.log(
        `✓ ${label}: ${
          si(row.perSec)
        } msg/s, ${row.cpuNsPer} CPU ns/msg, ${row.gcs} GCs, ${row.rssMB} MB${
          quick ? "" : ` (rep ${rep + 1})`
        }`,
      );
    }
  };

  if (quick) {
    // Correctness only: every mode of a workload in one child per runtime.
    for (const { file, w } of workloads) {
      for (const rt of runtimes) {
        const modes = w.modes.map((m) => m.name);
        record(
          rt,
          w,
          await runChild(rt, file, modes, w.quickCount, true, 60_000),
          0,
          modes,
        );
      }
    }
  } else {
    const jobs = workloads.flatMap(({ file, w }) =>
      w.modes.flatMap((m) =>
        runtimes.map((rt) => ({ rt, file, w, mode: m.name }))
      )
    );
    for (let rep = 0; rep < reps; rep++) {
      // Rotate the order each rep so no mode always runs first (or last).
      const shift = Math.round((rep * jobs.length) / reps);
      const order = [...jobs.slice(shift), ...jobs.slice(0, shift)];
      for (const j of order) {
        const run = await runChild(
          j.rt,
          j.file,
          [j.mode],
          count ?? j.w.count,
          false,
          300_000,
        );
        record(j.rt, j.w, run, rep, [j.mode]);
      }
    }
  }
  const seconds = Math.round((performance.now() - started) / 1000);
  console.log(`${rows.length} runs, ${failures} failed, ${seconds} s`);
  if (!quick && write && rows.length > 0) {
    const results = fileURLToPath(
      new URL("bench/results/realworld.json", root),
    );
    writeFileSync(results, JSON.stringify(rows, null, 2) + "\n");
    const c = cpus();
    writeSection(section(rows, {
      date: new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC",
      cpu: `${c[0]?.model.trim() ?? "unknown CPU"} (${c.length} CPUs)`,
      load,
      versions: await versions(),
      seconds,
      reps,
    }));
    // Keep `deno fmt --check` clean (it formats markdown tables and JSON).
    const md = fileURLToPath(new URL("BENCHMARKS.md", root));
    const fmt = spawnSync(bin("deno"), ["fmt", "--quiet", results, md], {
      cwd: fileURLToPath(root),
      stdio: "ignore",
    });
    if (fmt.status !== 0) {
      console.log(
        "note: run `deno fmt BENCHMARKS.md bench/results/realworld.json`",
      );
    }
    console.log(
      "wrote bench/results/realworld.json and the BENCHMARKS.md section",
    );
  }
  process.exitCode = failures === 0 ? 0 : 1;
}

if (import.meta.main ?? process.argv[1] === fileURLToPath(import.meta.url)) {
  await main();
}
