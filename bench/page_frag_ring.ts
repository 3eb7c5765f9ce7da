/**
 * The control words bench/page_frag_test.ts shares with its two workers,
 * beside the fragment ring itself (`FragRing` from io/ring.ts, the
 * userspace stand-in for the kernel test's `ptr_ring`): a start signal, an
 * exit flag (a stuck run is stopped by raising it and closing the ring),
 * the consumer's "run finished" mark, a counter of received `postMessage`s
 * and one of popped fragments (the watchdog's view of progress: it cannot
 * see the ring's private indices).
 *
 * A word that a side sleeps on has a "waiting" word right after it: the
 * waiter raises it before it sleeps and {@linkcode publish} notifies only
 * when it is up, so the fast path has no notify (the ring's own protocol).
 *
 * @module
 */
import type { RingBackoff } from "../io/ring.ts";

/** Slots in the ring: the kernel test's `nr_objs`. */
export const RING_SLOTS = 512;
/** Longest single sleep in `Atomics.wait`, in ms (then the exit flag is re-checked). */
export const SLEEP_MS = 20;

// Int32 indices, 16 ints (64 bytes) apart: each on its own cache line.
/** Start signal: the run number the workers wait for. */
export const GO = 0;
/** Set to 1 to make both sides give up. */
export const EXIT = 16;
/** Messages received so far by a `postMessage` consumer (flow control). */
export const RECEIVED = 32;
/** The consumer stores here the number of the run it has finished. */
export const FINISHED = 48;
/** Fragments the consumer has popped this run, every 64th stored (progress). */
export const POPPED = 64;
const WORDS = 80;

/** Make the shared control words (all zero: no start signal). */
export function createControl(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(WORDS * 4));
}

/** Clear the words of one run before it starts, with both workers idle. */
export function resetControl(ctl: Int32Array): void {
  for (const i of [EXIT, RECEIVED, RECEIVED + 1, FINISHED + 1, POPPED]) {
    Atomics.store(ctl, i, 0);
  }
}

/** Store `value` in word `index` and wake a side that sleeps on it. */
export function publish(ctl: Int32Array, index: number, value: number): void {
  Atomics.store(ctl, index, value);
  if (Atomics.load(ctl, index + 1) !== 0) Atomics.notify(ctl, index);
}

/**
 * Wait until word `index` is at least `want`: spin (`backoff`), then sleep
 * in slices of {@linkcode SLEEP_MS}. The value, or -1 when the exit flag
 * went up first; each sleep counts in `counter.sleeps` (the ring handle's).
 */
export function awaitAtLeast(
  ctl: Int32Array,
  index: number,
  want: number,
  backoff: RingBackoff,
  counter: { sleeps: number },
): number {
  backoff.reset();
  for (;;) {
    const v = Atomics.load(ctl, index);
    if (v >= want) {
      backoff.done();
      return v;
    }
    if (Atomics.load(ctl, EXIT) !== 0) return -1;
    if (backoff.spin()) continue;
    Atomics.store(ctl, index + 1, 1);
    if (Atomics.load(ctl, index) === v) {
      counter.sleeps++;
      Atomics.wait(ctl, index, v, SLEEP_MS);
    }
    Atomics.store(ctl, index + 1, 0);
  }
}
