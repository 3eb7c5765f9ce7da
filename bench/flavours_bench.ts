/**
 * What the netdev flavour's protection costs against napi: alloc + free of
 * 256 bytes, in the view form (`alloc`) and the address form (`allocHandle`),
 * on four caches over the same kind of heap backend:
 *
 * - `plain`: a bare {@linkcode PageFragCache}, no protection at all;
 * - `napi`: a {@linkcode NapiFragCache}, the baseline. Its protection is the
 *   poll scope: one `poll()` entry, then only a depth check per call;
 * - `netdev (private)`: a {@linkcode NetdevFragCache} with private state: a
 *   re-entry depth counter around every call, no lock;
 * - `netdev (shared)`: a `NetdevFragCache` whose state lives in a
 *   `SharedArrayBuffer`: every call also takes and releases an `Atomics`
 *   lock (uncontended here: one thread), and the cache's state words are
 *   read and written in shared memory.
 *
 * How napi is measured. `poll(fn)` is synchronous and mitata's `run()` is
 * async, so one poll cannot enclose the whole run. Instead every contender
 * runs the same body: a batch of `BATCH` (64, the kernel's NAPI poll weight)
 * alloc + free pairs per benchmark call. The napi contender enters its poll
 * scope once per batch, exactly as a driver's poll handles up to 64 packets
 * per softirq, so its per-allocation cost includes 1/64 of a `poll()` entry
 * (a try/finally and a call: well under a nanosecond per allocation). mitata
 * times whole batches; a batch of 64 takes long enough that the timer's own
 * cost is small against it, and every ratio it prints between two batches is
 * also the ratio per alloc + free. The per-allocation nanoseconds printed
 * after the run are mitata's averages divided by 64.
 *
 * Every contender has its own function (no shared helper taking the cache as
 * an argument), so each call site sees one cache class only, and every
 * result goes through `do_not_optimize`. Every loop frees what it allocates,
 * so each cache recycles one page in place throughout.
 *
 * Reading the numbers: an address-form pair takes 5-20 ns, so JIT decisions
 * move it by tens of percent between runs and runtimes (tier-up timing,
 * inlining; the four flavours share the cache core's methods, so the engine
 * compiles them having seen all four classes, as in a program that uses both
 * flavours). `plain`, `napi` and `netdev (private)` are usually within that
 * noise of one another (on Bun `napi` has measured faster than `plain`); the
 * shared netdev's `Atomics` lock is the cost that stands out. The view form
 * adds a `Uint8Array` per allocation, which dominates it and dilutes every
 * ratio there.
 *
 * ```sh
 * deno run -A bench/flavours_bench.ts
 * npx bun bench/flavours_bench.ts
 * node --import tsx bench/flavours_bench.ts
 * ```
 *
 * `--quick` (or `PAGEFRAG_QUICK=1`) measures each benchmark for 50 ms with
 * mitata's `measure()` instead of the full `run()` report: about a second.
 *
 * @module
 */
import process from "node:process";
import { do_not_optimize } from "mitata";
import { runMatrix } from "./matrix.ts";
import {
  HeapBackend,
  kernelPfmemalloc,
  kernelRefill,
  NapiFragCache,
  NetdevFragCache,
  noAlignment,
  PageFragCache,
} from "../mod.ts";

const QUICK = process.argv.slice(2).includes("--quick") ||
  process.env.PAGEFRAG_QUICK === "1";
const SIZE = 256;
/** Alloc + free pairs per benchmark call: the NAPI poll weight. */
const BATCH = 64;

const plain = new PageFragCache(
  new HeapBackend(),
  noAlignment,
  kernelRefill,
  kernelPfmemalloc,
);
const napi = new NapiFragCache(
  new HeapBackend(),
  noAlignment,
  kernelRefill,
  kernelPfmemalloc,
);
const netdevPrivate = new NetdevFragCache(
  new HeapBackend(),
  noAlignment,
  kernelRefill,
  kernelPfmemalloc,
);
const netdevShared = new NetdevFragCache(
  new HeapBackend(),
  noAlignment,
  kernelRefill,
  kernelPfmemalloc,
  new SharedArrayBuffer(NetdevFragCache.stateBytes),
);
if (netdevShared.sharedState === undefined) {
  throw new Error("the shared netdev cache should use the Atomics lock path");
}

function oom(): never {
  throw new Error("out of memory");
}

// ------------------------------------------------- view form: alloc(256)

function plainView(): void {
  for (let i = 0; i < BATCH; i++) {
    const frag = plain.alloc(SIZE) ?? oom();
    do_not_optimize(frag);
    plain.free(frag);
  }
}

function napiViewBatch(): void {
  for (let i = 0; i < BATCH; i++) {
    const frag = napi.alloc(SIZE) ?? oom();
    do_not_optimize(frag);
    napi.free(frag);
  }
}
function napiView(): void {
  napi.poll(napiViewBatch);
}

