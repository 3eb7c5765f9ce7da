/**
 * One worker of the fault stress run (bench/stress.ts, and its short
 * version in test/netdev_shared_test.ts): attach the shared arena and the
 * shared netdev cache, then until told to stop (or killed) do random
 * alloc / free / prepare-commit / hand-over steps, writing a pattern unique
 * to (worker, sequence) into every fragment and checking it before the
 * fragment is freed.
 *
 * Shared memory (`ctl`, Int32): per worker slot `w` a block of
 * `STRESS_SLOT` words: [0] ops, [1] corrupt, [2] stop, [3] exit-now,
 * [4] ready, then the ledger: `LEDGER` entries of (addr, size, tag) for the
 * fragments it holds (tag 0 while the pattern is being written). An entry
 * is written right after the allocation, holds `-addr` while the free runs
 * and 0 after it, so whoever recovers a dead worker frees exactly what the
 * ledger names, and counts a `-addr` entry as uncertain (that fragment may
 * have been freed or not: never freed twice, possibly lost). The hand-over table (`ring`) holds fragments
 * in transit between workers, each slot taken with a compare-exchange.
 */
import process from "node:process";
import { parentPort, workerData } from "node:worker_threads";
import {
  attachNetdevCache,
  kernelPfmemalloc,
  kernelRefill,
  type NetdevCacheDescriptor,
  noAlignment,
  PageFragCache,
  type SharedBackend,
} from "../../mod.ts";
import { prng } from "../../testing/prng.ts";

/** Words per worker slot in `ctl`. */
export const STRESS_SLOT = 8 + 3 * 64;
/** Ledger entries per worker. */
export const LEDGER = 64;
/** Hand-over slots (3 words each: addr, size, tag). */
export const HANDOVER = 64;

export interface StressData {
  netdev: NetdevCacheDescriptor;
  ctl: SharedArrayBuffer;
  ring: SharedArrayBuffer;
  slot: number;
  seed: number;
}

/** The byte pattern of tag `t` at offset `i`. */
export function patternByte(t: number, i: number): number {
  return (t * 31 + i * 7) & 255;
}

/** Whether `view` holds tag `t`'s pattern (sampled: first, last and 14 in between). */
export function holds(view: Uint8Array, t: number): boolean {
  const n = view.length;
  const step = Math.max(1, Math.floor(n / 16));
  for (let i = 0; i < n; i += step) {
    if (view[i] !== patternByte(t, i)) return false;
  }
  return view[n - 1] === patternByte(t, n - 1);
}

function fill(view: Uint8Array, t: number): void {
  for (let i = 0; i < view.length; i++) view[i] = patternByte(t, i);
}

if (parentPort !== null && (workerData as StressData)?.netdev !== undefined) {
  const data = workerData as StressData;
  const ctl = new Int32Array(data.ctl);
  const ring = new Int32Array(data.ring);
  const base = data.slot * STRESS_SLOT;
  const L = base + 8;
  const nd = attachNetdevCache(data.netdev);
  const backend = nd.backend as SharedBackend;
  const own = new PageFragCache(
    backend,
    noAlignment,
    kernelRefill,
    kernelPfmemalloc,
    backend.cacheState(),
  );
  parentPort.postMessage({ id: backend.attachmentId });
  const random = prng(data.seed);
  const rand = (n: number) => random.int(n);
  let seq = 1;
  const tagOf = () => ((data.slot + 1) << 24) | (seq++ & 0xffffff);
  const check = (addr: number, size: number, tag: number) => {
    if (!holds(backend.view(addr, size), tag)) Atomics.add(ctl, base + 1, 1);
  };
  const freeEntry = (i: number) => {
    const addr = ctl[L + 3 * i];
    check(addr, ctl[L + 3 * i + 1], ctl[L + 3 * i + 2]);
    const via = rand(2) === 0 ? own : nd;
    // -addr while the free runs: a death then leaves an entry the owner
    // cannot free (it may have run) and counts as uncertain, never twice.
    Atomics.store(ctl, L + 3 * i, -addr);
    via.free(addr);
    Atomics.store(ctl, L + 3 * i, 0);
  };
  Atomics.store(ctl, base + 4, 1);
  while (Atomics.load(ctl, base + 2) === 0) {
    if (Atomics.load(ctl, base + 3) !== 0) process.exit(0); // a death at a random step
    const i = rand(LEDGER);
    const op = rand(10);
    if (ctl[L + 3 * i] > 0) {
      if (op < 7) freeEntry(i);
      else {
        // Hand it over: another worker checks and frees it.
        // (Out of the ledger first: a death in between loses it, never
        // leaves it in two places.)
        const h = rand(HANDOVER);
        const addr = ctl[L + 3 * i];
        const size = ctl[L + 3 * i + 1], tag = ctl[L + 3 * i + 2];
        // Reserve the slot (-1), fill it, publish the address.
        if (Atomics.compareExchange(ring, 3 * h, 0, -1) === 0) {
          Atomics.store(ctl, L + 3 * i, 0);
          ring[3 * h + 1] = size;
          ring[3 * h + 2] = tag;
          Atomics.store(ring, 3 * h, addr);
        }
      }
    } else if (op < 2) {
      // Take a fragment another worker handed over.
      const h = rand(HANDOVER);
      const addr = Atomics.load(ring, 3 * h);
      if (addr > 0) {
        const size = ring[3 * h + 1], tag = ring[3 * h + 2];
        if (Atomics.compareExchange(ring, 3 * h, addr, 0) === addr) {
          // Inline, no call: a terminate() lands only at calls and loops.
          ctl[L + 3 * i + 1] = size;
          ctl[L + 3 * i + 2] = tag;
          Atomics.store(ctl, L + 3 * i, addr);
        }
      }
    } else {
      let size = 1 + rand(op < 6 ? 2000 : 9000);
      const tag = tagOf();
      let addr: number | null;
      if (op < 5) addr = own.allocHandle(size);
      else if (op < 8) addr = nd.allocHandle(size);
      else {
        addr = nd.locked(() => {
          const p = nd.prepare(Math.min(size, 512));
          if (p === null) return null;
          size = Math.min(p.size, size);
          const a = nd.commit(size);
          // Into the ledger before leaving the lock (leaving is a call).
          ctl[L + 3 * i + 1] = size;
          ctl[L + 3 * i + 2] = 0;
          Atomics.store(ctl, L + 3 * i, a);
          return a;
        });
      }
      if (addr !== null) {
        // In the ledger before the (long) fill, inline (no call in between):
        // tag 0 = not filled yet.
        ctl[L + 3 * i + 1] = size;
        ctl[L + 3 * i + 2] = 0;
        Atomics.store(ctl, L + 3 * i, addr);
        fill(backend.view(addr, size), tag);
        ctl[L + 3 * i + 2] = tag;
      }
    }
    Atomics.add(ctl, base, 1);
  }
  for (let i = 0; i < LEDGER; i++) if (ctl[L + 3 * i] > 0) freeEntry(i);
  own.drain();
  backend.detach();
  parentPort.postMessage({ done: true });
}
