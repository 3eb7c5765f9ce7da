/**
 * A multi-producer single-consumer ring of fragments over a
 * `SharedArrayBuffer`: any number of workers push (address, length), one
 * worker pops. Dmitry Vyukov's bounded queue: every slot carries a
 * sequence word, so producers claim a position with one compare-and-swap on
 * the head and publish their slot by storing its sequence, and the consumer
 * never reads a slot whose producer has not finished writing it.
 *
 * For a slot at position `p` (free-running 32-bit counters, compared with
 * wrapping differences): sequence `p` means free for the producer of `p`,
 * `p + 1` means filled for the consumer, and the consumer sets it to
 * `p + capacity` when it takes the slot, freeing it for the next lap.
 *
 * Waiting: a consumer sleeps on the sequence word of the slot it waits for
 * (the producer that fills it notifies when the "consumer waiting" flag is
 * up); producers of a full ring sleep on the tail word, which the consumer
 * bumps after each pop (notifying when any producer is waiting). Each
 * sleep is bounded and re-checks, as in {@linkcode FragRing}.
 *
 * @module
 */
import { PageFragError } from "../core/errors.ts";
import { show } from "../core/format.ts";
import { RingBackoff } from "./ring.ts";
import {
  aborted,
  checkTimeout,
  sleepOn,
  startWait,
  timedOut,
  type WaitOptions,
} from "./sleep.ts";
import {
  checkCapacity,
  checkRingDescriptor,
  CLOSED,
  closedRing,
  CONS_WAITING,
  HEAD,
  HEADER_WORDS,
  POLL_MAX_MS,
  PROD_WAITING,
  SLEEP_SLICE_MS,
  TAIL,
} from "./ring_words.ts";

/** Words a slot takes: sequence, address, length, padding. */
const SLOT_WORDS = 4;
const MAX_CAPACITY = 1 << 22;

/**
 * What a worker needs to attach to an {@linkcode MpscFragRing} made
 * elsewhere.
 *
 * @example
 * ```ts
 * import { MpscFragRing, type MpscFragRingDescriptor } from "@pagefrag/pagefrag/io";
 * import assert from "node:assert/strict";
 *
 * const d: MpscFragRingDescriptor = new MpscFragRing(8).share();
 * assert.equal(d.kind, "pagefrag.mpsc-ring", "its own kind: not an SPSC ring");
 * ```
 */
export interface MpscFragRingDescriptor {
  /** Always `"pagefrag.mpsc-ring"`. */
  kind: "pagefrag.mpsc-ring";
  /** The ring's shared memory. */
  buffer: SharedArrayBuffer;
  /** Slots in the ring: a power of two. */
  capacity: number;
}

/**
 * A multi-producer single-consumer ring of fragments (address, length).
 * Any number of workers may push (each with its own handle from
 * {@linkcode MpscFragRing.attach}); exactly one pops. Same methods and
 * errors as {@linkcode FragRing}, without the producer batch: each push
 * claims its slot with a compare-and-swap, so it costs more than an SPSC
 * push; use a {@linkcode FragRing} per producer when producers are few
 * and known.
 *
 * @example
 * ```ts
 * import { MpscFragRing } from "@pagefrag/pagefrag/io";
 * import assert from "node:assert/strict";
 *
 * const ring = new MpscFragRing(16);
 * const a = MpscFragRing.attach(ring.share()), b = MpscFragRing.attach(ring.share());
 * a.tryPush(4096, 10);
 * b.tryPush(8192, 20);
 * assert.equal(ring.tryPop(), 4096, "first pushed, first popped");
 * assert.equal(ring.tryPop(), 8192);
 * assert.equal(ring.length, 20);
 * ```
 */
export class MpscFragRing {
  /** Slots in the ring: a power of two. */
  readonly capacity: number;
  readonly #i32: Int32Array;
  readonly #u32: Uint32Array;
  readonly #buffer: SharedArrayBuffer;
  readonly #mask: number;
  #tail = 0;
  /** Length of the fragment the last successful pop returned. */
  length = 0;
  /** Times this handle slept waiting (diagnostics). */
  sleeps = 0;
  readonly #backoff = new RingBackoff();

