/**
 * Workload (c) `pipeline`: worker A hands `count` messages of 16-1024
 * bytes to worker B, which checks each one. pagefrag's way is a
 * {@linkcode FragRing} of fragment addresses over a shared backend (no copy,
 * no message per item); the baselines are `postMessage` of a `Uint8Array`
 * (structured clone: a copy), of a transferred `ArrayBuffer`, and a plain
 * SharedArrayBuffer byte ring without pagefrag. See pipeline_worker.ts.
 *
 * The timed region runs from the start signal (both workers ready, their
 * modules loaded) to B's last check, so worker start-up does not count.
 *
 * @module
 */
import process from "node:process";
import type { Worker } from "node:worker_threads";
import { SharedBackend } from "../../backends/shared.ts";
import { FragRing } from "../../io/ring.ts";
import { byteRingBytes } from "./byte_ring.ts";
import {
  BAD,
  CONTROL_WORDS,
  DONE,
  GO,
  type PipelineInit,
  type PipelineMode,
  READY,
  SENDER_DONE,
  WINDOW,
} from "./pipeline_worker.ts";
import { startWorker } from "./start_worker.ts";
import type { Workload, WorkloadOptions, WorkloadResult } from "./workload.ts";

const WORKER = new URL("./pipeline_worker.ts", import.meta.url);

/** Wait for `i32[index]` to reach `want` without blocking this thread's event loop. */
async function until(
  i32: Int32Array,
  index: number,
  want: (v: number) => boolean,
  timeoutMs: number,
  errors: string[],
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = Atomics.load(i32, index);
    if (want(v)) return;
    if (errors.length > 0) throw new Error(errors.join("\n"));
    if (performance.now() > deadline) throw new Error(`pipeline: timed out`);
    const r = Atomics.waitAsync(i32, index, v, 50);
    const keep = setTimeout(() => {}, 60); // Deno: a waitAsync alone keeps nothing alive
    await (r.async ? r.value : undefined);
    clearTimeout(keep);
  }
}

async function run(o: WorkloadOptions): Promise<WorkloadResult> {
  const mode = o.mode as PipelineMode;
  const control = new SharedArrayBuffer(CONTROL_WORDS * 4);
  const ctl = new Int32Array(control);
  const base: PipelineInit = { role: "A", mode, count: o.count, control };
  let backend: SharedBackend | undefined;
  if (mode === "FragRing") {
    // Room for the ring's worth of messages many times over, from the start.
    backend = new SharedBackend({ maxBytes: 16 << 20, initialBytes: 16 << 20 });
    base.backend = backend.share();
    base.ring = new FragRing(WINDOW).share();
  } else if (mode === "SAB byte ring") {
    // About as many bytes as WINDOW messages of the average size (520 B).
    base.bytes = new SharedArrayBuffer(byteRingBytes(1 << 19));
  }
  const errors: string[] = [];
  const workers: Worker[] = [];
  try {
    for (const role of ["A", "B"] as const) {
      const w = startWorker(WORKER, { ...base, role });
      w.on("error", (e) => errors.push(String(e?.stack ?? e)));
      w.on("message", (m: { error?: string }) => {
        if (m.error) errors.push(m.error);
      });
      workers.push(w);
    }
    if (mode === "postMessage Uint8Array" || mode === "postMessage transfer") {
      // The web MessageChannel every runtime has (Deno's node:worker_threads
      // one is a slower layer over it).
      const { port1, port2 } = new MessageChannel();
      workers[0].postMessage({ port: port1 }, [port1 as never]);
      workers[1].postMessage({ port: port2 }, [port2 as never]);
    }
    await until(ctl, READY, (v) => v >= 2, 60_000, errors);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    Atomics.store(ctl, GO, 1);
    Atomics.notify(ctl, GO);
    await until(ctl, DONE, (v) => v !== 0, 120_000, errors);
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const bad = Atomics.load(ctl, BAD);
    // A drains its cache after its last push: wait for that before counting pages.
    await until(ctl, SENDER_DONE, (v) => v !== 0, 30_000, errors);
    const leaked = backend === undefined ? 0 : backend.stats().bytesInUse;
    const ok = bad === 0 && errors.length === 0 && leaked === 0;
    return {
      messages: o.count,
      ok,
      note: ok
        ? undefined
        : `bad ${bad}, pages still in use ${leaked} B; ${errors.join("; ")}`,
      timing: { wallMs, cpuUs: cpu.user + cpu.system },
    };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** The pipeline workload. */
export const workload: Workload = {
  name: "pipeline",
  modes: [
    { name: "FragRing", baseline: false },
    { name: "postMessage Uint8Array", baseline: true },
    { name: "postMessage transfer", baseline: true },
    { name: "SAB byte ring", baseline: true },
  ],
  count: 500_000,
  quickCount: 5_000,
  run,
};
