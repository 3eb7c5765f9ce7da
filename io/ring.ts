/**
 * A single-producer single-consumer ring of fragments over a
 * `SharedArrayBuffer`: the userspace `ptr_ring` that hands a fragment's
 * (address, length) from one worker to another without copying its bytes
 * or going through `postMessage`.
 *
 * Head and tail are free-running 32-bit counters updated with `Atomics`,
 * each on its own cache line; the slots are plain stores, published by the
 * atomic store of the index after them (sequentially consistent, so the
 * other side sees the slot before it sees the index). Each side keeps a
 * private copy of the other side's index and re-reads the shared one only
 * when the ring looks full (producer) or empty (consumer).
 *
 * A side that has to wait spins for a few microseconds (adaptive, see
 * {@linkcode RingBackoff}) and then sleeps in `Atomics.wait` (or awaits
 * `Atomics.waitAsync`) after raising a "waiting" flag; the other side calls
 * `Atomics.notify` only when that flag is up, so the fast path never
 * notifies. The flag is raised before the index is re-read and the index is
 * stored before the flag is read, so with sequentially consistent atomics a
 * wake-up cannot be lost; every sleep is bounded all the same and re-checks.
 *
 * @module
 */
import { PageFragError } from "../core/errors.ts";
import { show } from "../core/format.ts";
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

/** Spin budget bounds of a blocking wait, in ms (see {@linkcode RingBackoff}). */
const SPIN_MAX_MS = 0.1;
const SPIN_MIN_MS = 0.02;

/** Largest ring: 2^24 slots (128 MiB of slots). */
const MAX_CAPACITY = 1 << 24;

/**
 * What a worker needs to attach to a ring made elsewhere: plain data that
 * `postMessage` and `structuredClone` carry (the buffer is shared, not
 * copied).
 *
 * @example
 * ```ts
 * import { FragRing, type FragRingDescriptor } from "@pagefrag/pagefrag/io";
 * import assert from "node:assert/strict";
 *
 * const d: FragRingDescriptor = new FragRing(8).share();
 * assert.equal(d.kind, "pagefrag.ring", "a ring descriptor names its kind");
 * assert.equal(d.capacity, 8, "and carries the capacity");
 * ```
 */
export interface FragRingDescriptor {
  /** Always `"pagefrag.ring"`. */
  kind: "pagefrag.ring";
  /** The ring's shared memory. */
  buffer: SharedArrayBuffer;
  /** Slots in the ring: a power of two. */
  capacity: number;
}

/**
 * Adaptive spin-then-sleep budget for a wait loop, reused so a wait
 * allocates nothing. A futex wake-up costs 5 to 25 us, so while each side
 * has a CPU a short spin keeps both running; but when the two share one
 * CPU a spinning side only keeps the other from running. So a wait that had
 * to sleep halves the next spin and one that ended while spinning doubles it.
 *
 * @example
 * ```ts
 * import { RingBackoff } from "@pagefrag/pagefrag/io";
 * import assert from "node:assert/strict";
 *
 * const b = new RingBackoff();
 * b.reset();
 * assert.equal(b.spin(), true, "a fresh wait spins first");
 * b.done();
 * ```
 */
export class RingBackoff {
  #i = 0;
  #deadline = 0;
  #slept = false;
  #budget = SPIN_MAX_MS;

  /**
   * Start a new wait.
   *
   * @example
   * ```ts
   * import { RingBackoff } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const b = new RingBackoff();
   * b.reset();
   * assert.ok(b.spin(), "spins after a reset");
   * ```
   */
  reset(): void {
    this.#i = 0;
    this.#deadline = 0;
    this.#slept = false;
  }

