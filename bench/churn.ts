/**
 * Steady churn: a packet-size mix (64, 576 and 1500 bytes at 7:4:1) with
 * random lifetimes, the same seeded script for every contender.
 *
 * The workload keeps {@linkcode LIVE_SLOTS} slots. Each operation picks a
 * slot uniformly at random, frees the buffer in it and puts a new one there,
 * so every buffer lives a geometric number of operations (the discrete
 * exponential distribution: memoryless, mean {@linkcode LIVE_SLOTS}), and
 * buffers die in random order. Warm-up operations run first, unmeasured.
 *
 * Per contender: ns per operation (one free + one allocation), collections
 * (`v8.GCProfiler`, which Deno, Bun and Node provide), and for pagefrag what
 * the backend did after warm-up: page requests (`allocPage` calls), new
 * buffers made (`backend.stats().buffersCreated` where the backend counts
 * them; else the arena's growth in largest pages for shared and wasm, and one
 * buffer per page request for a heap backend without the counter), pages
 * recycled in place, and **page bytes held per live byte**: the backend's
 * `bytesInUse` over the bytes the workload holds, averaged over the run. A
 * page goes back only when its last fragment is freed, so under random
 * lifetimes a few long-lived fragments hold whole pages (see
 * docs/performance.md).
 *
 * @module
 */
import * as v8 from "node:v8";
import { Buffer } from "node:buffer";
import type { MemoryBackend, NapiFragCache } from "../mod.ts";
import { churnLoop, type Form } from "./bodies.ts";
import { collectGarbage, RUNTIME } from "./harness.ts";
import { prng } from "../testing/prng.ts";

/** The packet-size mix: [bytes, weight]. */
export const MIX: ReadonlyArray<readonly [number, number]> = [
  [64, 7],
  [576, 4],
  [1500, 1],
];
/** Buffers kept live at once (each operation replaces a random one). */
export const LIVE_SLOTS = 128;
/** Operations between two samples of the bytes held. */
const SAMPLE_EVERY = 64;

/** The operations to replay: which slot, what size. */
export interface ChurnScript {
  slots: Uint16Array;
  sizes: Uint16Array;
  warmup: number;
}

/** A script of `warmup + ops` operations from `seed`. */
export function churnScript(
  warmup: number,
  ops: number,
  seed = 0x9e3779b9,
): ChurnScript {
  const n = warmup + ops;
  const slots = new Uint16Array(n);
  const sizes = new Uint16Array(n);
  const wheel = MIX.flatMap(([bytes, weight]) => Array(weight).fill(bytes));
  const rand = prng(seed);
  for (let i = 0; i < n; i++) {
    slots[i] = rand.int(LIVE_SLOTS);
    sizes[i] = rand.pick(wheel);
  }
  return { slots, sizes, warmup };
}

/** What one contender did over the measured operations. */
export interface ChurnResult {
  name: string;
  kind: "baseline" | "pagefrag";
  backend?: string;
  form?: Form;
  ops: number;
  nsPerOp: number;
  /** Collections during the measured operations (null: not exposed). */
  gc: { count: number; ms: number } | null;
  /** Mean bytes the workload holds. */
  liveBytes: number;
  /** Mean backend bytes of pages over mean live bytes (pagefrag only). */
  heldPerLive: number | null;
  /** Backend `allocPage` calls after warm-up (pagefrag only). */
  pageRequests: number | null;
  /** New buffers after warm-up, and where the count comes from (pagefrag only). */
  newBuffers: number | null;
  newBuffersFrom: "buffersCreated" | "arena growth" | "page requests" | null;
  /** Exhausted pages the cache recycled in place after warm-up (pagefrag only). */
  recycledInPlace: number | null;
  /** Every page back once everything was freed and the cache drained. */
  ok: boolean;
}

interface GcProfiler {
  start(): void;
  stop(): { statistics: { cost: number }[] } | undefined;
}