function netdevPrivateView(): void {
  for (let i = 0; i < BATCH; i++) {
    const frag = netdevPrivate.alloc(SIZE) ?? oom();
    do_not_optimize(frag);
    netdevPrivate.free(frag);
  }
}

function netdevSharedView(): void {
  for (let i = 0; i < BATCH; i++) {
    const frag = netdevShared.alloc(SIZE) ?? oom();
    do_not_optimize(frag);
    netdevShared.free(frag);
  }
}

// ------------------------------------------- address form: allocHandle(256)

function plainHandle(): void {
  for (let i = 0; i < BATCH; i++) {
    const addr = plain.allocHandle(SIZE) ?? oom();
    do_not_optimize(addr);
    plain.free(addr);
  }
}

function napiHandleBatch(): void {
  for (let i = 0; i < BATCH; i++) {
    const addr = napi.allocHandle(SIZE) ?? oom();
    do_not_optimize(addr);
    napi.free(addr);
  }
}
function napiHandle(): void {
  napi.poll(napiHandleBatch);
}

function netdevPrivateHandle(): void {
  for (let i = 0; i < BATCH; i++) {
    const addr = netdevPrivate.allocHandle(SIZE) ?? oom();
    do_not_optimize(addr);
    netdevPrivate.free(addr);
  }
}

function netdevSharedHandle(): void {
  for (let i = 0; i < BATCH; i++) {
    const addr = netdevShared.allocHandle(SIZE) ?? oom();
    do_not_optimize(addr);
    netdevShared.free(addr);
  }
}

// ------------------------------------------------------------------ run

/** Row labels, in table order; `napi` is the baseline. */
const ROWS = [
  "plain",
  "napi",
  "netdev (private)",
  "netdev (shared)",
] as const;
type Row = typeof ROWS[number];

interface Form {
  /** What one pair is, for names and the report. */
  readonly op: string;
  readonly fns: Readonly<Record<Row, () => void>>;
}

const FORMS: readonly Form[] = [
  {
    op: `alloc(${SIZE})`,
    fns: {
      "plain": plainView,
      "napi": napiView,
      "netdev (private)": netdevPrivateView,
      "netdev (shared)": netdevSharedView,
    },
  },
  {
    op: `allocHandle(${SIZE})`,
    fns: {
      "plain": plainHandle,
      "napi": napiHandle,
      "netdev (private)": netdevPrivateHandle,
      "netdev (shared)": netdevSharedHandle,
    },
  },
];

const nameOf = (row: Row, form: Form) => `${row}: ${BATCH}x ${form.op}+free`;

/** Average ns per benchmark call (one batch), by benchmark name. */
const results = await runMatrix({
  rows: ROWS,
  forms: FORMS,
  baseline: "napi",
  nameOf,
  quick: QUICK,
  title:
    `napi vs netdev (mitata; each iteration is ${BATCH} alloc+free pairs, napi entering its poll scope once per iteration)`,
  warmup: 10_000,
});

// --------------------------------------------------------------- report

/** Average ns per alloc + free pair. */
function perOp(row: Row, form: Form): number {
  const avg = results.get(nameOf(row, form));
  if (avg === undefined) throw new Error(`${nameOf(row, form)}: no result`);
  return avg / BATCH;
}

console.log(
  `\n== average ns per alloc+free pair (x napi: above 1 costs more) ==`,
);
console.log(
  "cache".padEnd(22) +
    FORMS.map((f) => `${f.op}+free`.padStart(28)).join(""),
);
for (const row of ROWS) {
  const cells = FORMS.map((form) => {
    const t = perOp(row, form);
    const x = t / perOp("napi", form);
    return `${t.toFixed(2)} ns (${x.toFixed(2)}x)`.padStart(28);
  });
  console.log(row.padEnd(22) + cells.join(""));
}
console.log();
for (const form of FORMS) {
  const napiNs = perOp("napi", form);
  console.log(
    `netdev (shared, Atomics lock) costs ${
      (perOp("netdev (shared)", form) / napiNs).toFixed(2)
    }x napi per alloc+free (${form.op}; netdev private ${
      (perOp("netdev (private)", form) / napiNs).toFixed(2)
    }x, plain ${(perOp("plain", form) / napiNs).toFixed(2)}x)`,
  );
}
for (
  const [name, cache] of [
    ["plain", plain],
    ["napi", napi],
    ["netdev (private)", netdevPrivate],
    ["netdev (shared)", netdevShared],
  ] as const
) {
  const s = cache.stats();
  if (cache.backend.stats().pagesAllocated !== 1) {
    throw new Error(`${name}: expected one page, recycled in place`);
  }
  if (s.allocFailures !== 0) throw new Error(`${name}: allocation failures`);
}
console.log(
  "each cache allocated one page and recycled it in place throughout",
);
