/**
 * pagefrag quickstart: the first thing to run.
 *
 * Part 1 makes a page fragment cache, allocates a few fragments in both
 * forms (a `Uint8Array` view with `alloc`, a plain-number address with
 * `allocHandle`), writes into them, frees them, and prints what the cache
 * and its backend did: one page, carved and recycled in place instead of one
 * `ArrayBuffer` per buffer.
 *
 * Part 2 is a short mitata benchmark of the hot path (about 8 seconds, 4 of
 * them mitata's one-time calibration): `alloc(256)` + `free` and
 * `allocHandle(256)` + `free` against `new Uint8Array(256)` and
 * `Buffer.allocUnsafe(256)` (what Node programs use for a buffer they will
 * overwrite: pooled slabs on Node, a plain allocation on Deno and Bun), then
 * prints how many times faster (or slower) each is than each of the two, from
 * the averages mitata measured. On V8 (Deno, Node) a 256-byte `Uint8Array`
 * gets its own off-heap `ArrayBuffer` and the view form wins by several times;
 * on Bun, whose engine makes small typed arrays very cheaply and views of an
 * existing buffer less so, only the address form beats it. The comparison is kept honest: the pagefrag loops free
 * every fragment they take, so one page is recycled over and over rather than
 * pages being leaked, and every result is consumed with `do_not_optimize` so
 * that no allocation can be optimised away. One difference remains by design:
 * `new Uint8Array` zero-fills its bytes, while a recycled fragment keeps old
 * data until written (like `Buffer.allocUnsafe`, the fair comparison for
 * that).
 *
 * ```sh
 * deno run -A examples/quickstart.ts
 * npx bun examples/quickstart.ts
 * npx tsx examples/quickstart.ts
 * ```
 *
 * Add `--quick` (or set `PAGEFRAG_QUICK=1`) for a CI smoke run: each
 * benchmark is still measured, with mitata's `measure()` and a 50 ms budget
 * instead of the full `run()` report, so the whole script takes a second or
 * two.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import process from "node:process";
import { bench, do_not_optimize, measure, run, summary } from "mitata";
import { createPageFragCache } from "../mod.ts";

const QUICK = process.argv.slice(2).includes("--quick") ||
  process.env.PAGEFRAG_QUICK === "1";

/** Print an object's fields as an aligned two-column list. */
function printFields(title: string, fields: object): void {
  console.log(title);
  for (const [key, value] of Object.entries(fields)) {
    console.log(`  ${key.padEnd(18)} ${value}`);
  }
}

// ------------------------------------------------------------ part 1: demo

console.log("== pagefrag quickstart ==\n");

// A cache with its own heap backend and a 1 MiB budget: when the budget is
// spent, alloc returns null instead of growing without bound.
const cache = createPageFragCache({ maxBytes: 1 << 20 });
const { pageSize, maxOrder } = cache.backend;
console.log(
  `backend: ${pageSize}-byte pages, orders 0..${maxOrder} ` +
    `(largest page ${pageSize << maxOrder} bytes), budget 1 MiB\n`,
);

// The view form: a Uint8Array over a slice of the cache's current page.
const greeting = cache.alloc(64);
if (greeting === null) throw new Error("out of memory");
const { written } = new TextEncoder().encodeInto(
  "hello from a page fragment",
  greeting,
);
console.log(
  `alloc(64)        -> Uint8Array at byteOffset ${greeting.byteOffset}: ` +
    JSON.stringify(new TextDecoder().decode(greeting.subarray(0, written))),
);

// The address form: a plain number, no JS object at all. Make a view only
// when you need to touch the bytes.
const addr = cache.allocHandle(1500);
if (addr === null) throw new Error("out of memory");
const packet = cache.backend.view(addr, 1500);
packet.fill(0xab);
console.log(
  `allocHandle(1500) -> address ${addr}, filled with 0x${
    packet[0].toString(16)
  } (byteOffset ${packet.byteOffset})`,
);

// An aligned fragment (page_frag_alloc_align).
const aligned = cache.alloc(100, { align: 64 });
if (aligned === null) throw new Error("out of memory");
aligned.set([1, 2, 3]);
console.log(
  `alloc(100, {align: 64}) -> byteOffset ${aligned.byteOffset} ` +
    `(a multiple of 64: ${aligned.byteOffset % 64 === 0})`,
);
console.log(
  `all three share one page: ${
    greeting.buffer === packet.buffer && packet.buffer === aligned.buffer
  } (${greeting.buffer.byteLength}-byte ArrayBuffer)\n`,
);

// Free by view or by address; any order, from anywhere.
cache.free(greeting);
cache.free(addr);
cache.free(aligned);

