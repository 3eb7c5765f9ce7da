/**
 * The one lock every piece of shared pagefrag state is guarded by (the
 * arena's page lock, a shared netdev cache's lock): a futex-style mutex in
 * three `Int32Array` words of shared memory that records its holder.
 *
 * Why not a bare spin lock: a worker that dies while holding one (a
 * `terminate()`, a `process.exit()`, an exception thrown by the runtime
 * itself) leaves it held for good, and a thread that reaches the same lock
 * through a second handle waits on itself. So this lock
 *
 * - stores the holder's **thread id** (never 0) in the lock word, so a
 *   waiter can name who it waits for, and a holder can tell re-entry;
 * - treats re-entry by the same thread as re-entry (a depth count) when the
 *   guarded code allows it, and throws `EDEADLK` otherwise;
 * - bounds every wait: past `timeoutMs` it throws `ETIMEDOUT` naming the
 *   holder, or `EOWNERDEAD` when the holder is known dead (its attachment
 *   was declared dead and is being recovered);
 * - can be taken over by a recoverer once the holder is known dead
 *   ({@linkcode SharedLock.steal}), like a robust futex.
 *
 * Words (from `base`): holder id, depth, sleepers.
 *
 * @module
 */
import { PageFragError } from "./errors.ts";
import { show } from "./format.ts";

/** Int32 words a lock takes. */
export const LOCK_WORDS = 3;
/** Word offsets in a lock: the holder's id, the depth, the sleepers. */
export const LOCK_HOLDER = 0;
/** See {@linkcode LOCK_HOLDER}. */
export const LOCK_DEPTH = 1;
/** See {@linkcode LOCK_HOLDER}. */
export const LOCK_SLEEPERS = 2;
const HOLDER = LOCK_HOLDER;
const DEPTH = LOCK_DEPTH;
const SLEEPERS = LOCK_SLEEPERS;

/**
 * Default bound on a wait for a lock, in milliseconds.
 *
 * @example
 * ```ts
 * import { DEFAULT_LOCK_TIMEOUT_MS } from "@pagefrag/pagefrag/backends/shared";
 * import assert from "node:assert/strict";
 *
 * assert.equal(DEFAULT_LOCK_TIMEOUT_MS, 2000, "two seconds");
 * ```
 */
export const DEFAULT_LOCK_TIMEOUT_MS = 2000;
/** Spins before sleeping: the guarded sections last microseconds. */
const SPINS = 100;
/** Longest single sleep: a waiter looks at the clock (and the holder) this often. */
const SLICE_MS = 10;

/** Whether this thread may block in `Atomics.wait` (false in a browser's main thread). */
let canWait = true;

/**
 * What a lock needs to know about the ids its holders carry.
 *
 * @example
 * ```ts
 * import type { LockOptions } from "@pagefrag/pagefrag/backends/shared";
 *
 * const o: Partial<LockOptions> = {};
 * void o;
 * ```
 */
export interface LockOptions {
  /** Names the lock in error messages ("the arena's page lock"). */
  readonly what: string;
  /** Give up a wait after this many milliseconds. */
  readonly timeoutMs: number;
  /** Whether the holding thread may take the lock again (a depth count). */
  readonly reentrant: boolean;
  /** Whether thread `id` is known to be dead (its state is being recovered). */
  readonly isDead?: (id: number) => boolean;
}

/**
 * Check a lock timeout option: a positive number of milliseconds (or
 * `Infinity`, which only a caller who knows no holder can die should use).
 * Throws `EINVAL_OPTION`.
 *
 * @example
 * ```ts
 * import { checkLockTimeout } from "@pagefrag/pagefrag/backends/shared";
 * import assert from "node:assert/strict";
 *
 * assert.equal(checkLockTimeout(undefined, 2000), 2000, "the default");
 * assert.throws(() => checkLockTimeout(-1, 2000), { code: "EINVAL_OPTION" });
 * ```
 */
