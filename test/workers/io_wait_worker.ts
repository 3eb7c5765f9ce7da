/**
 * The freeing side of the cross-worker wait test (test/io_wait_test.ts):
 * take fragment addresses from a ring, wait `delayMs`, then free them one
 * every `gapMs` through a {@linkcode SignalBackend} over the same release
 * word as the waiting worker's, so each page release wakes the waiter.
 */
import {
  SharedBackend,
  type SharedBackendDescriptor,
} from "../../backends/shared.ts";
import {
  WasmBackend,
  type WasmBackendDescriptor,
} from "../../backends/wasm.ts";
import { FragRing, type FragRingDescriptor } from "../../io/ring.ts";
import { workerMain } from "../worker_util.ts";
import { SignalBackend } from "./io_signal_backend.ts";

/** What the test hands the worker. */
export interface IoWaitData {
  backend: SharedBackendDescriptor | WasmBackendDescriptor;
  word: SharedArrayBuffer;
  ring: FragRingDescriptor;
  delayMs: number;
  gapMs: number;
}

/** What it reports. */
export interface IoWaitResult {
  freed: number;
  signalled: number;
  /** `performance.timeOrigin + now()` of the first free. */
  firstFreeAt: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

workerMain(async (d: IoWaitData): Promise<IoWaitResult> => {
  const inner = d.backend.kind === "pagefrag.wasm"
    ? WasmBackend.attach(d.backend as WasmBackendDescriptor)
    : SharedBackend.attach(d.backend as SharedBackendDescriptor);
  const backend = new SignalBackend(inner, d.word);
  const ring = FragRing.attach(d.ring);
  await sleep(d.delayMs);
  let freed = 0, firstFreeAt = 0;
  for (;;) {
    const addr = await ring.popAsync({ timeout: 20_000 });
    if (addr === 0) break;
    if (freed === 0) firstFreeAt = performance.timeOrigin + performance.now();
    backend.free(addr);
    freed++;
    if (d.gapMs > 0) await sleep(d.gapMs);
  }
  return { freed, signalled: backend.signalled, firstFreeAt };
});
