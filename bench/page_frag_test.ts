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
import { reportPageFragTest, runPageFragTest } from "./page_frag_selftest.ts";

// ------------------------------------------------------------------ options

interface Options {
  nrTest: number;
  msgs: number;
  warmup: boolean;
  json: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    nrTest: 2_000_000,
    msgs: 200_000,
    warmup: true,
    json: false,
  };
  const count = (flag: string, v: string | undefined): number => {
    const n = Number(v?.replaceAll("_", ""));
    if (!Number.isSafeInteger(n) || n < 1 || n > 2 ** 31 - 1) {
      throw new Error(`${flag} needs a positive integer, got ${v}`);
    }
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes("=") ? a.split("=", 2) : [a, undefined];
    const value = () => inline ?? argv[++i];
    if (flag === "--quick") {
      o.nrTest = 20_000;
      o.msgs = 20_000;
    } else if (flag === "--nr-test" || flag === "--nr_test") {
      o.nrTest = count(flag, value());
    } else if (flag === "--msgs") o.msgs = count(flag, value());
    else if (flag === "--json") o.json = true;
    else if (flag === "--no-warmup") o.warmup = false;
    else if (flag === "--help" || flag === "-h") {
      console.log(
        "usage: page_frag_test.ts [--quick] [--nr-test N] [--msgs N] [--no-warmup] [--json]",
      );
      process.exit(0);
    } else throw new Error(`unknown flag ${a} (try --help)`);
  }
  return o;
}

// ------------------------------------------------------------------ main

async function main(): Promise<number> {
  const o = parseArgs(process.argv.slice(2));
  const r = await runPageFragTest(o);
  console.log(o.json ? JSON.stringify(r, null, 2) : reportPageFragTest(r));
  return r.ok ? 0 : 1;
}

process.exitCode = await main();
