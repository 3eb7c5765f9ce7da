/**
 * What the sanitizer and the leak detector cost: alloc + free of 256 bytes,
 * in the view form (`alloc`) and the address form (`allocHandle`), on four
 * caches over the same kind of heap backend:
 *
 * - `off`: `createPageFragCache()`, the plain cache (the baseline). The
 *   sanitizer costs it nothing: with `sanitize` unset the composition root
 *   builds the very classes it builds without the sanitizer;
 * - `leaks (sampled)`: `leakDetection: "sampled"`, one view in 128 goes to
 *   a `FinalizationRegistry` (the address form is never tracked);
 * - `sanitize, no sites`: `sanitize: { sites: false }`: poison checks and
 *   fills, red zones, per-fragment records, no stack traces;
 * - `sanitize`: `sanitize: true`, the default: all of that plus a stack
 *   trace captured at every allocation and every free.
 *
 * Each benchmark call is a batch of `BATCH` (64) pairs; every loop frees
 * what it allocates, so each cache recycles one page in place throughout,
 * and with the sanitizer each recycle also checks and re-poisons the whole
 * 32 KiB page. The per-pair nanoseconds and the ratio to `off` are printed
 * after the run.
 *
 * ```sh
 * deno run -A bench/sanitizer_bench.ts
 * npx bun bench/sanitizer_bench.ts
 * node --import tsx bench/sanitizer_bench.ts
 * ```
 *
 * `--quick` (or `PAGEFRAG_QUICK=1`) measures each benchmark for 50 ms with
 * mitata's `measure()` instead of the full `run()` report.
 *
 * @module
 */
import process from "node:process";
import { do_not_optimize } from "mitata";
import { runMatrix } from "./matrix.ts";
import { createPageFragCache, type PageFragCache } from "../mod.ts";

const QUICK = process.argv.slice(2).includes("--quick") ||
  process.env.PAGEFRAG_QUICK === "1";
const SIZE = 256;
/** Alloc + free pairs per benchmark call. */
const BATCH = 64;

const off = createPageFragCache();
const leaks = createPageFragCache({ leakDetection: "sampled" });
const noSites = createPageFragCache({ sanitize: { sites: false } });
const sanitized = createPageFragCache({ sanitize: true });

function oom(): never {
  throw new Error("out of memory");
}

// Each contender has its own functions, so each call site sees one class.
function offView(): void {
  for (let i = 0; i < BATCH; i++) {
    const f = off.alloc(SIZE) ?? oom();
    do_not_optimize(f);
    off.free(f);
  }
}
function leaksView(): void {
  for (let i = 0; i < BATCH; i++) {
    const f = leaks.alloc(SIZE) ?? oom();
    do_not_optimize(f);
    leaks.free(f);
  }
}
function noSitesView(): void {
  for (let i = 0; i < BATCH; i++) {
    const f = noSites.alloc(SIZE) ?? oom();
    do_not_optimize(f);
    noSites.free(f);
  }
}
function sanitizedView(): void {
  for (let i = 0; i < BATCH; i++) {
    const f = sanitized.alloc(SIZE) ?? oom();
    do_not_optimize(f);
    sanitized.free(f);
  }
}
function offHandle(): void {
  for (let i = 0; i < BATCH; i++) {
    const a = off.allocHandle(SIZE) ?? oom();
    do_not_optimize(a);
    off.free(a);
  }
}
function leaksHandle(): void {
  for (let i = 0; i < BATCH; i++) {
    const a = leaks.allocHandle(SIZE) ?? oom();
    do_not_optimize(a);
    leaks.free(a);
  }
}
function noSitesHandle(): void {
  for (let i = 0; i < BATCH; i++) {
    const a = noSites.allocHandle(SIZE) ?? oom();
    do_not_optimize(a);
    noSites.free(a);
  }
}
function sanitizedHandle(): void {
  for (let i = 0; i < BATCH; i++) {
    const a = sanitized.allocHandle(SIZE) ?? oom();
    do_not_optimize(a);
    sanitized.free(a);
  }
}

const ROWS = [
  "off",
  "leaks (sampled)",
  "sanitize, no sites",
  "sanitize",
] as const;
type Row = typeof ROWS[number];
const CACHES: Record<Row, PageFragCache> = {
  "off": off,
  "leaks (sampled)": leaks,
  "sanitize, no sites": noSites,
  "sanitize": sanitized,
};
const FORMS = [
  {
    op: `alloc(${SIZE})`,
    fns: {
      "off": offView,
      "leaks (sampled)": leaksView,
      "sanitize, no sites": noSitesView,
      "sanitize": sanitizedView,
    },
  },
  {
    op: `allocHandle(${SIZE})`,
    fns: {
      "off": offHandle,
      "leaks (sampled)": leaksHandle,
      "sanitize, no sites": noSitesHandle,
      "sanitize": sanitizedHandle,
    },
  },
] as const;
type Form = typeof FORMS[number];
const nameOf = (row: Row, form: Form) => `${row}: ${BATCH}x ${form.op}+free`;

/** Average ns per benchmark call (one batch), by name. */
const results = await runMatrix({
  rows: ROWS,
  forms: FORMS,
  baseline: "off",
  nameOf,
  quick: QUICK,
  title: `sanitizer cost (mitata; each iteration is ${BATCH} alloc+free pairs)`,
  warmup: 2000,
});

function perOp(row: Row, form: Form): number {
  const avg = results.get(nameOf(row, form));
  if (avg === undefined) throw new Error(`${nameOf(row, form)}: no result`);
  return avg / BATCH;
}

console.log(`\n== average ns per alloc+free pair (x off) ==`);
console.log(
  "cache".padEnd(22) + FORMS.map((f) => `${f.op}+free`.padStart(28)).join(""),
);
for (const row of ROWS) {
  console.log(
    row.padEnd(22) +
      FORMS.map((form) => {
        const t = perOp(row, form);
        return `${t.toFixed(1)} ns (${(t / perOp("off", form)).toFixed(1)}x)`
          .padStart(28);
      }).join(""),
  );
}
for (const row of ROWS) {
  const cache = CACHES[row];
  if (cache.stats().allocFailures !== 0) throw new Error(`${row}: failures`);
  if (cache.backend.stats().pagesAllocated !== 1) {
    throw new Error(`${row}: expected one page, recycled in place`);
  }
}
console.log(
  "each cache allocated one page and recycled it in place throughout",
);
