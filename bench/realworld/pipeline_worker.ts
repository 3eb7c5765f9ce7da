/**
 * The two workers of the pipeline workload (bench/realworld/pipeline.ts):
 * worker A makes `count` messages of 16-1024 bytes and hands them to
 * worker B, which checks and drops each one. How they are handed over is
 * the mode:
 *
 * - `FragRing`: A allocates a fragment from its own cache over a shared
 *   backend, writes the message in place and pushes (address, length)
 *   through a {@linkcode FragRing} in batches; B pops in batches, reads the
 *   message in place and frees the fragment.
 * - `postMessage Uint8Array`: A fills a new `Uint8Array` and posts it (a copy).
 * - `postMessage transfer`: A fills a new `ArrayBuffer` and transfers it.
 * - `SAB byte ring`: A copies the message into a plain shared byte ring,
 *   B reads it in place ({@linkcode ByteRing}: no pagefrag).
 *
 * postMessage has no back-pressure of its own, so A keeps at most
 * {@linkcode WINDOW} messages unacknowledged (the rings hold about as
 * many): B counts what it got in a shared word and A sleeps on it.
 *
 * @module
 */
import { parentPort, workerData } from "node:worker_threads";
import { createPageFragCache } from "../../mod.ts";
import {
  SharedBackend,
  type SharedBackendDescriptor,
} from "../../backends/shared.ts";
import { FragRing, type FragRingDescriptor } from "../../io/ring.ts";
import { ByteRing } from "./byte_ring.ts";

/** Messages in flight at most (ring slots, postMessage window). */
export const WINDOW = 1024;
/** Fragments a FragRing producer pushes at once. */
export const BATCH = 32;

// Control words (Int32 indices).
/** Workers that are ready; the main thread waits for 2. */
export const READY = 0;
/** Set to 1 by the main thread: go. */
export const GO = 16;
/** Messages B has received (postMessage modes). */
export const RECEIVED = 32;
/** A sleeps on RECEIVED after setting this. */
export const SENDER_WAITING = 48;
/** B stores 1 when it has checked every message, 2 on a failure. */
export const DONE = 64;
/** Messages that failed B's check. */
export const BAD = 80;
/** A stores 1 when it has finished (its cache drained). */
export const SENDER_DONE = 96;
/** Int32 words of the control block. */
export const CONTROL_WORDS = 112;

/** The modes. */
export type PipelineMode =
  | "FragRing"
  | "postMessage Uint8Array"
  | "postMessage transfer"
  | "SAB byte ring";

/** What each worker gets. */
export interface PipelineInit {
  role: "A" | "B";
  mode: PipelineMode;
  count: number;
  control: SharedArrayBuffer;
  ring?: FragRingDescriptor;
  bytes?: SharedArrayBuffer;
  backend?: SharedBackendDescriptor;
}

/** Size of message `i`: 16 .. 1024 bytes, spread by a multiplicative hash. */
export function sizeOf(i: number): number {
  return 16 + ((Math.imul(i, 0x9e3779b1) >>> 0) % 1009);
}

/** Write message `i` into `u8` at `off`: its number, then its low byte. */
function fillMessage(u8: Uint8Array, off: number, i: number, size: number) {
  u8[off] = i;
  u8[off + 1] = i >>> 8;
  u8[off + 2] = i >>> 16;
  u8[off + 3] = i >>> 24;
  u8.fill(i & 255, off + 4, off + size);
}

/** Whether message `i` at `off` is intact (number, first and last byte). */
function checkMessage(u8: Uint8Array, off: number, i: number, size: number) {
  const n = (u8[off] | (u8[off + 1] << 8) | (u8[off + 2] << 16) |
    (u8[off + 3] << 24)) >>> 0;
  const b = i & 255;
  return n === (i >>> 0) && u8[off + 4] === b && u8[off + size - 1] === b;
}

const WAIT_MS = 30_000;

function ready(ctl: Int32Array): void {
  Atomics.add(ctl, READY, 1);
  Atomics.notify(ctl, READY);
  while (Atomics.load(ctl, GO) === 0) Atomics.wait(ctl, GO, 0, 100);
}

function finish(ctl: Int32Array, bad: number): void {
  Atomics.store(ctl, BAD, bad);
  Atomics.store(ctl, DONE, bad === 0 ? 1 : 2);
  Atomics.notify(ctl, DONE);
}

// ------------------------------------------------------------------ A

/** A fixed-length view of the whole arena as it is now. */
function arenaView(backend: SharedBackend): Uint8Array {
  return new Uint8Array(backend.arena, 0, backend.arena.byteLength);
}

function senderRing(d: PipelineInit, ctl: Int32Array): void {
  const backend = SharedBackend.attach(d.backend!);
  const cache = createPageFragCache({ backend });
  const ring = FragRing.attach(d.ring!);
  // Addresses are byte offsets in the arena: one view over it reads and
  // writes every fragment with no view object per message. A fixed-length
  // view (remade if the arena grew): engines fill and read a length-tracking
  // view of a growable buffer 25-45% slower.
  let mem = arenaView(backend);
  const addrs = new Uint32Array(BATCH), lens = new Uint32Array(BATCH);
  ready(ctl);
  for (let i = 0; i < d.count;) {
    const n = Math.min(BATCH, d.count - i);
    for (let k = 0; k < n; k++) {
      const size = sizeOf(i + k);
      const addr = cache.allocHandle(size)!;
      if (addr + size > mem.length) mem = arenaView(backend);
      fillMessage(mem, addr, i + k, size);
      addrs[k] = addr;
      lens[k] = size;
    }
    let done = ring.pushMany(addrs, lens, 0, n);
    while (done < n) {
      if (!ring.push(addrs[done], lens[done], WAIT_MS)) {
        throw new Error("FragRing push timed out");
      }
      done++;
      done += ring.pushMany(addrs, lens, done, n);
    }
    i += n;
  }
  cache.drain();
}

