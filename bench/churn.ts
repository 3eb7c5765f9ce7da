/**
 * Steady-state churn: a packet-size mix (64, 576 and 1500 bytes at 7:4:1)
 * with random short lifetimes, the same scripted workload for every
 * contender.
 *
 * The workload keeps {@linkcode LIVE_SLOTS} slots. Each operation picks a
 * slot at random, frees the buffer in it (if any) and puts a new buffer of a
 * size drawn from the mix there: a buffer lives a geometric number of
 * operations (mean {@linkcode LIVE_SLOTS}), so about that many are live at
 * once, freed in random order. The script (slots and sizes) comes from a
 * seeded xorshift generator, made once and replayed for every contender;
 * warm-up operations run first and are not measured.
 *
 * Per contender it reports the time per operation (one free + one
 * allocation), the peak bytes live (the workload's own count), and, for
 * pagefrag, what the backend did after warm-up: page requests
 * (`allocPage` calls), new memory taken from the engine (the heap backend
 * makes a new `ArrayBuffer` for every page; the shared and wasm backends
 * reuse freed pages from their buddy free lists and grow their arena only
 * when those are empty), pages recycled in place by the cache, and the
 * backend's peak bytes reserved. Garbage collections during the measured
 * operations come from `v8.GCProfiler` (Deno, Bun and Node all provide it).
 *
 * @module
 */
import * as v8 from "node:v8";
import { Buffer } from "node:buffer";
import { do_not_optimize } from "mitata";
import type { NapiFragCache } from "../mod.ts";
import type { BackendName, Form } from "./contenders.ts";
import type { Bodies } from "./isolate.ts";
import { collectGarbage } from "./expose_gc.ts";
import { RUNTIME } from "./page_frag_spawn.ts";

/** The packet-size mix: [bytes, weight]. */
export const MIX: ReadonlyArray<readonly [number, number]> = [
  [64, 7],
  [576, 4],
  [1500, 1],
];
/** Buffers kept live at once (each operation replaces a random one). */
export const LIVE_SLOTS = 128;

/** The operations to replay: which slot, what size. */
export interface ChurnScript {
  slots: Uint16Array;
  sizes: Uint16Array;
  warmup: number;
}

/** A script of `warmup + ops` operations from `seed`. */
export function churnScript(warmup: number, ops: number, seed = 0x9e3779b9) {
  const n = warmup + ops;
  const slots = new Uint16Array(n);
  const sizes = new Uint16Array(n);
  const wheel: number[] = [];
  for (const [bytes, weight] of MIX) {
    for (let i = 0; i < weight; i++) wheel.push(bytes);
  }
  let x = seed | 0;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  for (let i = 0; i < n; i++) {
    slots[i] = next() % LIVE_SLOTS;
    sizes[i] = wheel[next() % wheel.length];
  }
  return { slots, sizes, warmup } satisfies ChurnScript;
}

/** What one contender did over the measured operations. */
export interface ChurnResult {
  name: string;
  kind: "baseline" | "pagefrag";
  backend?: BackendName;
  form?: Form;
  ops: number;
  nsPerOp: number;
  peakLiveBytes: number;
  /** Backend `allocPage` calls after warm-up (pagefrag only). */
  pageRequests: number | null;
  /** Pages of new engine memory after warm-up, in largest pages (pagefrag only). */
  newPages: number | null;
  /** Exhausted pages the cache recycled in place after warm-up (pagefrag only). */
  recycledInPlace: number | null;
  /** The backend's peak bytes of pages (pagefrag only). */
  peakReservedBytes: number | null;
  /** Collections during the measured operations (null: not exposed). */
  gc: { count: number; ms: number } | null;
  /** Every page back once everything was freed and the cache drained. */
  ok: boolean;
}

/** A loop over script indices `[from, to)`; returns the peak bytes live. */
type Loop = (from: number, to: number) => number;

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
  let cost = 0;
  for (const s of stats) cost += s.cost;
  // Node and Bun report microseconds, Deno nanoseconds.
  let ms = cost / (RUNTIME === "deno" ? 1e6 : 1e3);
  if (ms > wall * 1.05) ms = cost / 1e6; // a runtime that changed its unit
  return { count: stats.length, ms };
}

