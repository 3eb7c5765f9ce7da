/**
 * The two threads of bench/page_frag_test.ts: a producer that allocates
 * fragments from its own cache and pushes their addresses into the shared
 * ring, and a consumer that pops and frees them (page_frag_test.c's
 * `page_frag_push_thread` and `page_frag_pop_thread`); plus both ends of the
 * 256-byte message comparison (ring of fragment addresses vs `postMessage`).
 *
 * The main program sends a command, the worker answers `ready`, sleeps until
 * the main program raises the start signal, runs, and answers `done`. The
 * producer times each run from the start signal until the consumer reports
 * that it has finished.
 *
 * @module
 */
import { parentPort, workerData } from "node:worker_threads";
import { createPageFragCache } from "../mod.ts";
import type { AllocOptions } from "../core/cache.ts";
import {
  SharedBackend,
  type SharedBackendDescriptor,
} from "../backends/shared.ts";
import { FragRing, type FragRingDescriptor, RingBackoff } from "../io/ring.ts";
import {
  awaitAtLeast,
  EXIT,
  FINISHED,
  GO,
  POPPED,
  publish,
  RECEIVED,
  RING_SLOTS,
} from "./page_frag_ring.ts";

/** What the main program hands each worker at start. */
export interface WorkerInit {
  role: "producer" | "consumer";
  ring: FragRingDescriptor;
  /** The control words (bench/page_frag_ring.ts). */
  control: SharedArrayBuffer;
  backend: SharedBackendDescriptor;
}

/** A command of the main program. */
export type Command =
  | { cmd: "selftest"; run: number; nr: number; len: number; align: boolean }
  | { cmd: "ring-msg"; run: number; n: number; size: number }
  | { cmd: "post-msg"; run: number; n: number; size: number }
  /** Use this ring from now on (the last one was closed to stop a run). */
  | { cmd: "ring"; ring: FragRingDescriptor }
  | { cmd: "port"; port: MessagePort };

/** The producer's report of one run. */
export interface ProducerDone {
  type: "done";
  role: "producer";
  run: number;
  ok: boolean;
  error?: string;
  elapsedMs: number;
  pushed: number;
  /** Fragments the producer freed itself because the ring was full. */
  dropped: number;
  allocFailures: number;
  refills: number;
  recycles: number;
  /** Times the producer slept in `Atomics.wait` (ring full, or waiting for the consumer). */
  sleeps: number;
}

/** The consumer's report of one run. */
export interface ConsumerDone {
  type: "done";
  role: "consumer";
  run: number;
  ok: boolean;
  error?: string;
  popped: number;
  /** Messages whose checked bytes were wrong. */
  bad: number;
  /** Times the consumer slept in `Atomics.wait` (ring empty). */
  sleeps: number;
}

const ALIGN64: AllocOptions = Object.freeze({ align: 64 });

/**
 * The arena as bytes, index = address, as long as the arena is now: a view
 * of fixed length, because engines read and write length-tracking views of
 * a growable SharedArrayBuffer several times more slowly (V8: 10x). Call
 * again when an address lies beyond its end (the arena grew).
 */
function arenaBytes(backend: SharedBackend): Uint8Array {
  return new Uint8Array(backend.arena, 0, backend.arena.byteLength);
}

const init = workerData as WorkerInit;
const port = parentPort!;
const backend = SharedBackend.attach(init.backend);
let arena = arenaBytes(backend);
const i32 = new Int32Array(init.control);
/**
 * This side's handle on the ring. A stuck run is stopped by closing the
 * ring (the watchdog, or {@linkcode fail}): that wakes both sides, and the
 * main program then hands out a new ring.
 */
let ring = FragRing.attach(init.ring);
/** The spin budget of the waits on the control words. */
const backoff = new RingBackoff();
let channel: MessagePort | undefined;

/** Say ready, then sleep until the main program raises the start signal `run`. */
function awaitStart(run: number): void {
  ring.sleeps = 0;
  port.postMessage({ type: "ready", role: init.role, run });
  for (;;) {
    const go = Atomics.load(i32, GO);
    if (go === run) return;
    Atomics.wait(i32, GO, go, 1000);
  }
}

/** Producer side: wait until the consumer marked run `run` finished. */
function awaitFinished(run: number): boolean {
  return awaitAtLeast(i32, FINISHED, run, backoff, ring) >= 0;
}

/**
 * Push a fragment, waiting for room if `wait`: 1 when pushed, 0 when the
 * ring is full (only without `wait`), -1 when the ring was closed (the run
 * is being stopped; the fragment is still the caller's).
 */