export function checkLockTimeout(value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value > 0)) {
    throw new PageFragError(
      "EINVAL_OPTION",
      `lockTimeoutMs must be a positive number of milliseconds, got ${
        show(value)
      }`,
    );
  }
  return value;
}

/**
 * A mutex in shared memory held by a thread id (see the module doc). Every
 * thread makes its own `SharedLock` object over the same words, each with
 * its own `self` id.
 *
 * @example
 * ```ts
 * import { SharedLock } from "@pagefrag/pagefrag/backends/shared";
 * import assert from "node:assert/strict";
 *
 * const words = new Int32Array(new SharedArrayBuffer(12));
 * const lock = new SharedLock(words, 0, 7, { what: "a lock", timeoutMs: 50, reentrant: true });
 * lock.enter();
 * lock.enter(); // re-entry by thread 7
 * assert.equal(lock.holder(), 7, "the lock names its holder");
 * lock.exit();
 * lock.exit();
 * assert.equal(lock.holder(), 0, "free again");
 * const other = new SharedLock(words, 0, 8, { what: "a lock", timeoutMs: 20, reentrant: true });
 * lock.enter();
 * assert.throws(() => other.enter(), { code: "ETIMEDOUT" }, "a bounded wait");
 * lock.exit();
 * ```
 */
export class SharedLock {
  readonly #w: Int32Array;
  readonly #h: number;
  readonly #d: number;
  readonly #s: number;
  /** This thread's id: what the lock word holds while this thread holds the lock. */
  readonly self: number;
  readonly #o: LockOptions;

  /**
   * A view of the lock at `words[base .. base + LOCK_WORDS - 1]` for the
   * thread `self` (a positive integer unique among the threads that use the
   * lock).
   *
   * @example
   * ```ts
   * import { SharedLock } from "@pagefrag/pagefrag/backends/shared";
   *
   * const lock = new SharedLock(new Int32Array(new SharedArrayBuffer(12)), 0, 1, {
   *   what: "demo", timeoutMs: 100, reentrant: false,
   * });
   * lock.enter();
   * lock.exit();
   * ```
   */
  constructor(
    words: Int32Array,
    base: number,
    self: number,
    options: LockOptions,
  ) {
    this.#w = words;
    this.#h = base + HOLDER;
    this.#d = base + DEPTH;
    this.#s = base + SLEEPERS;
    this.self = self;
    this.#o = options;
  }

