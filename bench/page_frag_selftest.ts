/**
 * The machinery of the kernel's page_frag self-test port
 * (`bench/page_frag_test.ts` is its command line; `bench/suite.ts` runs it
 * too): two workers over a shared backend and a 512-slot SPSC ring, the six
 * self-test modes, the 256-byte ring-versus-`postMessage` comparison, and the
 * report.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import process from "node:process";
import type { Worker } from "node:worker_threads";
import { SharedBackend } from "../backends/shared.ts";
import { startWorker } from "../test/worker_util.ts";
import { runtimeVersion, table } from "./harness.ts";
import { FragRing } from "../io/ring.ts";
import {
  createControl,
  EXIT,
  GO,
  POPPED,
  RECEIVED,
  resetControl,
  RING_SLOTS,
} from "./page_frag_ring.ts";
import type {
  Command,
  ConsumerDone,
  ProducerDone,
  WorkerInit,
} from "./page_frag_worker.ts";

/** What to run. */
export interface PageFragTestOptions {
  /** Alloc + free pairs per self-test mode (the kernel's `nr_test`). */
  nrTest: number;
  /** Messages per transport in the 256-byte message comparison. */
  msgs: number;
  /** Run every mode once, shorter, before the timed runs (JIT warm-up). */
  warmup: boolean;
  /** Sample the machine's load for 300 ms first (for the report). */
  measureLoad?: boolean;
}

/** What `runPageFragTest` found (the `--json` output of `page_frag_test.ts`). */
export interface PageFragTestResults {
  runtime: string;
  cpus: number;
  /** How busy the CPUs were (0..1) just before the run, or NaN if unknown. */
  busyAtStart: number;
  nrTest: number;
  kernel: typeof KERNEL & { alignedNs: number; nonAlignedNs: number };
  modes: ModeResult[];
  messages: MsgResult[];
  /** postMessage's ns per message over the ring's. */
  postMessageOverRing: number;
  ok: boolean;
}

// ------------------------------------------------------------------ results

/** The kernel series' cover letter: arm64, 12-byte fragments, 51.2M pairs. */
export const KERNEL = {
  pairs: 51_200_000,
  len: 12,
  alignedS: 2.574,
  nonAlignedS: 5.625,
} as const;
export const kernelNs = (aligned: boolean): number =>
  ((aligned ? KERNEL.alignedS : KERNEL.nonAlignedS) * 1e9) / KERNEL.pairs;

export interface ModeResult {
  len: number;
  align: number;
  nrTest: number;
  elapsedMs: number;
  nsPerPair: number;
  /** Fragments freed by the producer because the ring was full. */
  ringFullFrees: number;
  refills: number;
  recycles: number;
  /** Times the producer / consumer slept in `Atomics.wait`. */
  sleeps: [number, number];
  /** Share of the machine other processes used during the run (NaN: unknown). */
  others: number;
  bytesInUseAfter: number;
  ok: boolean;
  error?: string;
}

export interface MsgResult {
  transport: "ring" | "postMessage";
  messages: number;
  elapsedMs: number;
  nsPerMsg: number;
  /** Times the producer / consumer slept in `Atomics.wait`. */
  sleeps: [number, number];
  /** Share of the machine other processes used during the run (NaN: unknown). */
  others: number;
  ok: boolean;
  error?: string;
}

// ------------------------------------------------------- other processes

/** Jiffies of all CPUs (busy, total) from /proc/stat; undefined off Linux. */
function cpuJiffies(): [number, number] | undefined {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0];
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const total = f.reduce((a, b) => a + b, 0);
    return [total - f[3] - (f[4] ?? 0), total]; // minus idle and iowait
  } catch {
    return undefined;
  }
}

interface LoadSample {
  jiffies: [number, number] | undefined;
  /** CPU time of this process, all its threads (workers included), in us. */
  ours: number;
}

function sampleLoad(): LoadSample {
  const u = process.cpuUsage();
  return { jiffies: cpuJiffies(), ours: u.user + u.system };
}

/** Share of the machine's CPU time anyone used over the next `ms` (0..1), NaN if unknown. */
export async function measureBusy(ms: number): Promise<number> {
  const a = cpuJiffies();
  await new Promise((r) => setTimeout(r, ms));
  const b = cpuJiffies();
  if (a === undefined || b === undefined || b[1] === a[1]) return NaN;
  return (b[0] - a[0]) / (b[1] - a[1]);
}

/**
 * Share of the machine's CPU time that *other* processes used between two
 * samples (0..1), or NaN when unknown or the window is too short to tell
 * (jiffies are 10 ms: at least 50 ms of a 2-CPU machine).
 */