  /**
   * A new empty ring of `capacity` slots (a power of two from 2 to 2^22;
   * default 1024), or a handle on the ring of a descriptor.
   *
   * @example
   * ```ts
   * import { MpscFragRing } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * assert.throws(() => new MpscFragRing(6), { code: "EINVAL_OPTION" }, "not a power of two");
   * ```
   */
  constructor(capacity: number | MpscFragRingDescriptor = 1024) {
    let fresh = false;
    if (typeof capacity === "object" && capacity !== null) {
      checkRingDescriptor(
        capacity,
        "pagefrag.mpsc-ring",
        "MpscFragRing",
        MAX_CAPACITY,
        MpscFragRing.bytesFor,
      );
      this.#buffer = capacity.buffer;
      this.capacity = capacity.capacity;
    } else {
      checkCapacity(capacity, MAX_CAPACITY);
      this.capacity = capacity;
      this.#buffer = new SharedArrayBuffer(MpscFragRing.bytesFor(capacity));
      fresh = true;
    }
    this.#i32 = new Int32Array(this.#buffer);
    this.#u32 = new Uint32Array(this.#buffer);
    this.#mask = this.capacity - 1;
    if (fresh) {
      for (let p = 0; p < this.capacity; p++) {
        this.#i32[seqIndex(p, this.#mask)] = p;
      }
    }
    this.#tail = Atomics.load(this.#i32, TAIL);
  }

  /**
   * Bytes of shared memory a ring of `capacity` slots takes.
   *
   * @example
   * ```ts
   * import { MpscFragRing } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * assert.equal(MpscFragRing.bytesFor(64), 320 + 64 * 16, "control block + 16 bytes a slot");
   * ```
   */
  static bytesFor(capacity: number): number {
    checkCapacity(capacity, MAX_CAPACITY);
    return (HEADER_WORDS + capacity * SLOT_WORDS) * 4;
  }

  /**
   * A handle on the ring of `descriptor` (from {@linkcode MpscFragRing.share}).
   *
   * @example
   * ```ts
   * import { MpscFragRing } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const ring = new MpscFragRing(4);
   * MpscFragRing.attach(structuredClone(ring.share())).tryPush(4096, 1);
   * assert.equal(ring.tryPop(), 4096);
   * ```
   */
  static attach(descriptor: MpscFragRingDescriptor): MpscFragRing {
    return new MpscFragRing(descriptor);
  }

  /**
   * The descriptor to hand to other workers.
   *
   * @example
   * ```ts
   * import { MpscFragRing } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * assert.ok(new MpscFragRing(4).share().buffer instanceof SharedArrayBuffer);
   * ```
   */
  share(): MpscFragRingDescriptor {
    return {
      kind: "pagefrag.mpsc-ring",
      buffer: this.#buffer,
      capacity: this.capacity,
    };
  }

