/**
 * The hot loops that call pagefrag, each compiled afresh for the one cache
 * it drives.
 *
 * An engine compiles a function literal once, for every object that ever
 * reaches its call sites: one loop shared by the heap, shared and wasm caches
 * (or by napi and netdev) would run polymorphic calls that no program using
 * one cache pays. So each loop here is generated with `new Function` from one
 * source text, with a unique comment so that no engine's code cache hands
 * back an earlier copy: every cache gets a loop of its own, written once.
 *
 * @module
 */
import { do_not_optimize } from "mitata";

/** The cache methods the loops call (any flavour, from any copy of the library). */
export interface LoopCache {
  alloc(size: number): Uint8Array | null;
  allocHandle(size: number): number | null;
  free(fragment: Uint8Array | number): void;
}

/** The poll scope of a napi cache. */
interface Pollable {
  poll(fn: () => void): void;
}

export type Form = "view" | "handle";

function oom(): never {
  throw new Error("out of memory");
}

let serial = 0;

/** A fresh function from `src` with parameters `names` applied to `values`. */
function compile<T>(src: string, names: string[], values: unknown[]): T {
  const make = new Function(...names, `${src}\n// loop ${++serial}`);
  return make(...values) as T;
}

/**
 * `batch` x (allocate `n` bytes in `form`, keep it alive, free it) per call;
 * with `poll`, the batch runs inside one `cache.poll()` (napi: a driver's
 * poll handles up to 64 packets per softirq).
 */
export function pairs(
  cache: LoopCache | (LoopCache & Pollable),
  n: number,
  form: Form,
  batch: number,
  poll = false,
): () => void {
  const alloc = form === "view" ? "alloc" : "allocHandle";
  const loop = `function loop() {
    for (let i = 0; i < batch; i++) {
      const f = cache.${alloc}(n);
      if (f === null) oom();
      keep(f);
      cache.free(f);
    }
  }`;
  const src = poll
    ? `${loop}\nreturn function polled() { cache.poll(loop); };`
    : `return ${loop};`;
  return compile(src, ["cache", "n", "batch", "keep", "oom"], [
    cache,
    n,
    batch,
    do_not_optimize,
    oom,
  ]);
}

/** The churn workload: slot and size of each operation, in order. */
export interface ChurnOps {
  slots: Uint16Array;
  sizes: Uint16Array;
}

/**
 * A churn loop over operations `[from, to)`: free the buffer in the slot (if
 * any), put a new one there; returns the bytes live at the end. `sample` is
 * called every `every` operations with the bytes live. `release()` frees
 * every live buffer.
 */
export interface ChurnLoop {
  (from: number, to: number): number;
  release(): void;
}

/**
 * A churn loop over `cache` in `form`, or over `make` (an engine allocator:
 * nothing to free, the GC reclaims what leaves a slot) when `cache` is null.
 */
export function churnLoop(
  ops: ChurnOps,
  live: number,
  target: { cache: LoopCache } | { make: (n: number) => Uint8Array },
  form: Form,
  sample: (liveBytes: number) => void,
  every: number,
): ChurnLoop {
  const engine = "make" in target;
  const alloc = engine
    ? "make(n)"
    : form === "view"
    ? "cache.alloc(n)"
    : "cache.allocHandle(n)";
  const free = engine ? "" : "if (old !== 0) cache.free(old);";
  const src = `
    const held = new Array(live).fill(0);
    const size = new Int32Array(live);
    let liveBytes = 0;
    function loop(from, to) {
      for (let i = from; i < to; i++) {
        const s = slots[i];
        const n = sizes[i];
        const old = held[s];
        ${free}
        const f = ${alloc};
        if (f === null) oom();
        keep(f);
        held[s] = f;
        liveBytes += n - size[s];
        size[s] = n;
        if (i % every === 0) sample(liveBytes);
      }
      return liveBytes;
    }
    loop.release = function release() {
      for (let s = 0; s < live; s++) {
        const old = held[s];
        ${free}
        held[s] = 0;
        size[s] = 0;
      }
      liveBytes = 0;
    };
    return loop;`;
  return compile(src, [
    "cache",
    "make",
    "slots",
    "sizes",
    "live",
    "keep",
    "oom",
    "sample",
    "every",
  ], [
    engine ? undefined : target.cache,
    engine ? target.make : undefined,
    ops.slots,
    ops.sizes,
    live,
    do_not_optimize,
    oom,
    sample,
    every,
  ]);
}