function push(addr: number, length: number, wait: boolean): number {
  try {
    if (wait) return ring.push(addr, length) ? 1 : -1;
    return ring.tryPush(addr, length) ? 1 : 0;
  } catch (e) {
    if (ring.closed) return -1; // ESTATE: closed
    throw e;
  }
}

function fail(message: string): string {
  Atomics.store(i32, EXIT, 1); // for the waits on control words
  ring.close(); // wakes the other side
  return message;
}

/**
 * Wait for the consumer (`finished`, unless the run already failed), drain
 * `cache` (if the run used one) and report the run that started at `t0`.
 */
function producerDone(
  run: number,
  t0: number,
  error: string | undefined,
  pushed: number,
  dropped: number,
  cache: ReturnType<typeof createPageFragCache> | undefined,
  finished: () => boolean = () => awaitFinished(run),
): ProducerDone {
  const done = error === undefined && finished();
  const elapsedMs = performance.now() - t0;
  if (error === undefined && !done) error = "consumer did not finish";
  cache?.drain();
  const s = cache?.stats() ?? { allocFailures: 0, refills: 0, recycles: 0 };
  return {
    type: "done",
    role: "producer",
    run,
    ok: error === undefined,
    error,
    elapsedMs,
    pushed,
    dropped,
    allocFailures: s.allocFailures,
    refills: s.refills,
    recycles: s.recycles,
    sleeps: ring.sleeps,
  };
}

// ------------------------------------------------------------- the self-test

/** `page_frag_push_thread`: allocate, push; on a full ring free it ourselves. */
function selftestProducer(
  run: number,
  nr: number,
  len: number,
  align: boolean,
): ProducerDone {
  const cache = createPageFragCache({ backend });
  const opts = align ? ALIGN64 : undefined;
  let pushed = 0, dropped = 0, failures = 0;
  // After a ring-full free, the next fragment waits for room.
  let full = false;
  let error: string | undefined;
  awaitStart(run);
  const t0 = performance.now();
  while (pushed < nr) {
    const addr = cache.allocHandle(len, opts);
    if (addr === null) {
      // The kernel test just retries; give up if memory never comes back.
      if (++failures > 1_000_000 || ring.closed) {
        error = fail(`allocHandle(${len}) kept failing`);
        break;
      }
      continue;
    }
    if (align && (addr & 63) !== 0) {
      error = fail(`unaligned address ${addr} returned`);
      break;
    }
    const r = push(addr, len, full);
    if (r === 1) {
      pushed++;
      full = false;
    } else {
      cache.free(addr);
      if (r < 0) {
        error = "stopped (no progress)";
        break;
      }
      dropped++;
      full = true;
    }
  }
  return producerDone(run, t0, error, pushed, dropped, cache);
}

/** Most fragments the consumer pops at once. */
const BATCH = 16;
const batch = new Uint32Array(BATCH);
const lengths = new Uint32Array(BATCH);

/**
 * `page_frag_pop_thread`: pop `n` addresses and free them
 * (`page_frag_free`) from this worker; `bad(addr, popped)` says whether a
 * message's bytes are wrong (the message run checks them in place).
 */
function consumer(
  run: number,
  n: number,
  bad: (addr: number, popped: number) => boolean = () => false,
): ConsumerDone {
  let popped = 0, corrupt = 0;
  let error: string | undefined;
  awaitStart(run);
  while (popped < n) {
    // Up to a batch at once, publishing the tail once (as `ptr_ring`'s
    // consumer zeroes its slots in batches); wait only when there is none.
    let k = ring.popMany(batch, lengths, Math.min(BATCH, n - popped));
    if (k === 0) {
      const addr = ring.pop(); // 0: closed, the run is being stopped
      if (addr === 0) {
        error = "stopped (no progress)";
        break;
      }
      batch[0] = addr;
      k = 1;
    }
    for (let j = 0; j < k; j++) {
      const addr = batch[j];
      if (bad(addr, popped)) corrupt++;
      backend.free(addr);
      popped++;
    }
    Atomics.store(i32, POPPED, popped); // for the watchdog
  }
  publish(i32, FINISHED, run); // wake the producer
  if (error === undefined && corrupt !== 0) {
    error = `${corrupt} corrupted messages`;
  }
  return {
    type: "done",
    role: "consumer",
    run,
    ok: error === undefined,
    error,
    popped,
    bad: corrupt,
    sleeps: ring.sleeps,
  };
}

// --------------------------------------------- 256-byte messages: the ring