  /**
   * Positions claimed but not yet popped (a snapshot; it counts a push in
   * progress).
   *
   * @example
   * ```ts
   * import { MpscFragRing } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const ring = new MpscFragRing(4);
   * ring.tryPush(4096, 1);
   * assert.equal(ring.size(), 1);
   * ```
   */
  size(): number {
    return (Atomics.load(this.#i32, HEAD) - Atomics.load(this.#i32, TAIL)) |
      0;
  }

  /**
   * Whether {@linkcode MpscFragRing.close} was called.
   *
   * @example
   * ```ts
   * import { MpscFragRing } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const ring = new MpscFragRing(4);
   * ring.close();
   * assert.ok(ring.closed);
   * ```
   */
  get closed(): boolean {
    return Atomics.load(this.#i32, CLOSED) !== 0;
  }

  /**
   * No more pushes (`ESTATE` after it); the consumer still gets every push
   * that claimed its slot before, then pops return 0. Call it once every
   * producer is done.
   *
   * @example
   * ```ts
   * import { MpscFragRing } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const ring = new MpscFragRing(4);
   * ring.tryPush(4096, 1);
   * ring.close();
   * assert.equal(ring.pop(), 4096);
   * assert.equal(ring.pop(), 0, "closed and empty");
   * ```
   */
  close(): void {
    Atomics.store(this.#i32, CLOSED, 1);
    Atomics.notify(this.#i32, TAIL);
    // Wake a consumer asleep on the slot it waits for.
    Atomics.notify(
      this.#i32,
      seqIndex(Atomics.load(this.#i32, TAIL), this.#mask),
    );
  }

  // ------------------------------------------------------------- producers

  /**
   * Push a fragment; false when the ring is full. Bad pairs are
   * `EINVAL_OPTION`, a closed ring `ESTATE`. Safe from any number of workers.
   *
   * @example
   * ```ts
   * import { MpscFragRing } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const ring = new MpscFragRing(2);
   * assert.ok(ring.tryPush(4096, 1) && ring.tryPush(8192, 1));
   * assert.equal(ring.tryPush(12288, 1), false, "full");
   * ```
   */
  tryPush(addr: number, length: number): boolean {
    if ((addr >>> 0) !== addr || addr === 0 || (length >>> 0) !== length) {
      throw new PageFragError(
        "EINVAL_OPTION",
        `a ring carries a non-zero u32 address and a u32 length, got address ${
          show(addr)
        } and length ${show(length)}`,
      );
    }
    const i32 = this.#i32;
    if (Atomics.load(i32, CLOSED) !== 0) throw closedRing("tryPush");
    const mask = this.#mask;
    let pos = Atomics.load(i32, HEAD);
    for (;;) {
      const s = seqIndex(pos, mask);
      const dif = (Atomics.load(i32, s) - pos) | 0;
      if (dif === 0) {
        const seen = Atomics.compareExchange(i32, HEAD, pos, (pos + 1) | 0);
        if (seen === pos) {
          this.#u32[s + 1] = addr;
          this.#u32[s + 2] = length;
          Atomics.store(i32, s, (pos + 1) | 0); // publish
          if (Atomics.load(i32, CONS_WAITING) !== 0) Atomics.notify(i32, s);
          return true;
        }
        pos = seen; // another producer took it: try the next position
      } else if (dif < 0) {
        return false; // the slot of this lap is still full: the ring is
      } else {
        pos = Atomics.load(i32, HEAD); // fell a lap behind: re-read
      }
    }
  }

  /**
   * Push, sleeping while the ring is full; false after `timeoutMs`.
   *
   * @example
   * ```ts
   * import { MpscFragRing } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const ring = new MpscFragRing(2);
   * ring.push(4096, 1);
   * ring.push(4096, 1);
   * assert.equal(ring.push(4096, 1, 5), false, "full for 5 ms");
   * ```
   */
  push(addr: number, length: number, timeoutMs = Infinity): boolean {
    if (this.tryPush(addr, length)) return true;
    const i32 = this.#i32;
    const deadline = timeoutMs === Infinity
      ? Infinity
      : performance.now() + checkTimeout(timeoutMs);
    const backoff = this.#backoff;
    backoff.reset();
    for (;;) {
      const tail = Atomics.load(i32, TAIL);
      if (this.tryPush(addr, length)) {
        backoff.done();
        return true;
      }
      if (backoff.spin()) continue;
      const left = deadline - performance.now();
      if (left <= 0) return false;
      Atomics.add(i32, PROD_WAITING, 1);
      if (Atomics.load(i32, TAIL) === tail && Atomics.load(i32, CLOSED) === 0) {
        this.sleeps++;
        Atomics.wait(i32, TAIL, tail, Math.min(left, SLEEP_SLICE_MS));
      }
      Atomics.sub(i32, PROD_WAITING, 1);
    }
  }

  /**
   * Push, awaiting room while the ring is full; `ETIMEDOUT`, `EABORTED`,
   * `ESTATE` as for {@linkcode FragRing.pushAsync}.
   *
   * @example
   * ```ts
   * import { MpscFragRing } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const ring = new MpscFragRing(2);
   * ring.tryPush(4096, 1);
   * ring.tryPush(4096, 1);
   * const third = ring.pushAsync(8192, 1, { timeout: 5000 });
   * ring.tryPop();
   * await third;
   * assert.equal(ring.size(), 2);
   * ```
   */
  async pushAsync(
    addr: number,
    length: number,
    opts?: WaitOptions,
  ): Promise<void> {
    const deadline = startWait(opts);
    const i32 = this.#i32;
    for (let poll = 1;; poll = Math.min(poll * 2, POLL_MAX_MS)) {
      const tail = Atomics.load(i32, TAIL);
      if (this.tryPush(addr, length)) return;
      if (opts?.signal?.aborted) throw aborted(opts.signal);
      const left = deadline - performance.now();
      if (left <= 0) throw timedOut(opts?.timeout);
      Atomics.add(i32, PROD_WAITING, 1);
      this.sleeps++;
      await sleepOn(
        i32,
        TAIL,
        tail,
        Math.min(left, SLEEP_SLICE_MS),
        Math.min(left, poll),
        opts?.signal,
      );
      Atomics.sub(i32, PROD_WAITING, 1);
    }
  }

  // ------------------------------------------------------------- consumer

  /**
   * Pop the oldest published fragment: its address (length in
   * {@linkcode MpscFragRing.length}), or 0 when none is ready. One consumer
   * only.
   *
   * @example
   * ```ts
   * import { MpscFragRing } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const ring = new MpscFragRing(4);
   * assert.equal(ring.tryPop(), 0);
   * ring.tryPush(4096, 3);
   * assert.equal(ring.tryPop(), 4096);
   * ```
   */
  tryPop(): number {
    const i32 = this.#i32;
    const pos = this.#tail;
    const s = seqIndex(pos, this.#mask);
    if (Atomics.load(i32, s) !== ((pos + 1) | 0)) return 0;
    const addr = this.#u32[s + 1];
    this.length = this.#u32[s + 2];
    Atomics.store(i32, s, (pos + this.capacity) | 0); // free for the next lap
    this.#tail = (pos + 1) | 0;
    Atomics.store(i32, TAIL, this.#tail);
    if (Atomics.load(i32, PROD_WAITING) !== 0) Atomics.notify(i32, TAIL);
    return addr;
  }

  /** Whether the ring is closed and every claimed position was popped. */
  #finished(): boolean {
    return Atomics.load(this.#i32, CLOSED) !== 0 &&
      Atomics.load(this.#i32, HEAD) === this.#tail;
  }

  /**
   * Pop, sleeping while nothing is ready: the address, or 0 after
   * `timeoutMs` or once the ring is closed and drained.
   *
   * @example
   * ```ts
   * import { MpscFragRing } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const ring = new MpscFragRing(4);
   * assert.equal(ring.pop(5), 0, "nothing within 5 ms");
   * ```
   */
  pop(timeoutMs = Infinity): number {
    const first = this.tryPop();
    if (first !== 0) return first;
    const i32 = this.#i32;
    const deadline = timeoutMs === Infinity
      ? Infinity
      : performance.now() + checkTimeout(timeoutMs);
    const backoff = this.#backoff;
    backoff.reset();
    for (;;) {
      const addr = this.tryPop();
      if (addr !== 0) {
        backoff.done();
        return addr;
      }
      if (this.#finished()) return 0;
      if (backoff.spin()) continue;
      const left = deadline - performance.now();
      if (left <= 0) return 0;
      const s = seqIndex(this.#tail, this.#mask);
      const seen = Atomics.load(i32, s);
      Atomics.store(i32, CONS_WAITING, 1);
      if (seen !== ((this.#tail + 1) | 0) && !this.#finished()) {
        this.sleeps++;
        Atomics.wait(i32, s, seen, Math.min(left, SLEEP_SLICE_MS));
      }
      Atomics.store(i32, CONS_WAITING, 0);
    }
  }

  /**
   * Pop, awaiting a fragment: the address, or 0 once the ring is closed
   * and drained; `ETIMEDOUT` / `EABORTED` as for {@linkcode FragRing.popAsync}.
   *
   * @example
   * ```ts
   * import { MpscFragRing } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const ring = new MpscFragRing(4);
   * const next = ring.popAsync({ timeout: 1000 });
   * ring.tryPush(4096, 9);
   * assert.equal(await next, 4096);
   * ```
   */
  async popAsync(opts?: WaitOptions): Promise<number> {
    const deadline = startWait(opts);
    const i32 = this.#i32;
    for (let poll = 1;; poll = Math.min(poll * 2, POLL_MAX_MS)) {
      const addr = this.tryPop();
      if (addr !== 0) return addr;
      if (this.#finished()) return 0;
      if (opts?.signal?.aborted) throw aborted(opts.signal);
      const left = deadline - performance.now();
      if (left <= 0) throw timedOut(opts?.timeout);
      const s = seqIndex(this.#tail, this.#mask);
      const seen = Atomics.load(i32, s);
      Atomics.store(i32, CONS_WAITING, 1);
      if (seen === ((this.#tail + 1) | 0)) {
        Atomics.store(i32, CONS_WAITING, 0);
        continue;
      }
      this.sleeps++;
      await sleepOn(
        i32,
        s,
        seen,
        Math.min(left, SLEEP_SLICE_MS),
        Math.min(left, poll),
        opts?.signal,
      );
      Atomics.store(i32, CONS_WAITING, 0);
    }
  }
}

/** Int32 index of the sequence word of position `pos`'s slot. */
function seqIndex(pos: number, mask: number): number {
  return HEADER_WORDS + (pos & mask) * SLOT_WORDS;
}
