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
 * `--quick` (or `PAGEFRAG_QUICK=1`) measures each benchmark for 20 ms
 * instead of 500.
 *
 * @module
 */
import process from "node:process";
import { createPageFragCache } from "../mod.ts";
import { compareCaches } from "./harness.ts";

await compareCaches(
  "sanitizer cost",
  {
    "off": createPageFragCache(),
    "leaks (sampled)": createPageFragCache({ leakDetection: "sampled" }),
    "sanitize, no sites": createPageFragCache({ sanitize: { sites: false } }),
    "sanitize": createPageFragCache({ sanitize: true }),
  },
  "off",
  process.argv.slice(2),
);