function messageTemplate(size: number): Uint8Array {
  const msg = new Uint8Array(size);
  for (let i = 0; i < size; i++) msg[i] = (i * 7 + 3) & 255;
  return msg;
}

/** Allocate a fragment, write the message into it, push its address. */
function ringMsgProducer(run: number, n: number, size: number): ProducerDone {
  const cache = createPageFragCache({ backend });
  const msg = messageTemplate(size);
  let pushed = 0;
  let error: string | undefined;
  awaitStart(run);
  const t0 = performance.now();
  while (pushed < n) {
    const addr = cache.allocHandle(size);
    if (addr === null) {
      error = fail("out of memory");
      break;
    }
    if (addr + size > arena.length) arena = arenaBytes(backend); // it grew
    arena.set(msg, addr);
    arena[addr] = pushed & 255;
    if (push(addr, size, true) < 0) {
      cache.free(addr);
      error = "stopped (no progress)";
      break;
    }
    pushed++;
  }
  return producerDone(run, t0, error, pushed, 0, cache);
}

/** Pop an address, read the message in place through the arena view, free it. */
function ringMsgConsumer(run: number, n: number, size: number): ConsumerDone {
  const last = messageTemplate(size)[size - 1];
  return consumer(run, n, (addr, popped) => {
    if (addr + size > arena.length) arena = arenaBytes(backend); // it grew
    return arena[addr] !== (popped & 255) || arena[addr + size - 1] !== last;
  });
}

// --------------------------------------- 256-byte messages: postMessage

/**
 * Post a `Uint8Array(size)` per message (structured clone: a copy) to the
 * consumer's port, at most {@linkcode RING_SLOTS} in flight, the same window
 * the ring allows.
 */
function postMsgProducer(run: number, n: number, size: number): ProducerDone {
  const out = channel!;
  const msg = messageTemplate(size);
  let sent = 0;
  let error: string | undefined;
  awaitStart(run);
  const t0 = performance.now();
  let received = 0;
  while (sent < n) {
    if (sent - received >= RING_SLOTS) {
      received = awaitReceived(sent - RING_SLOTS + 1);
      if (received < 0) {
        error = "stopped (no progress)";
        break;
      }
    }
    msg[0] = sent & 255;
    out.postMessage(msg);
    sent++;
  }
  return producerDone(
    run,
    t0,
    error,
    sent,
    0,
    undefined,
    () => awaitReceived(n) >= 0,
  );
}

/** Wait until the consumer has received at least `want` messages; -1 on exit. */
function awaitReceived(want: number): number {
  return awaitAtLeast(i32, RECEIVED, want, backoff, ring);
}

/** Count the messages as they arrive on the port; answer `done` after `n`. */
function postMsgConsumer(run: number, n: number, size: number): void {
  const last = messageTemplate(size)[size - 1];
  const input = channel!;
  let received = 0, bad = 0;
  input.onmessage = (e: MessageEvent) => {
    const m = e.data as Uint8Array;
    if (m[0] !== (received & 255) || m[size - 1] !== last) bad++;
    received++;
    publish(i32, RECEIVED, received);
    if (received === n) {
      input.onmessage = null;
      port.postMessage(
        {
          type: "done",
          role: "consumer",
          run,
          ok: bad === 0,
          error: bad === 0 ? undefined : `${bad} corrupted messages`,
          popped: received,
          bad,
          sleeps: 0,
        } satisfies ConsumerDone,
      );
    }
  };
  port.postMessage({ type: "ready", role: init.role, run });
}

// ------------------------------------------------------------------- wiring

port.on("message", (c: Command) => {
  if (c.cmd === "ring") {
    ring = FragRing.attach(c.ring);
    return;
  }
  if (c.cmd === "port") {
    channel = c.port;
    port.postMessage({ type: "port-ok" });
    return;
  }
  if (c.cmd === "post-msg" && init.role === "consumer") {
    postMsgConsumer(c.run, c.n, c.size);
    return;
  }
  let result: ProducerDone | ConsumerDone;
  if (init.role === "producer") {
    result = c.cmd === "selftest"
      ? selftestProducer(c.run, c.nr, c.len, c.align)
      : c.cmd === "ring-msg"
      ? ringMsgProducer(c.run, c.n, c.size)
      : postMsgProducer(c.run, c.n, c.size);
  } else {
    result = c.cmd === "selftest"
      ? consumer(c.run, c.nr)
      : ringMsgConsumer(c.run, c.n, c.size);
  }
  port.postMessage(result);
});
port.postMessage({ type: "online", role: init.role });
