/**
 * One side of the cross-worker test: allocate fragments from this worker's
 * own cache, fill each with a pattern derived from its address, and hand the
 * addresses to the other worker through a ring in shared memory; meanwhile
 * take the other worker's addresses from the other ring, check their
 * pattern and free them. See `ring` in test/shared_test.ts.
 */
import { createPageFragCache, type MemoryBackend } from "../../mod.ts";
import {
  SharedBackend,
  type SharedBackendDescriptor,
} from "../../backends/shared.ts";
import {
  WasmBackend,
  type WasmBackendDescriptor,
} from "../../backends/wasm.ts";
import { barrier, workerMain } from "../worker_util.ts";
import { Buffer } from "node:buffer";
import {
  PATTERN,
  READY,
  RING_ENTRIES,
  RING_HEAD,
  RING_TAIL,
  ringBase,
  type RingData,
  type RingResult,
  sizeOf,
} from "./protocol.ts";

workerMain((data: RingData): RingResult => {
  const backend: MemoryBackend = data.descriptor.kind === "pagefrag.wasm"
    ? WasmBackend.attach(data.descriptor as WasmBackendDescriptor)
    : SharedBackend.attach(data.descriptor as SharedBackendDescriptor);
  const cache = createPageFragCache({ backend });
  const ctl = new Int32Array(data.ctl);
  const mask = data.cap - 1;
  const out = ringBase(data.id, data.cap);
  const inn = ringBase(1 - data.id, data.cap);
  const count = data.count;
  const peer = 1 - data.id;
  let sent = 0, received = 0, nulls = 0;
  const corrupt: number[] = [];
  let outTail = 0, inHead = 0;

  barrier(ctl, READY, 2);
  const start = performance.now();
  while (sent < count || received < count) {
    let progress = false;
    // Produce a batch into the outgoing ring.
    if (sent < count) {
      const room = data.cap - (outTail - Atomics.load(ctl, out + RING_HEAD));
      const n = Math.min(room, 256, count - sent);
      for (let j = 0; j < n; j++) {
        const size = sizeOf(data.id, sent);
        const addr = cache.allocHandle(size);
        if (addr === null) {
          nulls++;
          break;
        }
        const off = addr & 2047;
        const view = backend.view(addr, size);
        view.set(PATTERN.subarray(off, off + size));
        if (sent === data.sabotage) view[size - 1] ^= 1; // the checker must see this
        ctl[out + RING_ENTRIES + (outTail & mask)] = addr;
        outTail++;
        sent++;
      }
      if (n > 0) {
        Atomics.store(ctl, out + RING_TAIL, outTail);
        progress = true;
      }
    }
    // Consume what the other worker sent: check, then free by address
    // (or, every other one, by a view of this worker's own).
    const tail = Atomics.load(ctl, inn + RING_TAIL);
    if (inHead < tail) {
      for (; inHead < tail; inHead++) {
        const addr = ctl[inn + RING_ENTRIES + (inHead & mask)];
        const size = sizeOf(peer, received);
        const view = backend.view(addr, size);
        const off = addr & 2047;
        if (Buffer.compare(view, PATTERN.subarray(off, off + size)) !== 0) {
          if (corrupt.length < 100) corrupt.push(received);
        }
        if ((received & 1) === 0) backend.free(addr);
        else cache.free(view);
        received++;
      }
      Atomics.store(ctl, inn + RING_HEAD, inHead);
      progress = true;
    }
    if (!progress) Atomics.wait(ctl, inn + RING_TAIL, tail, 1);
  }
  cache.drain();
  return {
    sent,
    received,
    corrupt,
    nulls,
    ms: performance.now() - start,
  };
});