  /**
   * Take the lock: at once when free, again (depth + 1) when this thread
   * holds it and the lock is re-entrant, `EDEADLK` when it holds it and it
   * is not; otherwise wait at most `timeoutMs` (`ETIMEDOUT` /
   * `EOWNERDEAD` naming the holder).
   *
   * @example
   * ```ts
   * import { SharedLock } from "@pagefrag/pagefrag/backends/shared";
   * import assert from "node:assert/strict";
   *
   * const lock = new SharedLock(new Int32Array(new SharedArrayBuffer(12)), 0, 3, {
   *   what: "demo", timeoutMs: 100, reentrant: false,
   * });
   * lock.enter();
   * assert.throws(() => lock.enter(), { code: "EDEADLK" }, "never waits on itself");
   * lock.exit();
   * ```
   */
  enter(): void {
    const w = this.#w;
    const seen = Atomics.compareExchange(w, this.#h, 0, this.self);
    if (seen === 0) {
      w[this.#d] = 1;
      return;
    }
    this.#enterSlow(seen);
  }

  #enterSlow(seen: number): void {
    const w = this.#w;
    const self = this.self;
    if (seen === self) {
      if (!this.#o.reentrant) {
        throw new PageFragError(
          "EDEADLK",
          `${this.#o.what}: thread ${self} already holds it (re-entry through another handle?)`,
        );
      }
      w[this.#d]++;
      return;
    }
    for (let i = 0; i < SPINS; i++) {
      if (Atomics.compareExchange(w, this.#h, 0, self) === 0) {
        w[this.#d] = 1;
        return;
      }
    }
    const deadline = performance.now() + this.#o.timeoutMs;
    for (;;) {
      const holder = Atomics.compareExchange(w, this.#h, 0, self);
      if (holder === 0) {
        w[this.#d] = 1;
        return;
      }
      const left = deadline - performance.now();
      if (left <= 0) throw this.#timedOut(holder);
      if (canWait) {
        Atomics.add(w, this.#s, 1);
        try {
          Atomics.wait(w, this.#h, holder, Math.min(SLICE_MS, left));
        } catch {
          canWait = false; // a thread that may not block: keep spinning
        } finally {
          Atomics.sub(w, this.#s, 1);
        }
      }
    }
  }

  #timedOut(holder: number): PageFragError {
    const o = this.#o;
    if (o.isDead?.(holder) === true) {
      return new PageFragError(
        "EOWNERDEAD",
        `${o.what}: its holder, thread ${holder}, is dead; recover it (backend.recover(${holder})) before going on`,
      );
    }
    return new PageFragError(
      "ETIMEDOUT",
      `${o.what}: held by thread ${holder} for more than ${o.timeoutMs} ms (if that thread died, call backend.recover(${holder}))`,
    );
  }

  /**
   * Leave the lock once (the last leave frees it and wakes a sleeper).
   *
   * @example
   * ```ts
   * import { SharedLock } from "@pagefrag/pagefrag/backends/shared";
   *
   * const lock = new SharedLock(new Int32Array(new SharedArrayBuffer(12)), 0, 1, {
   *   what: "demo", timeoutMs: 100, reentrant: true,
   * });
   * lock.enter();
   * lock.exit();
   * if (lock.holder() !== 0) throw new Error();
   * ```
   */
  exit(): void {
    const w = this.#w;
    if (--w[this.#d] > 0) return;
    w[this.#d] = 0;
    Atomics.store(w, this.#h, 0);
    if (Atomics.load(w, this.#s) !== 0) Atomics.notify(w, this.#h, 1);
  }

  /**
   * The id of the thread holding the lock, 0 when free.
   *
   * @example
   * ```ts
   * import { SharedLock } from "@pagefrag/pagefrag/backends/shared";
   *
   * const lock = new SharedLock(new Int32Array(new SharedArrayBuffer(12)), 0, 5, {
   *   what: "demo", timeoutMs: 100, reentrant: false,
   * });
   * if (lock.holder() !== 0) throw new Error();
   * ```
   */
  holder(): number {
    return Atomics.load(this.#w, this.#h);
  }

  /**
   * Whether this thread holds the lock.
   *
   * @example
   * ```ts
   * import { SharedLock } from "@pagefrag/pagefrag/backends/shared";
   *
   * const lock = new SharedLock(new Int32Array(new SharedArrayBuffer(12)), 0, 5, {
   *   what: "demo", timeoutMs: 100, reentrant: false,
   * });
   * lock.enter();
   * if (!lock.held()) throw new Error();
   * lock.exit();
   * ```
   */
  held(): boolean {
    return Atomics.load(this.#w, this.#h) === this.self;
  }

  /**
   * Take the lock over from `dead`, a thread known to be dead (recovery):
   * true when `dead` held it and this thread now does (depth 1; repair the
   * guarded state, then `exit()`). False when `dead` did not hold it.
   *
   * @example
   * ```ts
   * import { SharedLock } from "@pagefrag/pagefrag/backends/shared";
   * import assert from "node:assert/strict";
   *
   * const words = new Int32Array(new SharedArrayBuffer(12));
   * const opts = { what: "demo", timeoutMs: 100, reentrant: false };
   * new SharedLock(words, 0, 2, opts).enter(); // thread 2 takes it and dies
   * const me = new SharedLock(words, 0, 1, opts);
   * assert.ok(me.steal(2), "taken over");
   * me.exit();
   * assert.equal(me.holder(), 0);
   * ```
   */
  steal(dead: number): boolean {
    if (dead === 0 || dead === this.self) return false;
    if (Atomics.compareExchange(this.#w, this.#h, dead, this.self) !== dead) {
      return false;
    }
    this.#w[this.#d] = 1;
    return true;
  }
}
