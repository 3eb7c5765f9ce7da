/**
 * One side of the cross-worker FragRing tests (test/io_ring_test.ts).
 *
 * The producer allocates fragments of varying size from its own cache over
 * the shared backend, writes a sequence number and a pattern derived from
 * it, and pushes (address, length) into the ring; the consumer pops in the
 * way the test asks (blocking, non-blocking, async, batch), checks order,
 * length and bytes, and frees each fragment. Every loop is bounded by the
 * count and the ring's own timeouts.
 */
import { createPageFragCache } from "../../mod.ts";
import {
  SharedBackend,
  type SharedBackendDescriptor,
} from "../../backends/shared.ts";
import { FragRing, type FragRingDescriptor } from "../../io/ring.ts";
import { workerMain } from "../worker_util.ts";

/** How the consumer pops. */
export type PopMode = "pop" | "tryPop" | "popAsync" | "popMany";

/** What the test hands each side. */
export interface IoRingData {
  role: "producer" | "consumer";
  ring: FragRingDescriptor;
  backend: SharedBackendDescriptor;
  count: number;
  mode: PopMode;
  /** Producer only: push in batches of this many (1: tryPush/push). */
  batch: number;
}

/** What a side reports. */
export interface IoRingResult {
  handled: number;
  bad: number;
  firstBad: string;
  sleeps: number;
}

/** Size of message `i`: 1 .. 1500 bytes, at least 4 for the sequence number. */
export function sizeOf(i: number): number {
  return 4 + ((i * 2654435761) >>> 0) % 1497;
}

const WAIT_MS = 20_000;

function produce(d: IoRingData): IoRingResult {
  const backend = SharedBackend.attach(d.backend);
  const cache = createPageFragCache({ backend });
  const ring = FragRing.attach(d.ring);
  const addrs = new Uint32Array(d.batch), lens = new Uint32Array(d.batch);
  let i = 0;
  while (i < d.count) {
    const n = Math.min(d.batch, d.count - i);
    for (let k = 0; k < n; k++) {
      const size = sizeOf(i + k);
      const addr = cache.allocHandle(size);
      if (addr === null) throw new Error(`out of memory at ${i + k}`);
      const v = backend.view(addr, size);
      new DataView(v.buffer, v.byteOffset, 4).setUint32(0, i + k, true);
      for (let b = 4; b < size; b++) v[b] = (i + k + b) & 255;
      addrs[k] = addr;
      lens[k] = size;
    }
    if (n === 1) {
      if (!ring.push(addrs[0], lens[0], WAIT_MS)) {
        throw new Error("push timed out");
      }
    } else {
      let done = 0;
      while (done < n) {
        done += ring.pushMany(addrs, lens, done, n);
        if (done < n && !ring.push(addrs[done], lens[done++], WAIT_MS)) {
          throw new Error("push timed out");
        }
      }
    }
    i += n;
  }
  ring.close();
  cache.drain();
  return { handled: i, bad: 0, firstBad: "", sleeps: ring.sleeps };
}

async function consume(d: IoRingData): Promise<IoRingResult> {
  const backend = SharedBackend.attach(d.backend);
  const ring = FragRing.attach(d.ring);
  let seq = 0, bad = 0, firstBad = "";
  const check = (addr: number, length: number) => {
    const v = backend.view(addr, length);
    const got = new DataView(v.buffer, v.byteOffset, 4).getUint32(0, true);
    let ok = got === seq && length === sizeOf(seq);
    for (let b = 4; ok && b < length; b++) ok = v[b] === ((seq + b) & 255);
    if (!ok && bad++ === 0) {
      firstBad = `message ${seq}: got seq ${got}, length ${length}`;
    }
    backend.free(addr);
    seq++;
  };
  const addrs = new Uint32Array(64), lens = new Uint32Array(64);
  const deadline = performance.now() + WAIT_MS;
  const idle = new Int32Array(new SharedArrayBuffer(4));
  let misses = 0;
  while (seq < d.count) {
    if (performance.now() > deadline) throw new Error(`stuck at ${seq}`);
    if (d.mode === "pop") {
      const a = ring.pop(WAIT_MS);
      if (a === 0) break;
      check(a, ring.length);
    } else if (d.mode === "tryPop") {
      const a = ring.tryPop();
      if (a !== 0) {
        check(a, ring.length);
        misses = 0;
      } else if (ring.closed && ring.size() === 0) break;
      else if (++misses === 100) {
        misses = 0;
        Atomics.wait(idle, 0, 0, 1); // a machine with few CPUs: let the producer run
      }
    } else if (d.mode === "popAsync") {
      const a = await ring.popAsync({ timeout: WAIT_MS });
      if (a === 0) break;
      check(a, ring.length);
    } else {
      const n = ring.popMany(addrs, lens);
      for (let k = 0; k < n; k++) check(addrs[k], lens[k]);
      if (n > 0) continue;
      const a = ring.pop(WAIT_MS); // empty: block for the next one
      if (a === 0) break;
      check(a, ring.length);
    }
  }
  return { handled: seq, bad, firstBad, sleeps: ring.sleeps };
}

workerMain((d: IoRingData) => d.role === "producer" ? produce(d) : consume(d));