/** Collections and their cost while `fn` runs, if the runtime tells. */
function withGcProfile(fn: () => void): { count: number; ms: number } | null {
  const Profiler = (v8 as unknown as { GCProfiler?: new () => GcProfiler })
    .GCProfiler;
  if (typeof Profiler !== "function") {
    fn();
    return null;
  }
  const p = new Profiler();
  p.start();
  const t0 = performance.now();
  fn();
  const wall = performance.now() - t0;
  const stats = p.stop()?.statistics ?? [];
  const cost = stats.reduce((sum, s) => sum + s.cost, 0);
  // Node and Bun report microseconds, Deno nanoseconds.
  let ms = cost / (RUNTIME === "deno" ? 1e6 : 1e3);
  if (ms > wall * 1.05) ms = cost / 1e6; // a runtime that changed its unit
  return { count: stats.length, ms };
}

/** Run the warm-up, then time the measured operations of `run`. */
function timed(script: ChurnScript, run: (from: number, to: number) => void) {
  const end = script.slots.length;
  run(0, script.warmup);
  collectGarbage();
  let ms = 0;
  const gc = withGcProfile(() => {
    const t0 = performance.now();
    run(script.warmup, end);
    ms = performance.now() - t0;
  });
  return { nsPerOp: (ms * 1e6) / (end - script.warmup), gc };
}

/** The engine baselines on `script`: a new buffer per operation. */
export function churnBaselines(script: ChurnScript): ChurnResult[] {
  const makers: [string, (n: number) => Uint8Array][] = [
    ["new Uint8Array", (n) => new Uint8Array(n)],
    ["Buffer.allocUnsafe", (n) => Buffer.allocUnsafe(n)],
  ];
  return makers.map(([name, make]) => {
    let live = 0, samples = 0;
    const loop = churnLoop(script, LIVE_SLOTS, { make }, "view", (b) => {
      live += b;
      samples++;
    }, SAMPLE_EVERY);
    const r = timed(script, loop);
    return {
      name,
      kind: "baseline",
      ops: script.slots.length - script.warmup,
      ...r,
      liveBytes: live / samples,
      heldPerLive: null,
      pageRequests: null,
      newBuffers: null,
      newBuffersFrom: null,
      recycledInPlace: null,
      ok: true,
    };
  });
}

/** New buffers so far, and where the count comes from. */
function buffersSoFar(backend: MemoryBackend): {
  n: number;
  from: NonNullable<ChurnResult["newBuffersFrom"]>;
} {
  const s = backend.stats() as { buffersCreated?: number };
  if (typeof s.buffersCreated === "number") {
    return { n: s.buffersCreated, from: "buffersCreated" };
  }
  // Duck-typed: the backend may come from a private copy of the library.
  const b = backend as {
    arena?: SharedArrayBuffer;
    memory?: WebAssembly.Memory;
  };
  const bytes = b.arena?.byteLength ?? b.memory?.buffer.byteLength;
  if (bytes !== undefined) {
    return {
      n: bytes / (backend.pageSize << backend.maxOrder),
      from: "arena growth",
    };
  }
  return { n: backend.stats().pagesAllocated, from: "page requests" };
}

/** pagefrag on `napi` (and its own backend), in `form`, on `script`. */
export function churnPagefrag(
  script: ChurnScript,
  napi: NapiFragCache,
  name: string,
  form: Form,
): ChurnResult {
  const backend = napi.backend;
  let live = 0, held = 0, samples = 0;
  let before = { pages: 0, recycles: 0, buffers: buffersSoFar(backend) };
  const loop = churnLoop(script, LIVE_SLOTS, { cache: napi }, form, (b) => {
    live += b;
    held += backend.stats().bytesInUse;
    samples++;
  }, SAMPLE_EVERY);
  const r = timed(script, (from, to) => {
    if (from === script.warmup) {
      live = held = samples = 0;
      before = {
        pages: backend.stats().pagesAllocated,
        recycles: napi.stats().recycles,
        buffers: buffersSoFar(backend),
      };
    }
    napi.poll(() => loop(from, to));
  });
  const after = buffersSoFar(backend);
  const result: ChurnResult = {
    name,
    kind: "pagefrag",
    backend: name.split(" ")[0],
    form,
    ops: script.slots.length - script.warmup,
    ...r,
    liveBytes: live / samples,
    heldPerLive: held / live,
    pageRequests: backend.stats().pagesAllocated - before.pages,
    newBuffers: after.n - before.buffers.n,
    newBuffersFrom: after.from,
    recycledInPlace: napi.stats().recycles - before.recycles,
    ok: false,
  };
  napi.poll(() => loop.release());
  napi.drain();
  result.ok = backend.stats().bytesInUse === 0;
  return result;
}
