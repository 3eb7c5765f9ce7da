/**
 * A single-producer single-consumer ring of 32-bit values in a
 * `SharedArrayBuffer`, the userspace stand-in for the kernel's `ptr_ring`
 * that page_frag_test.c pushes fragments through.
 *
 * Head and tail are free-running counters updated with `Atomics` (each on its
 * own cache line); the slots are plain stores, ordered by the atomic store of
 * the index that publishes them. Each side keeps a private copy of the other
 * side's index and re-reads the shared one only when the ring looks full
 * (producer) or empty (consumer). Like `ptr_ring`'s consumer, which zeroes
 * consumed slots in batches, the consumer publishes its tail every
 * {@linkcode TAIL_BATCH} pops (and always before it looks for more).
 *
 * Waiting spins for a while (adaptive: see {@linkcode SPIN_MAX_MS}), then
 * sleeps in `Atomics.wait` after raising a "waiting" flag; the other side calls `Atomics.notify` only when that flag
 * is up, so the fast path has no notify at all. Sequentially consistent
 * atomics make the flag protocol free of lost wake-ups; the sleeps also have
 * a timeout, and an `exit` flag lets a watchdog stop both sides.
 *
 * The same buffer carries a few control words for the benchmark: a start
 * signal, the exit flag, the consumer's "run finished" mark, and a counter
 * of received `postMessage`s.
 *
 * @module
 */

/** Slots in the ring: the kernel test's `nr_objs`. */
export const RING_SLOTS = 512;
/** Consumer publishes its tail at least every this many pops. */
export const TAIL_BATCH = 16;
/**
 * How long a waiting side spins (re-reading the other side's index) before
 * it sleeps, in ms: adaptive between these bounds. A futex wake-up costs 5
 * to 25 us here, so with a CPU for each side, spinning longer than that
 * keeps both running (a side that sleeps too soon stalls the other, and the
 * two fall into lock-step, a wake-up per ring's worth of items). But when
 * other processes leave the two sides one CPU between them, a spinning side
 * only keeps the other from running: there a wait that had to sleep halves
 * the next spin, and a wait that ended while spinning doubles it.
 */
export const SPIN_MAX_MS = 0.2;
/** Shortest spin before sleeping, in ms. */
export const SPIN_MIN_MS = 0.002;
/** Longest single sleep in `Atomics.wait`, in ms (then the condition is re-checked). */
export const SLEEP_MS = 20;

// Int32 indices of the control words: 16 ints (64 bytes) apart.
const HEAD = 0;
const TAIL = 16;
const CONS_WAITING = 32;
const PROD_WAITING = 48;
/** Start signal: the run number the workers wait for. */
export const GO = 64;
/** Set to 1 to make both sides give up. */
export const EXIT = 80;
/** Messages received so far by a `postMessage` consumer (flow control). */
export const RECEIVED = 96;
/** Set by a `postMessage` producer before it sleeps on {@linkcode RECEIVED}. */
export const RECV_WAITING = 112;
/** The consumer stores here the number of the run it has finished. */
export const FINISHED = 120;
const SLOTS = 128;

/** Bytes of shared memory a ring of {@linkcode RING_SLOTS} needs. */
export const RING_BYTES: number = (SLOTS + RING_SLOTS) * 4;

/** Make the shared memory of a ring (all zero: empty, no start signal). */
export function createRingBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(RING_BYTES);
}

/**
 * Adaptive spin-then-sleep for a wait loop, reused (no allocation):
 * `reset()` when a wait starts, `spin()` on each failed check (true while
 * the spin budget lasts, false when it is time to sleep), `done()` when the
 * condition holds.
 */
export class Backoff {
  #i = 0;
  #deadline = 0;
  #slept = false;
  #budget = SPIN_MAX_MS;

  /** Start a new wait. */
  reset(): void {
    this.#i = 0;
    this.#deadline = 0;
    this.#slept = false;
  }

