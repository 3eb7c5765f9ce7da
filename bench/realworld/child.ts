/**
 * One child process of the real-world runner (bench/realworld/run.ts):
 * import a workload module, run the asked modes one after the other, and
 * print one `@@realworld {...}` line per mode with what was measured: wall
 * and CPU time (the workload's own timed region when it reports one, else
 * the whole `run` call; `process.cpuUsage()` is process-wide, so worker
 * threads count) and the peak RSS of the process so far. GCs are counted
 * by the runner from the runtime's GC log (`--trace-gc`, `BUN_JSC_logGC`).
 *
 * Usage: `child.ts <module file> --modes=<a,b> --count=<n> [--quick]
 * [--out=<file>]` (the report lines go to stdout, or appended to `file`).
 *
 * @module
 */
import { appendFileSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import type { Workload } from "./workload.ts";

/** What the child prints for one mode (after the `@@realworld ` marker). */
export interface ChildReport {
  mode: string;
  messages: number;
  ok: boolean;
  note?: string;
  wallMs: number;
  cpuUs: number;
  rssMB: number;
}

/** The marker of a report line. */
export const MARKER = "@@realworld ";

function arg(name: string): string | undefined {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a?.slice(name.length + 3);
}

async function main(): Promise<void> {
  const file = process.argv.slice(2).find((a) => !a.startsWith("--"));
  if (file === undefined) throw new Error("child.ts: which workload module?");
  const mod = await import(new URL(file, import.meta.url).href) as {
    workload: Workload;
  };
  const w = mod.workload;
  const quick = process.argv.includes("--quick");
  const count = Number(arg("count") ?? (quick ? w.quickCount : w.count));
  const modes = arg("modes")?.split(",") ?? w.modes.map((m) => m.name);
  const out = arg("out");
  for (const mode of modes) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let r;
    try {
      r = await w.run({ mode, count, quick });
    } catch (e) {
      r = {
        messages: 0,
        ok: false,
        note: e instanceof Error ? e.stack ?? e.message : String(e),
      };
    }
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const report: ChildReport = {
      mode,
      messages: r.messages,
      ok: r.ok,
      note: r.note,
      wallMs: r.timing?.wallMs ?? wallMs,
      cpuUs: r.timing?.cpuUs ?? cpu.user + cpu.system,
      rssMB: process.resourceUsage().maxRSS / 1024,
    };
    const line = MARKER + JSON.stringify(report) + "\n";
    // A file, when asked for: the GC log shares stdout/stderr, and a
    // runtime's buffered log can split a line of ours.
    if (out !== undefined) appendFileSync(out, line);
    else process.stdout.write(line);
  }
  // A workload must leave nothing running; exit anyway so a stray handle
  // cannot hang the runner.
  process.exit(0);
}

// Imported by the runner for MARKER and ChildReport: run only as the entry.
const entry = (import.meta as { main?: boolean }).main ??
  process.argv[1] === fileURLToPath(import.meta.url);
if (entry) await main();
