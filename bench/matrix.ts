/**
 * A rows × forms benchmark matrix with mitata, shared by
 * bench/flavours_bench.ts and bench/sanitizer_bench.ts: warm every body up,
 * then either a rough `measure()` of each (`--quick`) or one full mitata
 * `run()` with a `summary()` per form against the baseline row, and hand
 * back the average ns per call by benchmark name.
 */
import { bench, measure, run, summary } from "mitata";

/** One column of the matrix: an operation and the body for each row. */
export interface MatrixForm<Row extends string> {
  /** What is measured, e.g. "alloc(256)". */
  readonly op: string;
  /** One benchmark body per row. */
  readonly fns: Readonly<Record<Row, () => void>>;
}

/** Average ns per benchmark call, by `nameOf(row, form)`. */
export async function runMatrix<Row extends string, F extends MatrixForm<Row>>(
  opts: {
    rows: readonly Row[];
    forms: readonly F[];
    baseline: Row;
    nameOf: (row: Row, form: F) => string;
    quick: boolean;
    title: string;
    warmup: number;
  },
): Promise<Map<string, number>> {
  const { rows, forms, baseline, nameOf, quick } = opts;
  // Warm every body first: mitata times a benchmark call by call, timer
  // included, when its first call takes over 500 µs, and the first calls
  // compile the caches' paths and take a page.
  for (const form of forms) {
    for (const row of rows) {
      const fn = form.fns[row];
      for (let i = 0; i < opts.warmup; i++) fn();
    }
  }
  const results = new Map<string, number>();
  if (quick) {
    console.log(
      `== ${opts.title} (--quick: mitata measure(), 50 ms each, rough numbers) ==`,
    );
    for (const form of forms) {
      for (const row of rows) {
        const name = nameOf(row, form);
        const stats = await measure(form.fns[row], { min_cpu_time: 50e6 });
        results.set(name, stats.avg);
        console.log(
          `  ${name.padEnd(48)} ${stats.avg.toFixed(1).padStart(9)} ns/iter`,
        );
      }
    }
    return results;
  }
  console.log(`== ${opts.title} ==`);
  for (const form of forms) {
    summary(() => {
      for (const row of rows) {
        bench(nameOf(row, form), form.fns[row]).baseline(row === baseline);
      }
    });
  }
  const { benchmarks } = await run();
  for (const trial of benchmarks) {
    const stats = trial.runs[0]?.stats;
    if (stats !== undefined) results.set(trial.alias, stats.avg);
  }
  return results;
}