function othersBusy(a: LoadSample, b: LoadSample): number {
  if (a.jiffies === undefined || b.jiffies === undefined) return NaN;
  const total = b.jiffies[1] - a.jiffies[1];
  if (total < 10) return NaN;
  const busyMs = (b.jiffies[0] - a.jiffies[0]) * 10;
  const oursMs = (b.ours - a.ours) / 1000;
  return Math.min(1, Math.max(0, (busyMs - oursMs) / (total * 10)));
}

// ------------------------------------------------------------------ running

// 4 KiB pages up to order 3 (the kernel's PAGE_FRAG_CACHE_MAX_SIZE of
// 32 KiB) and a 64 MiB budget: the ring never holds more than 512
// fragments, so a leak shows up as a failure.
const backend = new SharedBackend({
  pageSize: 4096,
  maxOrder: 3,
  maxBytes: 64 << 20,
});
let ring = new FragRing(RING_SLOTS);
const i32 = createControl();
let runId = 0;

function start(role: WorkerInit["role"]): Worker {
  const init: WorkerInit = {
    role,
    ring: ring.share(),
    control: i32.buffer as SharedArrayBuffer,
    backend: backend.share(),
  };
  return startWorker(new URL("./page_frag_worker.ts", import.meta.url), init);
}

/**
 * The next message from `worker` that satisfies `accept`; rejects when the
 * worker fails or exits first.
 */
function nextMessage<T>(
  worker: Worker,
  accept: (msg: T) => boolean = () => true,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const on = (msg: T) => accept(msg) && settle(() => resolve(msg));
    const onError = (err: unknown) => settle(() => reject(err));
    const onExit = (code: number) =>
      settle(() => reject(new Error(`worker exited (code ${code}) first`)));
    const settle = (then: () => void) => {
      worker.off("message", on).off("error", onError).off("exit", onExit);
      then();
    };
    worker.on("message", on).on("error", onError).on("exit", onExit);
  });
}

type Msg = { type: string; role?: string; run?: number };

/**
 * Send `cmd` to both workers, wait until both are ready, raise the start
 * signal, and collect both reports. A watchdog stops a run that makes no
 * progress for 10 s (the kernel test's check).
 */
async function runBoth(
  producer: Worker,
  consumer: Worker,
  make: (run: number) => Command,
): Promise<[ProducerDone, ConsumerDone, number]> {
  const run = ++runId;
  resetControl(i32);
  if (ring.closed) {
    // The last run was stopped: free what it left in the ring (both
    // workers are idle) and give them a new one.
    const drain = FragRing.attach(ring.share());
    for (let a = drain.tryPop(); a !== 0; a = drain.tryPop()) backend.free(a);
    ring = new FragRing(RING_SLOTS);
    const cmd: Command = { cmd: "ring", ring: ring.share() };
    producer.postMessage(cmd);
    consumer.postMessage(cmd);
  }
  const isRun = (m: Msg) => m.run === run;
  const ready = Promise.all([
    nextMessage<Msg>(producer, (m) => m.type === "ready" && isRun(m)),
    nextMessage<Msg>(consumer, (m) => m.type === "ready" && isRun(m)),
  ]);
  const done = Promise.all([
    nextMessage<ProducerDone>(
      producer,
      (m) => m.type === "done" && m.run === run,
    ),
    nextMessage<ConsumerDone>(
      consumer,
      (m) => m.type === "done" && m.run === run,
    ),
  ]);
  producer.postMessage(make(run));
  consumer.postMessage(make(run));
  await ready;
  const before = sampleLoad();
  Atomics.store(i32, GO, run);
  Atomics.notify(i32, GO);
  let last = -1, still = 0;
  const watchdog = setInterval(() => {
    const progress = Atomics.load(i32, POPPED) + Atomics.load(i32, RECEIVED);
    if (progress !== last) {
      last = progress;
      still = 0;
    } else if (++still >= 10) {
      Atomics.store(i32, EXIT, 1); // stops the waits on control words
      ring.close(); // and wakes both sides of the ring
    }
  }, 1000);
  try {
    const [p, c] = await done;
    return [p, c, othersBusy(before, sampleLoad())];
  } finally {
    clearInterval(watchdog);
  }
}