  /** Whether to keep spinning (reads the clock every 256 calls). */
  spin(): boolean {
    if (this.#slept) return false; // woken without the condition: sleep again
    if ((++this.#i & 255) !== 0) return true;
    const now = performance.now();
    if (this.#deadline === 0) {
      this.#deadline = now + this.#budget;
      return true;
    }
    if (now < this.#deadline) return true;
    this.#slept = true;
    this.#budget = Math.max(SPIN_MIN_MS, this.#budget / 2);
    return false;
  }

  /** The condition holds: if the wait never slept, spin longer next time. */
  done(): void {
    if (!this.#slept) {
      this.#budget = Math.min(SPIN_MAX_MS, this.#budget * 2);
    }
  }
}

/**
 * One side's handle on a ring. Make one per worker over the same buffer;
 * use only the producer methods in one and the consumer methods in the other.
 */
export class SpscRing {
  /** The shared words. */
  readonly i32: Int32Array;
  readonly #mask = RING_SLOTS - 1;
  // Producer side.
  #head = 0;
  #tailSeen = 0;
  // Consumer side.
  #tail = 0;
  #headSeen = 0;
  #unpublished = 0;
  /** Times this side slept in `Atomics.wait` (diagnostics). */
  sleeps = 0;
  /** The spin budget of this side's waits. */
  readonly backoff: Backoff = new Backoff();

  /** A handle on the ring in `buffer` (made by {@linkcode createRingBuffer}). */
  constructor(buffer: SharedArrayBuffer) {
    this.i32 = new Int32Array(buffer);
  }

  /** Forget this side's private copies of the indices (at the start of a run). */
  resetLocal(): void {
    this.#head =
      this.#tailSeen =
      this.#tail =
      this.#headSeen =
        0;
    this.#unpublished = 0;
    this.sleeps = 0;
  }

  /**
   * Empty the ring's shared words before a run, with both sides idle; each
   * side then calls {@linkcode SpscRing.resetLocal}.
   */
  reset(): void {
    const i32 = this.i32;
    this.resetLocal();
    for (const i of [HEAD, TAIL, CONS_WAITING, PROD_WAITING, EXIT]) {
      Atomics.store(i32, i, 0);
    }
    Atomics.store(i32, RECEIVED, 0);
    Atomics.store(i32, RECV_WAITING, 0);
  }

  /** Values pushed so far (read by anyone: the watchdog). */
  pushed(): number {
    return Atomics.load(this.i32, HEAD);
  }

  /** Values whose slots the consumer has published as free. */
  popped(): number {
    return Atomics.load(this.i32, TAIL);
  }

  /** Whether the exit flag is up. */
  exiting(): boolean {
    return Atomics.load(this.i32, EXIT) !== 0;
  }

  // ------------------------------------------------------------- producer

  /** Push a non-zero value; false when the ring is full (`__ptr_ring_produce`). */
  tryPush(value: number): boolean {
    const i32 = this.i32;
    const head = this.#head;
    if (((head - this.#tailSeen) | 0) === RING_SLOTS) {
      this.#tailSeen = Atomics.load(i32, TAIL);
      if (((head - this.#tailSeen) | 0) === RING_SLOTS) return false;
    }
    i32[SLOTS + (head & this.#mask)] = value;
    const next = (head + 1) | 0;
    this.#head = next;
    Atomics.store(i32, HEAD, next);
    if (Atomics.load(i32, CONS_WAITING) !== 0) Atomics.notify(i32, HEAD);
    return true;
  }

  /**
   * Wait until the ring has a free slot: spin, then sleep. False when the
   * exit flag went up instead.
   */
  waitForSpace(): boolean {
    const i32 = this.i32;
    const head = this.#head;
    const backoff = this.backoff;
    backoff.reset();
    for (;;) {
      const tail = Atomics.load(i32, TAIL);
      this.#tailSeen = tail;
      if (((head - tail) | 0) !== RING_SLOTS) {
        backoff.done();
        return true;
      }
      if (Atomics.load(i32, EXIT) !== 0) return false;
      if (backoff.spin()) continue;
      Atomics.store(i32, PROD_WAITING, 1);
      if (Atomics.load(i32, TAIL) === tail) {
        this.sleeps++;
        Atomics.wait(i32, TAIL, tail, SLEEP_MS);
      }
      Atomics.store(i32, PROD_WAITING, 0);
    }
  }

  // ------------------------------------------------------------- consumer

  /** Pop the next value, or 0 when the ring is empty (`__ptr_ring_consume`). */
  tryPop(): number {
    const i32 = this.i32;
    const tail = this.#tail;
    if (tail === this.#headSeen) {
      this.#publishTail();
      this.#headSeen = Atomics.load(i32, HEAD);
      if (tail === this.#headSeen) return 0;
    }
    const value = i32[SLOTS + (tail & this.#mask)];
    this.#tail = (tail + 1) | 0;
    if (++this.#unpublished === TAIL_BATCH) this.#publishTail();
    return value;
  }

  #publishTail(): void {
    if (this.#unpublished === 0) return;
    const i32 = this.i32;
    Atomics.store(i32, TAIL, this.#tail);
    this.#unpublished = 0;
    if (Atomics.load(i32, PROD_WAITING) !== 0) Atomics.notify(i32, TAIL);
  }

  /** Publish the tail now (at the end of a run, so the producer sees every slot free). */
  flush(): void {
    this.#publishTail();
  }

  /**
   * Wait until the ring holds a value: spin, then sleep. False when the exit
   * flag went up instead.
   */
  waitForData(): boolean {
    const i32 = this.i32;
    const tail = this.#tail;
    this.#publishTail();
    const backoff = this.backoff;
    backoff.reset();
    for (;;) {
      const head = Atomics.load(i32, HEAD);
      this.#headSeen = head;
      if (head !== tail) {
        backoff.done();
        return true;
      }
      if (Atomics.load(i32, EXIT) !== 0) return false;
      if (backoff.spin()) continue;
      Atomics.store(i32, CONS_WAITING, 1);
      if (Atomics.load(i32, HEAD) === head) {
        this.sleeps++;
        Atomics.wait(i32, HEAD, head, SLEEP_MS);
      }
      Atomics.store(i32, CONS_WAITING, 0);
    }
  }
}
