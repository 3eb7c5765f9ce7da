/**
 * Two small additions to mitata 1.0 for the benchmark suite.
 *
 * **A time budget per benchmark.** `run()` measures every benchmark for at
 * least 642 ms of CPU time (mitata's `k_min_cpu_time`), and offers no option
 * to change it; `measure()` does (`min_cpu_time`). The suite has 72
 * allocation benchmarks and a minute in all, so {@linkcode withBudget}
 * replaces one `bench()`'s `run` with the same measurement mitata makes
 * (`measure()` with the same heap reader, gc before the samples, batching and
 * warm-up) under a shorter budget, and returns the trial in mitata's own
 * shape: `run()` then prints, summarises, plots and returns it as usual. It
 * checks the fields of mitata's `B` it reads; if a later mitata renamed them,
 * the benchmark keeps mitata's own `run` (slower, never wrong).
 *
 * **mitata's JSON format from a `run()` that printed to the terminal.**
 * `run({ format: "json" })` prints JSON *instead of* the report;
 * {@linkcode mitataJson} serialises what `run()` returned exactly as that
 * format does (`{ layout, benchmarks, context }`, errors as `{ message,
 * stack }`), without the generated source (`debug`) and the raw samples, as
 * `format: { json: { debug: false, samples: false } }` would.
 *
 * @module
 */
import { type B, flags, measure } from "mitata";

/** A trial as `B.run()` returns it. */
export type Trial = Awaited<ReturnType<B["run"]>>;

/** The fields of mitata's `B` that `withBudget` reads (mitata 1.0). */
interface BFields {
  f: () => unknown;
  _name: string;
  _group: number;
  _args: Record<string, unknown[]>;
  _highlight: false | string;
  flags: number;
}

/**
 * The heap reader mitata's `run()` gives `measure()` (the third line of each
 * benchmark in its report): bytes in use, read around each sample.
 */
export async function mitataHeapReader(): Promise<
  (() => number) | undefined
> {
  if ("Bun" in globalThis) {
    const spec = "bun:jsc"; // not a literal: other runtimes never load it
    const { memoryUsage } = (await import(spec)) as {
      memoryUsage(): { current: number };
    };
    return () => memoryUsage().current;
  }
  try {
    const { getHeapStatistics } = await import("node:v8");
    getHeapStatistics();
    return () => {
      const m = getHeapStatistics();
      return m.used_heap_size + m.malloced_memory;
    };
  } catch {
    return undefined;
  }
}

/**
 * Make `b` measure for `budgetNs` of CPU time (at least mitata's 12
 * samples) instead of mitata's 642 ms, keeping everything else `run()` does.
 * `batchSamples` (calls per timed sample when a call is short; mitata's
 * default is 4096) should shrink when each call is itself a loop: 12
 * samples of 4096 calls of 40 µs would take 2 s whatever the budget.
 */
export function withBudget(
  b: B,
  budgetNs: number,
  heap: (() => number) | undefined,
  batchSamples = 4096,
): B {
  const fields = b as unknown as Partial<BFields>;
  const { f, _name: name } = fields;
  if (
    typeof f !== "function" || typeof name !== "string" ||
    typeof fields._group !== "number" || typeof fields.flags !== "number" ||
    Object.keys(fields._args ?? {}).length !== 0
  ) {
    return b; // not the B we know: keep mitata's own run
  }
  b.run = async (thrw = false): Promise<Trial> => {
    let stats: Awaited<ReturnType<typeof measure>> | undefined;
    let error: unknown;
    try {
      stats = await measure(f, {
        heap,
        min_cpu_time: budgetNs,
        batch_samples: batchSamples,
      });
    } catch (err) {
      error = err;
      if (thrw) throw err;
    }
    const flagBits = fields.flags ?? 0;
    return {
      kind: "static",
      args: {},
      alias: name,
      group: fields._group,
      baseline: (flagBits & flags.baseline) !== 0,
      runs: [{ stats, error, args: {}, name }],
      style: {
        highlight: fields._highlight ?? false,
        compact: (flagBits & flags.compact) !== 0,
      },
    } as unknown as Trial;
  };
  return b;
}

/**
 * What `run()` returned, as mitata's JSON format (`{ layout, benchmarks,
 * context }`) without `debug` and `samples`, plus any `extra` top-level keys.
 */
export function mitataJson(
  result: { layout?: unknown; benchmarks: unknown; context: unknown },
  extra: Record<string, unknown> = {},
): string {
  return JSON.stringify(
    {
      layout: result.layout,
      benchmarks: result.benchmarks,
      context: result.context,
      ...extra,
    },
    (k, v) => {
      if (k === "debug") return "";
      if (k === "samples") return null;
      if (!(v instanceof Error)) return v;
      return { message: String(v.message), stack: v.stack };
    },
    2,
  );
}