/** Views made by `make`, dropped for the GC (or the pool) to reclaim. */
function engineLoop(
  script: ChurnScript,
  make: (n: number) => Uint8Array,
): Loop {
  const live: (Uint8Array | undefined)[] = new Array(LIVE_SLOTS).fill(
    undefined,
  );
  const liveSize = new Int32Array(LIVE_SLOTS);
  let liveBytes = 0;
  const { slots, sizes } = script;
  return (from, to) => {
    let peak = 0;
    for (let i = from; i < to; i++) {
      const s = slots[i];
      const n = sizes[i];
      const buf = make(n);
      do_not_optimize(buf);
      live[s] = buf;
      liveBytes += n - liveSize[s];
      liveSize[s] = n;
      if (liveBytes > peak) peak = liveBytes;
    }
    return peak;
  };
}

/** Bytes of memory the backend has taken from the engine, if it can tell. */
function engineBytes(napi: NapiFragCache): number | null {
  // Duck-typed: the backend may come from a private copy of the library.
  const b = napi.backend as {
    arena?: SharedArrayBuffer;
    memory?: WebAssembly.Memory;
  };
  if (b.arena !== undefined) return b.arena.byteLength; // shared
  if (b.memory !== undefined) return b.memory.buffer.byteLength; // wasm
  return null; // heap: every page is a new ArrayBuffer
}

/** Run `loop` over the warm-up, then time the measured operations. */
function measureLoop(
  script: ChurnScript,
  loop: Loop,
): { nsPerOp: number; peakLiveBytes: number; gc: ChurnResult["gc"] } {
  const { warmup } = script;
  const end = script.slots.length;
  loop(0, warmup);
  collectGarbage();
  let peakLiveBytes = 0;
  let ns = 0;
  const gc = withGcProfile(() => {
    const t0 = performance.now();
    peakLiveBytes = loop(warmup, end);
    ns = (performance.now() - t0) * 1e6;
  });
  return { nsPerOp: ns / (end - warmup), peakLiveBytes, gc };
}

/** The two engine baselines on `script`. */
export function churnBaselines(script: ChurnScript): ChurnResult[] {
  const ops = script.slots.length - script.warmup;
  const baselines: [string, (n: number) => Uint8Array][] = [
    ["new Uint8Array", (n) => new Uint8Array(n)],
    ["Buffer.allocUnsafe", (n) => Buffer.allocUnsafe(n)],
  ];
  return baselines.map(([name, make]) => {
    const r = measureLoop(script, engineLoop(script, make));
    return {
      name,
      kind: "baseline",
      ops,
      ...r,
      pageRequests: null,
      newPages: null,
      recycledInPlace: null,
      peakReservedBytes: null,
      ok: true,
    };
  });
}

/**
 * pagefrag on `napi`'s backend, in `form`, on `script`, with the loops of
 * `bodies` (the backend's copy of `bench/bodies.ts`).
 */
export function churnPagefrag(
  script: ChurnScript,
  napi: NapiFragCache,
  bodies: Bodies,
  backend: BackendName,
  form: Form,
): ChurnResult {
  const ops = script.slots.length - script.warmup;
  const loop = (form === "view" ? bodies.churnViews : bodies.churnHandles)(
    script,
    LIVE_SLOTS,
    napi,
  );
  const maxPage = napi.backend.pageSize << napi.backend.maxOrder;
  let before = { pages: 0, recycles: 0, engine: null as number | null };
  const wrapped: Loop = (from, to) => {
    if (from === script.warmup) {
      before = {
        pages: napi.backend.stats().pagesAllocated,
        recycles: napi.stats().recycles,
        engine: engineBytes(napi),
      };
    }
    return napi.poll(() => loop(from, to));
  };
  const r = measureLoop(script, wrapped);
  const pageRequests = napi.backend.stats().pagesAllocated - before.pages;
  const engine = engineBytes(napi);
  const newPages = engine === null || before.engine === null
    ? pageRequests
    : (engine - before.engine) / maxPage;
  const recycledInPlace = napi.stats().recycles - before.recycles;
  const peakReservedBytes = napi.backend.stats().peakBytesInUse;
  loop.release();
  napi.drain();
  return {
    name: `${backend} ${form === "view" ? "alloc" : "allocHandle"}`,
    kind: "pagefrag",
    backend,
    form,
    ops,
    ...r,
    pageRequests,
    newPages,
    recycledInPlace,
    peakReservedBytes,
    ok: napi.backend.stats().bytesInUse === 0,
  };
}