function senderByteRing(d: PipelineInit, ctl: Int32Array): void {
  const ring = new ByteRing(d.bytes!);
  const u8 = ring.u8;
  ready(ctl);
  for (let i = 0; i < d.count; i++) {
    const size = sizeOf(i);
    const off = ring.reserve(size);
    fillMessage(u8, off, i, size);
    ring.publish(size);
  }
}

function senderPost(d: PipelineInit, ctl: Int32Array, port: MessagePort) {
  const transfer = d.mode === "postMessage transfer";
  ready(ctl);
  for (let i = 0; i < d.count; i++) {
    // Back-pressure: at most WINDOW messages B has not counted yet.
    let got = Atomics.load(ctl, RECEIVED);
    while (i - got >= WINDOW) {
      Atomics.store(ctl, SENDER_WAITING, 1);
      Atomics.wait(ctl, RECEIVED, got, 20);
      Atomics.store(ctl, SENDER_WAITING, 0);
      got = Atomics.load(ctl, RECEIVED);
    }
    const size = sizeOf(i);
    if (transfer) {
      const buf = new ArrayBuffer(size);
      fillMessage(new Uint8Array(buf), 0, i, size);
      port.postMessage(buf, [buf]);
    } else {
      const u8 = new Uint8Array(size);
      fillMessage(u8, 0, i, size);
      port.postMessage(u8);
    }
  }
}

// ------------------------------------------------------------------ B

function receiverRing(d: PipelineInit, ctl: Int32Array): void {
  const backend = SharedBackend.attach(d.backend!);
  const ring = FragRing.attach(d.ring!);
  let mem = arenaView(backend);
  const addrs = new Uint32Array(BATCH * 2), lens = new Uint32Array(BATCH * 2);
  let bad = 0;
  ready(ctl);
  for (let i = 0; i < d.count;) {
    let n = ring.popMany(addrs, lens);
    if (n === 0) {
      const a = ring.pop(WAIT_MS);
      if (a === 0) throw new Error(`FragRing: nothing after message ${i}`);
      addrs[0] = a;
      lens[0] = ring.length;
      n = 1;
    }
    for (let k = 0; k < n; k++, i++) {
      const size = lens[k];
      if (addrs[k] + size > mem.length) mem = arenaView(backend);
      if (
        size !== sizeOf(i) ||
        !checkMessage(mem, addrs[k], i, size)
      ) bad++;
      backend.free(addrs[k]);
    }
  }
  finish(ctl, bad);
}

function receiverByteRing(d: PipelineInit, ctl: Int32Array): void {
  const ring = new ByteRing(d.bytes!);
  const u8 = ring.u8;
  let bad = 0;
  ready(ctl);
  for (let i = 0; i < d.count; i++) {
    const off = ring.next(WAIT_MS);
    if (off < 0) throw new Error(`byte ring: nothing after message ${i}`);
    const size = ring.lastLength;
    if (size !== sizeOf(i) || !checkMessage(u8, off, i, size)) bad++;
    ring.release();
  }
  finish(ctl, bad);
}

function receiverPost(d: PipelineInit, ctl: Int32Array, port: MessagePort) {
  let i = 0, bad = 0;
  port.onmessage = (e: MessageEvent<Uint8Array | ArrayBuffer>) => {
    const m = e.data;
    const u8 = m instanceof Uint8Array ? m : new Uint8Array(m);
    if (u8.length !== sizeOf(i) || !checkMessage(u8, 0, i, u8.length)) bad++;
    i++;
    Atomics.add(ctl, RECEIVED, 1);
    if (Atomics.load(ctl, SENDER_WAITING) !== 0) Atomics.notify(ctl, RECEIVED);
    if (i === d.count) {
      port.close();
      finish(ctl, bad);
    }
  };
  // Ready only once the listener is on (ready() blocks this thread until go).
  ready(ctl);
}

// ------------------------------------------------------------------ main

function main(d: PipelineInit, port: MessagePort | undefined): void {
  const ctl = new Int32Array(d.control);
  try {
    if (d.role === "A") {
      if (d.mode === "FragRing") senderRing(d, ctl);
      else if (d.mode === "SAB byte ring") senderByteRing(d, ctl);
      else senderPost(d, ctl, port!);
      Atomics.store(ctl, SENDER_DONE, 1);
      Atomics.notify(ctl, SENDER_DONE);
    } else {
      if (d.mode === "FragRing") receiverRing(d, ctl);
      else if (d.mode === "SAB byte ring") receiverByteRing(d, ctl);
      else receiverPost(d, ctl, port!);
    }
  } catch (e) {
    parentPort!.postMessage({
      error: e instanceof Error ? e.stack : String(e),
    });
    finish(ctl, -1);
  }
}

// Imported by the main thread too (for the constants): run only in a worker.
const init = workerData as PipelineInit | null;
if (parentPort !== null && init?.role !== undefined) {
  if (
    init.mode === "postMessage Uint8Array" ||
    init.mode === "postMessage transfer"
  ) {
    // The port comes from the main thread in a message of its own.
    parentPort.once(
      "message",
      (m: { port: MessagePort }) => main(init, m.port),
    );
  } else main(init, undefined);
}
