/**
 * A worker that dies at a chosen moment while it holds shared pagefrag
 * state, for the fault tests (test/faults_test.ts): inside a shared netdev
 * cache's `locked()` (H1, H2), inside a refill policy during `allocHandle`
 * (H3), or while it holds the arena's page lock (H5, in `growArena`).
 *
 * Protocol: the worker posts `{ id }` (its attachment id in the arena) once
 * attached, sets `ctl[0] = 1` when it holds the state, then either spins
 * until terminated (`exit: false`: Bun, Node) or waits for `ctl[1] = 1` and
 * calls `process.exit()` itself (`exit: true`: every runtime, Deno too).
 * The `"detach"` mode attaches, allocates, frees, detaches and returns.
 * The `"churn"` mode allocates and frees pages and fragments as fast as it
 * can until terminated at a random moment (the kill sweep), keeping a
 * ledger of what it holds in `ctl[4..5]` (written before a free, so the
 * parent never frees twice). Parent side: test/workers/faults.ts.
 */
import process from "node:process";
import { parentPort, workerData } from "node:worker_threads";
import {
  attachNetdevCache,
  createPageFragCache,
  kernelPfmemalloc,
  kernelRefill,
  type NetdevCacheDescriptor,
  noAlignment,
  PageFragCache,
  SharedBackend,
  type SharedBackendDescriptor,
  WasmBackend,
  type WasmBackendDescriptor,
} from "../../mod.ts";

export type FaultMode =
  | "locked"
  | "refill"
  | "arena"
  | "detach"
  | "churn"
  | "view";

export interface FaultData {
  mode: FaultMode;
  /** For "locked" and "refill". */
  netdev?: NetdevCacheDescriptor;
  /** For "arena" and "detach". */
  backend?: SharedBackendDescriptor | WasmBackendDescriptor;
  ctl: SharedArrayBuffer;
  /** Exit by itself (process.exit) instead of waiting to be terminated. */
  exit: boolean;
}

const data = workerData as FaultData;
const ctl = new Int32Array(data.ctl);
const port = parentPort!;

/** Hold on: spin until terminated, or exit when the parent says so. */
function die(): never {
  Atomics.store(ctl, 0, 1);
  Atomics.notify(ctl, 0);
  if (data.exit) {
    while (Atomics.load(ctl, 1) === 0) Atomics.wait(ctl, 1, 0, 20);
    process.exit(0);
  }
  // CPU-bound on purpose: terminate() must stop a busy worker.
  for (;;) Atomics.load(ctl, 2);
}

function stuck<T extends SharedBackend | WasmBackend>(b: T): T {
  // growArena runs under the arena's page lock: stopping here holds it.
  Object.defineProperty(b, "growArena", { value: () => die() });
  return b;
}

switch (data.mode) {
  case "locked": {
    const nd = attachNetdevCache(data.netdev!);
    port.postMessage({ id: (nd.backend as SharedBackend).attachmentId });
    nd.locked(() => {
      // Half way through a sequence: the parent frees this by address.
      port.postMessage({ frag: nd.allocHandle(100) });
      nd.prepare(64);
      die();
    });
    break;
  }
  case "refill": {
    const nd = attachNetdevCache(data.netdev!, {
      refill: { name: "dies", plan: () => die() },
    });
    port.postMessage({ id: (nd.backend as SharedBackend).attachmentId });
    nd.drain();
    nd.allocHandle(4000); // refills: the policy runs under the cache's lock
    break;
  }
  case "arena": {
    const d = data.backend!;
    const b = d.kind === "pagefrag.wasm"
      ? stuck(WasmBackend.attach(d))
      : stuck(SharedBackend.attach(d));
    port.postMessage({ id: b.attachmentId });
    b.allocPage(b.maxOrder, false); // past the arena's end: grows, under the lock
    break;
  }
  case "churn": {
    const d = data.backend!;
    const b = d.kind === "pagefrag.wasm"
      ? WasmBackend.attach(d)
      : SharedBackend.attach(d);
    const cache = new PageFragCache(
      b,
      noAlignment,
      kernelRefill,
      kernelPfmemalloc,
      b.cacheState(),
    );
    port.postMessage({ id: b.attachmentId });
    Atomics.store(ctl, 0, 1);
    for (let i = 1;; i++) {
      const size = 1 + (Math.imul(i, 7919) >>> 0) % 3000;
      const a = cache.allocHandle(size);
      if (a !== null) {
        ctl[4] = a;
        b.view(a, size).fill(i & 255);
        ctl[4] = 0; // cleared first: a free the ledger names never ran twice
        cache.free(a);
      }
      if (i % 7 === 0) {
        const p = b.allocPage(i % (b.maxOrder + 1), false);
        if (p !== 0) {
          ctl[5] = p;
          ctl[5] = 0;
          b.free(p);
        }
      }
    }
  }
  case "view": {
    // F2: attach now, view later, after the owner grew the memory.
    const d = data.backend!;
    const b = d.kind === "pagefrag.wasm"
      ? WasmBackend.attach(d)
      : SharedBackend.attach(d);
    port.postMessage({
      id: b.attachmentId,
      length: d.kind === "pagefrag.wasm"
        ? d.memory.buffer.byteLength
        : d.arena.byteLength,
    });
    while (Atomics.load(ctl, 1) === 0) Atomics.wait(ctl, 1, 0, 20);
    const view = b.view(Atomics.load(ctl, 1), Atomics.load(ctl, 2));
    port.postMessage({ sum: view.reduce((s, x) => s + x, 0) });
    b.detach();
    break;
  }
  case "detach": {
    const d = data.backend!;
    const b = d.kind === "pagefrag.wasm"
      ? WasmBackend.attach(d)
      : SharedBackend.attach(d);
    port.postMessage({ id: b.attachmentId });
    const cache = createPageFragCache({ backend: b });
    cache.free(cache.allocHandle(100)!);
    cache.drain();
    b.detach();
    port.postMessage({ done: true });
    break;
  }
}