async function selftest(
  producer: Worker,
  consumer: Worker,
  nr: number,
  len: number,
  align: boolean,
): Promise<ModeResult> {
  const [p, c, others] = await runBoth(producer, consumer, (run) => ({
    cmd: "selftest",
    run,
    nr,
    len,
    align,
  }));
  const bytesInUseAfter = backend.stats().bytesInUse;
  const errors = [p.error, c.error].filter((e) => e !== undefined);
  if (p.pushed !== nr || c.popped !== nr) {
    errors.push(`pushed ${p.pushed}, popped ${c.popped} of ${nr}`);
  }
  if (bytesInUseAfter !== 0) {
    errors.push(`${bytesInUseAfter} bytes of pages not returned`);
  }
  return {
    len,
    align: align ? 64 : 1,
    nrTest: nr,
    elapsedMs: p.elapsedMs,
    nsPerPair: (p.elapsedMs * 1e6) / nr,
    ringFullFrees: p.dropped,
    refills: p.refills,
    recycles: p.recycles,
    sleeps: [p.sleeps, c.sleeps],
    others,
    bytesInUseAfter,
    ok: errors.length === 0,
    error: errors.length === 0 ? undefined : errors.join("; "),
  };
}

async function messages(
  producer: Worker,
  consumer: Worker,
  transport: MsgResult["transport"],
  n: number,
): Promise<MsgResult> {
  const cmd = transport === "ring" ? "ring-msg" : "post-msg";
  const [p, c, others] = await runBoth(producer, consumer, (run) => ({
    cmd,
    run,
    n,
    size: 256,
  }));
  const errors = [p.error, c.error].filter((e) => e !== undefined);
  if (c.popped !== n) errors.push(`received ${c.popped} of ${n}`);
  if (transport === "ring" && backend.stats().bytesInUse !== 0) {
    errors.push(`${backend.stats().bytesInUse} bytes of pages not returned`);
  }
  return {
    transport,
    messages: n,
    elapsedMs: p.elapsedMs,
    nsPerMsg: (p.elapsedMs * 1e6) / n,
    sleeps: [p.sleeps, c.sleeps],
    others,
    ok: errors.length === 0,
    error: errors.length === 0 ? undefined : errors.join("; "),
  };
}

// ------------------------------------------------------------------ report

const fmtInt = (n: number) => n.toLocaleString("en-US");
const pct = (f: number) => Number.isNaN(f) ? "-" : `${Math.round(f * 100)}%`;
const fmt = (n: number, digits = 1) =>
  n.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });

/** The tables `page_frag_test.ts` prints for `r`. */
export function reportPageFragTest(r: PageFragTestResults): string {
  const { modes, messages: msgs } = r;
  const o = r;
  const lines: string[] = [];
  const cpu = cpus();
  const busy = Number.isNaN(o.busyAtStart)
    ? ""
    : `, ${fmt(o.busyAtStart * 100, 0)}% busy just before the run${
      o.busyAtStart > 0.1
        ? " (other processes were using the CPUs: figures are noisy)"
        : ""
    }`;
  lines.push(
    `page_frag_test: the kernel's page_frag self-test on ${runtimeVersion()}`,
    `machine: ${cpu.length} CPUs (${cpu[0]?.model.trim() ?? "?"})${busy}`,
    `producer and consumer in two workers; ${RING_SLOTS}-slot SPSC ring in shared memory;`,
    `shared backend, ${backend.pageSize} B pages up to order ${backend.maxOrder}; nr_test = ${
      fmtInt(o.nrTest)
    } per mode`,
    "",
  );
  const rows = [[
    "mode",
    "len",
    "align",
    "elapsed",
    "ns/pair",
    "kernel ns",
    "x kernel",
    "ring-full frees",
    "refills",
    "recycles",
    "sleeps p/c",
    "others",
    "pages back",
  ]];
  for (const m of modes) {
    const k = kernelNs(m.align !== 1);
    rows.push([
      m.align === 1 ? "non-aligned" : "aligned",
      String(m.len),
      String(m.align),
      `${fmt(m.elapsedMs)} ms`,
      fmt(m.nsPerPair),
      fmt(k),
      `${fmt(m.nsPerPair / k, 2)}x`,
      fmtInt(m.ringFullFrees),
      fmtInt(m.refills),
      fmtInt(m.recycles),
      `${fmtInt(m.sleeps[0])}/${fmtInt(m.sleeps[1])}`,
      pct(m.others),
      m.ok ? "yes" : `NO: ${m.error}`,
    ]);
  }
  lines.push(
    table(rows),
    "",
    `kernel: the page_frag series' cover letter, arm64, ${KERNEL.len}-byte fragments, ${
      fmtInt(KERNEL.pairs)
    } pairs:`,
    `  aligned ${KERNEL.alignedS} s = ${
      fmt(kernelNs(true))
    } ns/pair; non-aligned ${KERNEL.nonAlignedS} s = ${
      fmt(kernelNs(false))
    } ns/pair`,
    `  ("x kernel" compares every row with the ${KERNEL.len}-byte figure of the same alignment)`,
    "ring-full frees: fragments the producer freed itself because the ring was full (as the kernel test does);",
    "sleeps p/c: times producer/consumer slept in Atomics.wait; others: share of the machine's CPU time",
    "other processes used during the run (- when too short to tell); a busy machine makes the figures noisy",
    "",
  );
  if (msgs.length === 2) {
    const [r, p] = msgs;
    lines.push(
      `256-byte message to another worker, ${
        fmtInt(r.messages)
      } messages, at most ${RING_SLOTS} in flight:`,
      table([
        ["transport", "elapsed", "ns/msg", "sleeps p/c", "others", "ok"],
        [
          "fragment address on the ring (alloc, write | read in place, free)",
          `${fmt(r.elapsedMs)} ms`,
          fmt(r.nsPerMsg),
          `${fmtInt(r.sleeps[0])}/${fmtInt(r.sleeps[1])}`,
          pct(r.others),
          r.ok ? "yes" : `NO: ${r.error}`,
        ],
        [
          "postMessage(Uint8Array(256)) (structured-clone copy)",
          `${fmt(p.elapsedMs)} ms`,
          fmt(p.nsPerMsg),
          `${fmtInt(p.sleeps[0])}/${fmtInt(p.sleeps[1])}`,
          pct(p.others),
          p.ok ? "yes" : `NO: ${p.error}`,
        ],
      ]),
      `postMessage / ring = ${fmt(p.nsPerMsg / r.nsPerMsg, 1)}x`,
    );
  }
  return lines.join("\n");
}

