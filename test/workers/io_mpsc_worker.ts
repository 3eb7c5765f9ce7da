/**
 * The stress test of MpscFragRing (test/io_ring_test.ts): several producer
 * workers push fragments tagged (producer, sequence) into one ring, mixing
 * tryPush, blocking push and pushAsync; one consumer pops (blocking or
 * async), checks that each producer's fragments arrive complete, once and
 * in order, and frees them. Producers start together at a barrier.
 */
import { createPageFragCache } from "../../mod.ts";
import {
  SharedBackend,
  type SharedBackendDescriptor,
} from "../../backends/shared.ts";
import {
  MpscFragRing,
  type MpscFragRingDescriptor,
} from "../../io/mpsc_ring.ts";
import { barrier, workerMain } from "../worker_util.ts";

/** What the test hands each worker. */
export interface IoMpscData {
  role: "producer" | "consumer";
  id: number;
  producers: number;
  count: number;
  ring: MpscFragRingDescriptor;
  backend: SharedBackendDescriptor;
  ctl: SharedArrayBuffer;
  asyncPop: boolean;
}

/** What a worker reports. */
export interface IoMpscResult {
  handled: number;
  bad: number;
  firstBad: string;
}

const WAIT_MS = 30_000;
/** Producers done (ctl word); the last one closes the ring. */
const DONE = 0;
const READY = 16;

const sizeOf = (id: number, i: number) => 8 + ((i * 31 + id * 7) % 200);

async function produce(d: IoMpscData): Promise<IoMpscResult> {
  const backend = SharedBackend.attach(d.backend);
  const cache = createPageFragCache({ backend });
  const ring = MpscFragRing.attach(d.ring);
  const ctl = new Int32Array(d.ctl);
  const mem = new Uint8Array(backend.arena);
  const dv = new DataView(backend.arena);
  const idle = new Int32Array(new SharedArrayBuffer(4));
  barrier(ctl, READY, d.producers);
  for (let i = 0; i < d.count; i++) {
    const size = sizeOf(d.id, i);
    const addr = cache.allocHandle(size)!;
    dv.setUint32(addr, d.id, true);
    dv.setUint32(addr + 4, i, true);
    mem.fill((d.id + i) & 255, addr + 8, addr + size);
    const how = (i + d.id) % 3;
    if (how === 0) {
      // Full: a producer would do something else; here, sleep 1 ms.
      while (!ring.tryPush(addr, size)) Atomics.wait(idle, 0, 0, 1);
    } else if (how === 1) {
      if (!ring.push(addr, size, WAIT_MS)) throw new Error("push timed out");
    } else await ring.pushAsync(addr, size, { timeout: WAIT_MS });
  }
  cache.drain();
  if (Atomics.add(ctl, DONE, 1) === d.producers - 1) ring.close();
  return { handled: d.count, bad: 0, firstBad: "" };
}

async function consume(d: IoMpscData): Promise<IoMpscResult> {
  const backend = SharedBackend.attach(d.backend);
  const ring = MpscFragRing.attach(d.ring);
  const mem = new Uint8Array(backend.arena);
  const dv = new DataView(backend.arena);
  const next = new Array<number>(d.producers).fill(0);
  let handled = 0, bad = 0, firstBad = "";
  const total = d.producers * d.count;
  while (handled < total) {
    const addr = d.asyncPop
      ? await ring.popAsync({ timeout: WAIT_MS })
      : ring.pop(WAIT_MS);
    if (addr === 0) break;
    const id = dv.getUint32(addr, true), i = dv.getUint32(addr + 4, true);
    const size = ring.length;
    let ok = id < d.producers && i === next[id] && size === sizeOf(id, i);
    for (let b = 8; ok && b < size; b++) {
      ok = mem[addr + b] === ((id + i) & 255);
    }
    if (!ok && bad++ === 0) {
      firstBad = `got producer ${id} #${i} (${size} B), expected #${next[id]}`;
    }
    if (id < d.producers) next[id] = i + 1;
    backend.free(addr);
    handled++;
  }
  if (ring.pop(0) !== 0) bad++; // nothing after the end
  return { handled, bad, firstBad };
}

workerMain((d: IoMpscData) => d.role === "producer" ? produce(d) : consume(d));