// Churn: 10,000 short-lived 256-byte buffers. Each exhausted page whose
// fragments are all free is recycled in place: no new pages.
for (let i = 0; i < 10_000; i++) {
  const frag = cache.alloc(256);
  if (frag === null) throw new Error("out of memory");
  frag[0] = i & 0xff;
  cache.free(frag);
}
console.log("after 3 fragments and 10,000 alloc(256)+free:");
printFields("cache.stats():", cache.stats());
printFields("cache.backend.stats():", cache.backend.stats());

// Give up the current page: with every fragment free it goes back at once.
cache.drain();
const after = cache.backend.stats();
console.log(
  `\nafter drain(): bytesInUse ${after.bytesInUse}, pagesInUse ${after.pagesInUse}, ` +
    `pagesAllocated ${after.pagesAllocated}, pagesFreed ${after.pagesFreed}\n`,
);

// ------------------------------------------------------- part 2: benchmark

const SIZE = 256;
const benchCache = createPageFragCache();

const NAME_BASELINE = `new Uint8Array(${SIZE})`;
const NAME_UNSAFE = `Buffer.allocUnsafe(${SIZE})`;
const NAME_VIEW = `pagefrag alloc(${SIZE})+free`;
const NAME_HANDLE = `pagefrag allocHandle(${SIZE})+free`;

function newUint8Array(): void {
  do_not_optimize(new Uint8Array(SIZE));
}

function bufferAllocUnsafe(): void {
  do_not_optimize(Buffer.allocUnsafe(SIZE));
}

function allocFree(): void {
  const frag = benchCache.alloc(SIZE);
  if (frag === null) throw new Error("out of memory");
  do_not_optimize(frag);
  benchCache.free(frag);
}

function allocHandleFree(): void {
  const frag = benchCache.allocHandle(SIZE);
  if (frag === null) throw new Error("out of memory");
  do_not_optimize(frag);
  benchCache.free(frag);
}

/** The four contenders, the baseline first. */
const BENCHES: ReadonlyArray<readonly [name: string, fn: () => void]> = [
  [NAME_BASELINE, newUint8Array],
  [NAME_UNSAFE, bufferAllocUnsafe],
  [NAME_VIEW, allocFree],
  [NAME_HANDLE, allocHandleFree],
];

// Warm up first: mitata times a benchmark call by call (timer included) when
// its very first call is slow, as a cold call that takes a page can be.
for (const [, fn] of BENCHES) for (let i = 0; i < 10_000; i++) fn();

/** Average and median time per iteration, in nanoseconds, by benchmark name. */
const results = new Map<string, { avg: number; p50: number }>();

if (QUICK) {
  console.log(
    "== benchmark (--quick: mitata measure(), 50 ms per benchmark, rough " +
      "numbers; run without --quick for the full mitata report) ==",
  );
  for (const [name, fn] of BENCHES) {
    const stats = await measure(fn, { min_cpu_time: 50e6 });
    results.set(name, stats);
    console.log(
      `  ${name.padEnd(34)} ${stats.avg.toFixed(2).padStart(9)} ns/iter ` +
        `(p50 ${stats.p50.toFixed(2)} ns)`,
    );
  }
} else {
  console.log("== benchmark (mitata) ==");
  summary(() => {
    for (const [name, fn] of BENCHES) {
      bench(name, fn).baseline(name === NAME_BASELINE);
    }
  });
  const { benchmarks } = await run();
  for (const trial of benchmarks) {
    const stats = trial.runs[0]?.stats;
    if (stats !== undefined) results.set(trial.alias, stats);
  }
}
console.log();

/** How many times faster (or slower) `time` is than `baseline`. */
function ratio(time: number, baseline: number): string {
  return time <= baseline
    ? `${(baseline / time).toFixed(2)}x faster`
    : `${(time / baseline).toFixed(2)}x slower`;
}

const LABELS = new Map([
  [NAME_VIEW, "alloc+free"],
  [NAME_HANDLE, "allocHandle+free"],
]);
for (const baseline of [NAME_BASELINE, NAME_UNSAFE]) {
  const base = results.get(baseline);
  if (base === undefined) throw new Error(`${baseline} produced no result`);
  for (const [name, label] of LABELS) {
    const r = results.get(name);
    if (r === undefined) throw new Error(`${name} produced no result`);
    console.log(
      `${label} is ${ratio(r.avg, base.avg)} than ${baseline} ` +
        `(avg ${r.avg.toFixed(1)} ns vs ${base.avg.toFixed(1)} ns; ` +
        `p50: ${ratio(r.p50, base.p50)})`,
    );
  }
}
const bs = benchCache.backend.stats();
console.log(
  `pages the benchmark cache ever allocated: ${bs.pagesAllocated} ` +
    `(recycled in place ${benchCache.stats().recycles} times)`,
);