// ------------------------------------------------------------------ run

/** The six self-test modes: 2048, 75 and 12 bytes, non-aligned and aligned. */
const MODES: ReadonlyArray<readonly [len: number, align: boolean]> = [
  2048,
  75,
  12,
]
  .flatMap((len) => [[len, false] as const, [len, true] as const]);

/**
 * Start the two workers, run the six modes and both transports (after a
 * warm-up pass unless `o.warmup` is false), stop the workers, and return
 * what was measured.
 */
export async function runPageFragTest(
  o: PageFragTestOptions,
): Promise<PageFragTestResults> {
  const busyAtStart = o.measureLoad === false ? NaN : await measureBusy(300);
  const producer = start("producer");
  const consumer = start("consumer");
  try {
    await Promise.all([
      nextMessage<Msg>(producer, (m) => m.type === "online"),
      nextMessage<Msg>(consumer, (m) => m.type === "online"),
    ]);
    const channel = new MessageChannel();
    const portsOk = Promise.all([
      nextMessage<Msg>(producer, (m) => m.type === "port-ok"),
      nextMessage<Msg>(consumer, (m) => m.type === "port-ok"),
    ]);
    producer.postMessage({ cmd: "port", port: channel.port1 }, [
      channel.port1 as never,
    ]);
    consumer.postMessage({ cmd: "port", port: channel.port2 }, [
      channel.port2 as never,
    ]);
    await portsOk;

    if (o.warmup) {
      // Let the JIT compile both loops before anything is timed.
      const w = Math.min(o.nrTest, 100_000);
      for (const [len, align] of MODES) {
        await selftest(producer, consumer, w, len, align);
      }
      const wm = Math.min(o.msgs, 20_000);
      await messages(producer, consumer, "ring", wm);
      await messages(producer, consumer, "postMessage", wm);
    }
    const results: ModeResult[] = [];
    for (const [len, align] of MODES) {
      results.push(await selftest(producer, consumer, o.nrTest, len, align));
    }
    const msgs = [
      await messages(producer, consumer, "ring", o.msgs),
      await messages(producer, consumer, "postMessage", o.msgs),
    ];
    return {
      runtime: runtimeVersion(),
      cpus: cpus().length,
      busyAtStart,
      nrTest: o.nrTest,
      kernel: {
        ...KERNEL,
        alignedNs: kernelNs(true),
        nonAlignedNs: kernelNs(false),
      },
      modes: results,
      messages: msgs,
      postMessageOverRing: msgs[1].nsPerMsg / msgs[0].nsPerMsg,
      ok: results.every((r) => r.ok) && msgs.every((m) => m.ok),
    };
  } finally {
    await Promise.all([producer.terminate(), consumer.terminate()]);
  }
}
