/**
 * The shape of a real-world workload, shared by the runner
 * (`bench/realworld/run.ts`) and the workload modules beside it
 * (`tcp_receive.ts`, `encode.ts`, `pipeline.ts`).
 *
 * A workload module exports `workload: Workload`. The runner starts one
 * child process per (workload, mode, rep) running `bench/realworld/child.ts`,
 * which imports the module, calls `run({ mode, count, quick })` once, and
 * measures wall time, CPU time, peak RSS and GCs around that call. So a
 * workload does only its work: no timing, no printing to stdout (the child
 * counts `--trace-gc` lines there), and it leaves nothing running (every
 * socket closed, every worker terminated) so the child exits by itself.
 *
 * @module
 */

/** What the runner asks of one run. */
export interface WorkloadOptions {
  /** One of the workload's {@linkcode Workload.modes} names. */
  mode: string;
  /** Messages (or records) to process in this run. */
  count: number;
  /** `--quick`: small counts, the run only has to prove it is correct. */
  quick: boolean;
}

/** What one run did. */
export interface WorkloadResult {
  /** Messages processed (the runner divides by this for rates and CPU per message). */
  messages: number;
  /** Whether every message arrived intact (a workload checks its own bytes). */
  ok: boolean;
  /** Why `ok` is false, or anything worth printing. */
  note?: string;
  /**
   * Optional: the timed region, when the run has setup that must not count
   * (starting workers, connecting sockets). Measure it with
   * `performance.now()` and `process.cpuUsage()` (process-wide: worker
   * threads included) around the part that moves the messages; without it
   * the child times the whole `run` call.
   */
  timing?: { wallMs: number; cpuUs: number };
}

/** One way to do a workload's job. */
export interface WorkloadMode {
  /** Short name, e.g. `"pagefrag"`, `"Buffer.allocUnsafe"`. */
  name: string;
  /** True for a contender pagefrag is compared against. */
  baseline: boolean;
}

/** A workload module's export. */
export interface Workload {
  /** Name used in results and on the command line, e.g. `"tcp-receive"`. */
  name: string;
  /** The modes to run; ratios are of each non-baseline mode to each baseline. */
  modes: WorkloadMode[];
  /** Messages per run for a full run. */
  count: number;
  /** Messages per run with `--quick`. */
  quickCount: number;
  /** Do the work once. */
  run(opts: WorkloadOptions): Promise<WorkloadResult>;
}