  /**
   * Whether to keep spinning (reads the clock once every 64 calls).
   *
   * @example
   * ```ts
   * import { RingBackoff } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const b = new RingBackoff();
   * b.reset();
   * let spins = 0;
   * while (b.spin() && spins < 1e7) spins++;
   * assert.ok(spins < 1e7, "the spin budget runs out");
   * ```
   */
  spin(): boolean {
    if (this.#slept) return false; // woken without the condition: sleep again
    if ((++this.#i & 63) !== 0) return true;
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

  /**
   * The condition holds: if the wait never slept, spin longer next time.
   *
   * @example
   * ```ts
   * import { RingBackoff } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const b = new RingBackoff();
   * b.reset();
   * assert.ok(b.spin());
   * b.done();
   * ```
   */
  done(): void {
    if (!this.#slept) this.#budget = Math.min(SPIN_MAX_MS, this.#budget * 2);
  }
}

/**
 * A single-producer single-consumer ring of fragments (address, length)
 * over a `SharedArrayBuffer`. Make it in one worker, hand
 * {@linkcode FragRing.share}'s descriptor to the other, which calls
 * {@linkcode FragRing.attach}; then one side only pushes and the other only
 * pops. Exactly one producer and one consumer: two workers pushing into
 * the same ring corrupt it.
 *
 * The ring moves numbers, not ownership checks: the consumer frees each
 * fragment it pops (any cache or backend attached to the same memory
 * may), the producer never touches a fragment after pushing it. Addresses
 * are non-zero 32-bit unsigned integers, as every pagefrag backend hands out.
 *
 * Consumers: non-blocking {@linkcode FragRing.tryPop}, blocking
 * {@linkcode FragRing.pop} (`Atomics.wait`: fine in a worker and on the
 * main thread of Deno, Bun and Node, not in a browser window), and async
 * {@linkcode FragRing.popAsync} (`Atomics.waitAsync`; where a runtime lacks
 * it, a bounded poll with backoff from 1 to 50 ms). The producer has the
 * same three forms. Batches ({@linkcode FragRing.pushMany},
 * {@linkcode FragRing.popMany}) publish their index once per batch.
 *
 * @example Within one worker (across workers, see `share`/`attach`)
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { FragRing } from "@pagefrag/pagefrag/io";
 * import assert from "node:assert/strict";
 *
 * const cache = createPageFragCache();
 * const ring = new FragRing(64);
 * const addr = cache.allocHandle(5)!;
 * cache.backend.view(addr, 5).set([1, 2, 3, 4, 5]);
 * assert.ok(ring.tryPush(addr, 5), "room in an empty ring");
 *
 * const got = ring.tryPop();
 * assert.equal(got, addr, "the consumer gets the address");
 * assert.equal(ring.length, 5, "and its length");
 * assert.deepEqual([...cache.backend.view(got, ring.length)], [1, 2, 3, 4, 5], "the bytes were not copied");
 * cache.free(got);
 * ```
 */
export class FragRing {
  /** Slots in the ring: a power of two. */
  readonly capacity: number;
  /** The control words. */
  readonly #i32: Int32Array;
  /** (address, length) per slot. */
  readonly #slots: Uint32Array;
  readonly #mask: number;
  readonly #buffer: SharedArrayBuffer;
  // Producer side.
  #head = 0;
  #tailSeen = 0;
  // Consumer side.
  #tail = 0;
  #headSeen = 0;
  /**
   * Length of the fragment the last successful pop returned (a property,
   * so that a pop allocates nothing).
   */
  length = 0;
  /** Times this handle slept waiting (diagnostics). */
  sleeps = 0;
  readonly #backoff = new RingBackoff();

  /**
   * A new empty ring of `capacity` slots (a power of two from 2 to 2^24;
   * default 1024), or, given a descriptor, a handle on an existing ring
   * (prefer {@linkcode FragRing.attach}, which says so).
   *
   * @example
   * ```ts
   * import { FragRing } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * assert.equal(new FragRing(256).capacity, 256, "capacity as asked");
   * assert.throws(() => new FragRing(100), { code: "EINVAL_OPTION" }, "not a power of two");
   * ```
   */
  constructor(capacity: number | FragRingDescriptor = 1024) {
    if (typeof capacity === "object" && capacity !== null) {
      checkRingDescriptor(
        capacity,
        "pagefrag.ring",
        "FragRing",
        MAX_CAPACITY,
        FragRing.bytesFor,
      );
      this.#buffer = capacity.buffer;
      this.capacity = capacity.capacity;
    } else {
      checkCapacity(capacity, MAX_CAPACITY);
      this.capacity = capacity;
      this.#buffer = new SharedArrayBuffer(FragRing.bytesFor(capacity));
    }
    this.#i32 = new Int32Array(this.#buffer, 0, HEADER_WORDS);
    this.#slots = new Uint32Array(
      this.#buffer,
      HEADER_WORDS * 4,
      this.capacity * 2,
    );
    this.#mask = this.capacity - 1;
    // A handle made late (or in another worker) starts from the shared
    // indices, so attaching to a ring in use is safe for its own role.
    const head = Atomics.load(this.#i32, HEAD);
    const tail = Atomics.load(this.#i32, TAIL);
    this.#head = this.#headSeen = head;
    this.#tail = this.#tailSeen = tail;
  }

  /**
   * Bytes of shared memory a ring of `capacity` slots takes.
   *
   * @example
   * ```ts
   * import { FragRing } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * assert.equal(FragRing.bytesFor(1024), 320 + 1024 * 8, "control block + 8 bytes a slot");
   * ```
   */
  static bytesFor(capacity: number): number {
    checkCapacity(capacity, MAX_CAPACITY);
    return HEADER_WORDS * 4 + capacity * 8;
  }

  /**
   * A handle on the ring described by `descriptor` (from
   * {@linkcode FragRing.share}, possibly in another worker).
   *
   * @example
   * ```ts
   * import { FragRing } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const producer = new FragRing(4);
   * const consumer = FragRing.attach(structuredClone(producer.share()));
   * producer.tryPush(4096, 10);
   * assert.equal(consumer.tryPop(), 4096, "the same ring");
   * ```
   */
  static attach(descriptor: FragRingDescriptor): FragRing {
    return new FragRing(descriptor);
  }

  /**
   * The descriptor to hand to another worker (`postMessage` it, or pass it
   * in `workerData`).
   *
   * @example
   * ```ts
   * import { FragRing } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const d = new FragRing(16).share();
   * assert.ok(d.buffer instanceof SharedArrayBuffer, "shared memory, not a copy");
   * ```
   */
  share(): FragRingDescriptor {
    return {
      kind: "pagefrag.ring",
      buffer: this.#buffer,
      capacity: this.capacity,
    };
  }

  /**
   * Fragments in the ring now (a snapshot: the other side moves on).
   *
   * @example
   * ```ts
   * import { FragRing } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const ring = new FragRing(4);
   * ring.tryPush(4096, 1);
   * assert.equal(ring.size(), 1, "one in flight");
   * ```
   */
  size(): number {
    return (Atomics.load(this.#i32, HEAD) - Atomics.load(this.#i32, TAIL)) |
      0;
  }

  /**
   * Whether {@linkcode FragRing.close} was called (by either side).
   *
   * @example
   * ```ts
   * import { FragRing } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const ring = new FragRing(4);
   * ring.close();
   * assert.ok(ring.closed, "closed for both sides");
   * ```
   */
  get closed(): boolean {
    return Atomics.load(this.#i32, CLOSED) !== 0;
  }

  /**
   * No more pushes: the consumer still pops what is in the ring, then its
   * pops return 0 (and {@linkcode FragRing.popAsync} resolves 0) instead of
   * waiting. Pushing after close throws `ESTATE`. Wakes both sides.
   *
   * @example
   * ```ts
   * import { FragRing } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const ring = new FragRing(4);
   * ring.tryPush(4096, 8);
   * ring.close();
   * assert.equal(ring.pop(), 4096, "what was pushed still arrives");
   * assert.equal(ring.pop(), 0, "then the end, without waiting");
   * ```
   */
  close(): void {
    Atomics.store(this.#i32, CLOSED, 1);
    Atomics.notify(this.#i32, HEAD);
    Atomics.notify(this.#i32, TAIL);
  }

  // ------------------------------------------------------------- producer

  /**
   * Push a fragment; false when the ring is full. `addr` must be a non-zero
   * 32-bit unsigned integer and `length` a 32-bit unsigned integer, else
   * `EINVAL_OPTION`; `ESTATE` after {@linkcode FragRing.close}.
   *
   * @example
   * ```ts
   * import { FragRing } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const ring = new FragRing(2);
   * assert.ok(ring.tryPush(4096, 1) && ring.tryPush(8192, 1), "two slots");
   * assert.equal(ring.tryPush(12288, 1), false, "full");
   * ```
   */
  tryPush(addr: number, length: number): boolean {
    if ((addr >>> 0) !== addr || addr === 0 || (length >>> 0) !== length) {
      throw badPair(addr, length);
    }
    if (Atomics.load(this.#i32, CLOSED) !== 0) throw closedRing("tryPush");
    const head = this.#head;
    if (((head - this.#tailSeen) | 0) === this.capacity) {
      this.#tailSeen = Atomics.load(this.#i32, TAIL);
      if (((head - this.#tailSeen) | 0) === this.capacity) return false;
    }
    const i = (head & this.#mask) << 1;
    this.#slots[i] = addr;
    this.#slots[i + 1] = length;
    this.#publishHead((head + 1) | 0);
    return true;
  }

  /**
   * Push as many of `addrs[start..end)` (with `lengths[i]`) as there is
   * room for, publishing once; returns how many were pushed (from `start`).
   *
   * @example
   * ```ts
   * import { FragRing } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const ring = new FragRing(4);
   * const n = ring.pushMany([4096, 4196, 4296, 4396, 4496], [100, 100, 100, 100, 100]);
   * assert.equal(n, 4, "as many as fit");
   * ```
   */
  pushMany(
    addrs: ArrayLike<number>,
    lengths: ArrayLike<number>,
    start = 0,
    end: number = addrs.length,
  ): number {
    const head = this.#head;
    let room = this.capacity - ((head - this.#tailSeen) | 0);
    if (room < end - start) {
      this.#tailSeen = Atomics.load(this.#i32, TAIL);
      room = this.capacity - ((head - this.#tailSeen) | 0);
    }
    if (Atomics.load(this.#i32, CLOSED) !== 0) throw closedRing("pushMany");
    const n = Math.max(0, Math.min(room, end - start));
    const slots = this.#slots;
    const mask = this.#mask;
    for (let k = 0; k < n; k++) {
      const addr = addrs[start + k];
      const length = lengths[start + k];
      if ((addr >>> 0) !== addr || addr === 0 || (length >>> 0) !== length) {
        if (k > 0) this.#publishHead((head + k) | 0); // keep what is valid
        throw badPair(addr, length);
      }
      const i = ((head + k) & mask) << 1;
      slots[i] = addr;
      slots[i + 1] = length;
    }
    if (n > 0) this.#publishHead((head + n) | 0);
    return n;
  }

  #publishHead(next: number): void {
    this.#head = next;
    Atomics.store(this.#i32, HEAD, next);
    if (Atomics.load(this.#i32, CONS_WAITING) !== 0) {
      Atomics.notify(this.#i32, HEAD);
    }
  }

  /**
   * Push, waiting in `Atomics.wait` while the ring is full; false when
   * `timeoutMs` passed first. `ESTATE` if the ring is or gets closed.
   *
   * @example
   * ```ts
   * import { FragRing } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const ring = new FragRing(2);
   * assert.ok(ring.push(4096, 1), "room: no wait");
   * ring.push(8192, 1);
   * assert.equal(ring.push(12288, 1, 5), false, "full for 5 ms");
   * ```
   */
  push(addr: number, length: number, timeoutMs = Infinity): boolean {
    if (this.tryPush(addr, length)) return true;
    if (!this.#waitSync(TAIL, PROD_WAITING, timeoutMs, true)) return false;
    return this.tryPush(addr, length);
  }

  /**
   * Push, awaiting room (`Atomics.waitAsync`) while the ring is full.
   * Rejects with `ETIMEDOUT` after `timeout` ms, `EABORTED` when `signal`
   * aborts, `ESTATE` if the ring is or gets closed.
   *
   * @example
   * ```ts
   * import { FragRing } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const ring = new FragRing(2);
   * await ring.pushAsync(4096, 1);
   * await ring.pushAsync(8192, 1);
   * const third = ring.pushAsync(12288, 1);          // full: waits
   * assert.equal(ring.tryPop(), 4096, "make room");
   * await third;
   * assert.equal(ring.size(), 2, "the waiting push went in");
   * ```
   */
  async pushAsync(
    addr: number,
    length: number,
    opts?: WaitOptions,
  ): Promise<void> {
    const deadline = startWait(opts);
    while (!this.tryPush(addr, length)) {
      await this.#waitAsync(TAIL, PROD_WAITING, deadline, opts, true);
    }
  }

  // ------------------------------------------------------------- consumer

  /**
   * Pop the oldest fragment: its address (its length is then in
   * {@linkcode FragRing.length}), or 0 when the ring is empty.
   *
   * @example
   * ```ts
   * import { FragRing } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const ring = new FragRing(4);
   * assert.equal(ring.tryPop(), 0, "empty");
   * ring.tryPush(4096, 7);
   * assert.equal(ring.tryPop(), 4096);
   * assert.equal(ring.length, 7);
   * ```
   */
  tryPop(): number {
    const tail = this.#tail;
    if (tail === this.#headSeen) {
      this.#headSeen = Atomics.load(this.#i32, HEAD);
      if (tail === this.#headSeen) return 0;
    }
    const i = (tail & this.#mask) << 1;
    const addr = this.#slots[i];
    this.length = this.#slots[i + 1];
    this.#publishTail((tail + 1) | 0);
    return addr;
  }

  /**
   * Pop up to `max` fragments into `addrs` and `lengths` (from index 0),
   * publishing once; returns how many.
   *
   * @example
   * ```ts
   * import { FragRing } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const ring = new FragRing(8);
   * ring.pushMany([4096, 8192], [1, 2]);
   * const addrs = new Uint32Array(8), lengths = new Uint32Array(8);
   * assert.equal(ring.popMany(addrs, lengths), 2, "both");
   * assert.deepEqual([...lengths.subarray(0, 2)], [1, 2]);
   * ```
   */
  popMany(
    addrs: { [i: number]: number; length: number },
    lengths: { [i: number]: number; length: number },
    max: number = Math.min(addrs.length, lengths.length),
  ): number {
    const tail = this.#tail;
    let avail = (this.#headSeen - tail) | 0;
    if (avail < max) {
      this.#headSeen = Atomics.load(this.#i32, HEAD);
      avail = (this.#headSeen - tail) | 0;
    }
    const n = Math.min(avail, max);
    const slots = this.#slots;
    const mask = this.#mask;
    for (let k = 0; k < n; k++) {
      const i = ((tail + k) & mask) << 1;
      addrs[k] = slots[i];
      lengths[k] = slots[i + 1];
    }
    if (n > 0) this.#publishTail((tail + n) | 0);
    return n;
  }

  #publishTail(next: number): void {
    this.#tail = next;
    Atomics.store(this.#i32, TAIL, next);
    if (Atomics.load(this.#i32, PROD_WAITING) !== 0) {
      Atomics.notify(this.#i32, TAIL);
    }
  }

  /**
   * Pop, waiting in `Atomics.wait` while the ring is empty: the address
   * (length in {@linkcode FragRing.length}), or 0 when `timeoutMs` passed
   * or the ring is closed and empty (tell them apart with
   * {@linkcode FragRing.closed}).
   *
   * @example
   * ```ts
   * import { FragRing } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const ring = new FragRing(4);
   * assert.equal(ring.pop(5), 0, "nothing within 5 ms");
   * ring.tryPush(4096, 3);
   * assert.equal(ring.pop(), 4096);
   * ```
   */
  pop(timeoutMs = Infinity): number {
    const addr = this.tryPop();
    if (addr !== 0) return addr;
    if (!this.#waitSync(HEAD, CONS_WAITING, timeoutMs, false)) return 0;
    return this.tryPop();
  }

  /**
   * Pop, awaiting a fragment (`Atomics.waitAsync`) while the ring is empty:
   * resolves with the address (length in {@linkcode FragRing.length}) or 0
   * once the ring is closed and empty. Rejects with `ETIMEDOUT` after
   * `timeout` ms and `EABORTED` when `signal` aborts.
   *
   * @example
   * ```ts
   * import { FragRing } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const ring = new FragRing(4);
   * const next = ring.popAsync({ timeout: 1000 });
   * ring.tryPush(4096, 9);
   * assert.equal(await next, 4096, "woken by the push");
   * ring.close();
   * assert.equal(await ring.popAsync(), 0, "closed and empty");
   * ```
   */
  async popAsync(opts?: WaitOptions): Promise<number> {
    const deadline = startWait(opts);
    for (;;) {
      const addr = this.tryPop();
      if (addr !== 0) return addr;
      if (Atomics.load(this.#i32, CLOSED) !== 0) {
        return this.tryPop(); // a push may have landed just before close
      }
      await this.#waitAsync(HEAD, CONS_WAITING, deadline, opts, false);
    }
  }

  // ------------------------------------------------------------- waiting

  /** Whether the condition this side waits for holds (or the ring closed). */
  #ready(index: number, producer: boolean): boolean {
    const seen = Atomics.load(this.#i32, index);
    if (producer) {
      this.#tailSeen = seen;
      return ((this.#head - seen) | 0) !== this.capacity;
    }
    this.#headSeen = seen;
    return seen !== this.#tail;
  }

  /**
   * Block until the ring is not full (producer) or not empty (consumer):
   * spin, then sleep. False on timeout or (consumer) when closed and empty;
   * a closed ring makes a waiting producer throw `ESTATE`.
   */
  #waitSync(
    index: number,
    flag: number,
    timeoutMs: number,
    producer: boolean,
  ): boolean {
    const i32 = this.#i32;
    const deadline = timeoutMs === Infinity
      ? Infinity
      : performance.now() + checkTimeout(timeoutMs);
    const backoff = this.#backoff;
    backoff.reset();
    for (;;) {
      if (this.#ready(index, producer)) {
        backoff.done();
        return true;
      }
      if (Atomics.load(i32, CLOSED) !== 0) {
        if (producer) throw closedRing("push");
        return false;
      }
      if (backoff.spin()) continue;
      const left = deadline - performance.now();
      if (left <= 0) return false;
      const seen = Atomics.load(i32, index);
      Atomics.store(i32, flag, 1);
      if (!this.#ready(index, producer)) {
        this.sleeps++;
        Atomics.wait(i32, index, seen, Math.min(left, SLEEP_SLICE_MS));
      }
      Atomics.store(i32, flag, 0);
    }
  }

  /**
   * Wait once for the other side to move its index (or for the ring to
   * close), up to the deadline: `Atomics.waitAsync` under a timer that
   * keeps the event loop alive (Deno does not count a pending
   * `waitAsync` as work), or a bounded poll where `waitAsync` is missing.
   */
  async #waitAsync(
    index: number,
    flag: number,
    deadline: number,
    opts: WaitOptions | undefined,
    producer: boolean,
  ): Promise<void> {
    const i32 = this.#i32;
    const signal = opts?.signal;
    for (let poll = 1;; poll = Math.min(poll * 2, POLL_MAX_MS)) {
      if (signal?.aborted) throw aborted(signal);
      if (Atomics.load(i32, CLOSED) !== 0) {
        if (producer) throw closedRing("pushAsync");
        return;
      }
      const left = deadline - performance.now();
      if (left <= 0) throw timedOut(opts?.timeout);
      const seen = Atomics.load(i32, index);
      Atomics.store(i32, flag, 1);
      if (this.#ready(index, producer)) {
        Atomics.store(i32, flag, 0);
        return;
      }
      this.sleeps++;
      await sleepOn(
        i32,
        index,
        seen,
        Math.min(left, SLEEP_SLICE_MS),
        Math.min(left, poll),
        signal,
      );
      Atomics.store(i32, flag, 0);
      if (this.#ready(index, producer)) return;
    }
  }
}

// ---------------------------------------------------------------- helpers

function badPair(addr: unknown, length: unknown): PageFragError {
  return new PageFragError(
    "EINVAL_OPTION",
    `a ring carries a non-zero u32 address and a u32 length, got address ${
      show(addr)
    } and length ${show(length)}`,
  );
}
