/**
 * The kernel's page_frag self-test (tools/testing/selftests/mm/page_frag/
 * page_frag_test.c), ported: a producer worker allocates fragments from its
 * own cache on a shared backend and pushes their addresses into a 512-slot
 * ring in shared memory; a consumer worker pops and frees them; when the
 * ring is full the producer frees the fragment itself. Six modes: fragments
 * of 2048, 75 and 12 bytes, non-aligned and aligned to 64 bytes. Each mode
 * reports the elapsed time and the ns per alloc+free pair, next to the
 * figures of the kernel series' cover letter, and checks that every page went
 * back once the producer's cache is drained.
 *
 * Then the same pair of workers hands 256-byte messages across: (a) as a
 * fragment address on the ring (allocate, write, push | pop, read in place,
 * free) and (b) as `postMessage` of a `Uint8Array(256)` (a structured-clone
 * copy), both with at most 512 messages in flight.
 *
 * ```sh
 * npx deno run -A bench/page_frag_test.ts            # nr_test 2,000,000 per mode
 * npx bun bench/page_frag_test.ts --quick             # 20,000 per mode (CI smoke)
 * node --import tsx bench/page_frag_test.ts --nr-test 500000 --msgs 100000 --json
 * ```
 *
 * Flags: `--nr-test N` (pairs per mode, default 2,000,000), `--msgs N`
 * (messages per transport, default 200,000), `--quick` (20,000 of each),
 * `--no-warmup`, `--json` (one JSON object instead of the tables).
 * Exits 1 if a run fails, a message is corrupted or a page is not returned.
 *
 * @module
 */
import process from "node:process";
import { parseFlags } from "./harness.ts";
import { reportPageFragTest, runPageFragTest } from "./page_frag_selftest.ts";

const flags = parseFlags(
  process.argv.slice(2),
  "page_frag_test.ts [--quick] [--nr-test N] [--msgs N] [--no-warmup] [--json]",
);
const quick = flags.quick ? 20_000 : undefined;
const r = await runPageFragTest({
  nrTest: flags.num("nr-test", quick ?? 2_000_000),
  msgs: flags.num("msgs", quick ?? 200_000),
  warmup: !flags.has("no-warmup"),
});
console.log(
  flags.has("json") ? JSON.stringify(r, null, 2) : reportPageFragTest(r),
);
process.exitCode = r.ok ? 0 : 1;
