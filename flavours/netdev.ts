/**
 * The netdev flavour (`netdev_alloc_cache`): a cache callable from any
 * context. The kernel masks interrupts or takes a local lock around each
 * allocation; here every allocating call takes a short lock
 * (`backends/lock.ts`) when the cache's state lives in shared memory (so
 * several workers may use one cache at once), and every call is safe
 * against re-entry from a policy or backend callback within the worker.
 *
 * The lock names its holder (the thread's attachment id in the backend's
 * arena), treats a second handle of the same thread as re-entry, and bounds
 * every wait (`ETIMEDOUT` / `EOWNERDEAD`); {@linkcode NetdevFragCache.recover}
 * takes it back from a thread that died holding it.
 *
 * @module
 */
import {
  type AllocOptions,
  CACHE_STATE_BYTES,
  createCacheState,
  PageFragCache,
  type PreparedFragment,
} from "../core/cache.ts";
import type { MemoryBackend } from "../core/backend.ts";
import { PageFragError } from "../core/errors.ts";
import { show } from "../core/format.ts";
import type {
  AlignmentPolicy,
  PfmemallocPolicy,
  RefillPolicy,
} from "../core/policy.ts";
import {
  DEFAULT_LOCK_TIMEOUT_MS,
  LOCK_DEPTH,
  LOCK_HOLDER,
  LOCK_SLEEPERS,
  LOCK_WORDS,
  SharedLock,
} from "../core/lock.ts";

// Header words of a shared netdev state (Int32), then the cache state.
// 0 .. 2: the lock (holder, depth, sleepers).
/** Bumped by every call that changes the cache's state: a prepare is good until the next bump. */
const SEQ = LOCK_WORDS;
/** The handle whose prepare/probe is pending, 0 = none. */
const PREP_HANDLE = SEQ + 1;
/** SEQ at that prepare. */
const PREP_SEQ = SEQ + 2;
/** Handle ids are handed out from here. */
const NEXT_HANDLE = SEQ + 3;
/** 1 once the cache zeroes its fragments (sticky: zero means zero for every handle). */
const ZERO = SEQ + 4;
/** The identity of the arena the state belongs to (0, 0 before first use). */
const UID_LO = SEQ + 5;
const UID_HI = SEQ + 6;
/** Thread ids for backends without attachments (not an arena). */
const NEXT_THREAD = SEQ + 7;
/** The handle whose allocation is the latest (what abort may undo), 0 = none. */
const LAST_HANDLE = SEQ + 8;
const HEADER_WORDS = SEQ + 9;
/** Header bytes, rounded up to 8 so the cache's Float64 counters are aligned. */
const HEADER_BYTES = Math.ceil((HEADER_WORDS * 4) / 8) * 8;

/** Fallback thread ids, per shared state object (module state is per thread). */
const fallbackIds = new WeakMap<SharedArrayBuffer, number>();

/** What a backend may offer the lock: an arena's attachments (duck-typed, internal). */
interface Attachments {
  readonly attachmentId?: unknown;
  readonly lockTimeoutMs?: unknown;
  readonly uid?: unknown;
  attachmentState?(id: number): string;
  recover?(id: number): unknown;
}

/**
 * A page fragment cache usable from any context. With private state (heap
 * backend) it is a plain cache made safe against re-entry; with shared state
 * (`SharedArrayBuffer`, on a shared or wasm backend) one cache may be used by
 * several workers at once, each call serialised by an `Atomics` lock.
 *
 * `prepare` and `commit` are separate calls, so on a cache shared between
 * workers another worker may allocate between them: a prepare belongs to
 * the handle that made it, and `commit` through another handle, or after
 * another call changed the cache, is `ESTATE` with nothing changed. Run
 * such sequences inside `locked(fn)`.
 *
 * `zero` of a shared cache is one setting for every handle (in the shared
 * state, taken up by each handle at its next call): turned on through any
 * handle, it is on for all, and it cannot be turned off again (set to
 * `false`, it comes back on at the next call).
 *
 * @example
 * ```ts
 * import { createNetdevCache } from "@pagefrag/pagefrag";
 *
 * const netdev = createNetdevCache();
 * const frag = netdev.alloc(1500)!;   // netdev_alloc_frag
 * netdev.free(frag);
 * ```
 */
export class NetdevFragCache<B extends ArrayBufferLike = ArrayBufferLike>
  extends PageFragCache<B> {
  /** Bytes of shared memory a shared netdev cache's state takes. */
  static readonly stateBytes: number = HEADER_BYTES + CACHE_STATE_BYTES;

  readonly #lock: SharedLock | undefined;
  readonly #shared: SharedArrayBuffer | undefined;
  /** The shared header words (lock, prepare owner, zero, identity). */
  readonly #h: Int32Array | undefined;
  /** This handle's id among the handles of the shared cache. */
  readonly #handle: number;

  /**
   * Assemble a netdev cache (the wiring calls this). Pass `shared` (at least
   * `NetdevFragCache.stateBytes` bytes, zeroed on first use) to keep the state
   * in shared memory; every worker that builds a netdev cache over the same
   * `shared` buffer and the same backend arena uses the same cache. A
   * `shared` state that belongs to another arena is `EINVAL_OPTION`.
   *
   * @example
   * ```ts
   * import { HeapBackend, kernelPfmemalloc, kernelRefill, NetdevFragCache, noAlignment } from "@pagefrag/pagefrag";
   *
   * const netdev = new NetdevFragCache(new HeapBackend(), noAlignment, kernelRefill, kernelPfmemalloc);
   * netdev.free(netdev.allocHandle(64)!);
   * ```
   */
  constructor(
    backend: MemoryBackend<B>,
    alignment: AlignmentPolicy,
    refillPolicy: RefillPolicy,
    pfmemallocPolicy: PfmemallocPolicy,
    shared?: SharedArrayBuffer,
  ) {
    if (
      shared !== undefined &&
      (typeof SharedArrayBuffer === "undefined" ||
        !(shared instanceof SharedArrayBuffer) ||
        shared.byteLength < NetdevFragCache.stateBytes)
    ) {
      throw new PageFragError(
        "EINVAL_OPTION",
        `netdev shared state must be a SharedArrayBuffer of at least ${NetdevFragCache.stateBytes} bytes, got ${
          show(shared)
        }`,
      );
    }
    const h = shared === undefined
      ? undefined
      : new Int32Array(shared, 0, HEADER_WORDS);
    const b = backend as Attachments;
    if (h !== undefined) claimState(h, b.uid);
    super(
      backend,
      alignment,
      refillPolicy,
      pfmemallocPolicy,
      shared === undefined ? undefined : createCacheState(shared, HEADER_BYTES),
    );
    this.#shared = shared;
    this.#h = h;
    this.#handle = h === undefined ? 1 : Atomics.add(h, NEXT_HANDLE, 1) + 1;
    if (shared === undefined || h === undefined) {
      this.#lock = undefined;
      return;
    }
    const arena = typeof b.attachmentId === "number" &&
      typeof b.attachmentState === "function";
    const self = arena ? b.attachmentId as number : fallbackId(shared, h);
    const timeoutMs = typeof b.lockTimeoutMs === "number"
      ? b.lockTimeoutMs
      : DEFAULT_LOCK_TIMEOUT_MS;
    if (h[ZERO] === 1) this.zero = true;
    this.#lock = new SharedLock(h, 0, self, {
      what: "the shared netdev cache's lock",
      timeoutMs,
      reentrant: true,
      isDead: arena ? (id) => b.attachmentState!(id) === "dead" : undefined,
    });
  }

  /**
   * The shared memory holding this cache's state, or `undefined` when the
   * state is private to this worker. Send it (with the backend's `share()`
   * descriptor) to another worker to use the same cache there.
   *
   * @example
   * ```ts
   * import { createNetdevCache } from "@pagefrag/pagefrag";
   *
   * if (createNetdevCache().sharedState !== undefined) throw new Error("heap state is private");
   * ```
   */
  get sharedState(): SharedArrayBuffer | undefined {
    return this.#shared;
  }

  /**
   * The id of the thread holding the shared cache's lock, 0 when free (and
   * always 0 for private state): what a lock timeout names.
   *
   * @example
   * ```ts
   * import { createNetdevCache } from "@pagefrag/pagefrag";
   * import assert from "node:assert/strict";
   *
   * const nd = createNetdevCache({ backend: "shared" });
   * assert.equal(nd.lockHolder(), 0, "free");
   * nd.locked(() => assert.notEqual(nd.lockHolder(), 0, "held by this thread"));
   * ```
   */
  lockHolder(): number {
    return this.#lock?.holder() ?? 0;
  }

  #enter(): void {
    const lock = this.#lock;
    if (lock === undefined) return;
    lock.enter();
    // One zero setting for every handle, in the shared state: on through
    // any handle, on for all (a plain field here, not an accessor: the
    // allocation fast path reads it).
    const h = this.#h!;
    if (h[ZERO] === 1) {
      if (!this.zero) this.zero = true;
    } else if (this.zero) h[ZERO] = 1;
  }

  #exit(): void {
    this.#lock?.exit();
  }

  /** A call that changed the state (under the lock): pending prepares are stale. */
  #changed(): void {
    const h = this.#h;
    if (h !== undefined) h[SEQ]++;
  }

  /** `commit`/`commitNoref` (under the lock): the prepare must be this handle's and still current. */
  #checkPrepare(what: string, size: number): void {
    const h = this.#h;
    if (h === undefined) return;
    const b = this.backend;
    if (
      typeof size !== "number" || !(size >= 1) || (size | 0) !== size ||
      size > b.pageSize * 2 ** b.maxOrder
    ) {
      return; // a bad size is EINVAL_SIZE first, as on every cache
    }
    if (h[PREP_HANDLE] !== this.#handle || h[PREP_SEQ] !== h[SEQ]) {
      throw new PageFragError(
        "ESTATE",
        h[PREP_HANDLE] === 0 || h[PREP_HANDLE] === this.#handle
          ? `${what}(): the cache changed since this handle's prepare() (another handle allocated): prepare again, or run both inside locked()`
          : `${what}(): the pending prepare() belongs to another handle of this shared cache`,
      );
    }
  }

  /**
   * Run `fn` with the cache's lock held (`local_lock_irqsave` ...
   * `local_unlock_irqrestore`): no other worker uses the cache meanwhile, so
   * a `prepare` / `commit` sequence inside is safe. Calls on this cache inside
   * `fn` are re-entrant, through this handle or another handle of the same
   * cache in this thread. Keep `fn` short and synchronous.
   *
   * @example
   * ```ts
   * import { createNetdevCache } from "@pagefrag/pagefrag";
   *
   * const netdev = createNetdevCache();
   * const addr = netdev.locked(() => {
   *   const p = netdev.prepare(64)!;
   *   return netdev.commit(Math.min(p.size, 200));
   * });
   * netdev.free(addr);
   * ```
   */
  locked<T>(fn: () => T): T {
    this.#enter();
    try {
      return fn();
    } finally {
      this.#exit();
    }
  }

  /**
   * `allocHandle` under the lock (`alloc` and `allocAlign` go through here).
   *
   * @example
   * ```ts
   * import { createNetdevCache } from "@pagefrag/pagefrag";
   *
   * const netdev = createNetdevCache();
   * netdev.free(netdev.allocHandle(256)!);
   * ```
   */
  override allocHandle(size: number, opts?: AllocOptions): number | null {
    const h = this.#h;
    if (h === undefined) return super.allocHandle(size, opts);
    this.#enter();
    try {
      const addr = super.allocHandle(size, opts);
      h[SEQ]++;
      if (addr !== null) h[LAST_HANDLE] = this.#handle;
      return addr;
    } finally {
      // SharedLock.exit() inlined: between the carve and the return to the
      // caller there is no call, so a terminate() (which lands only at calls
      // and loop back-edges) never takes a fragment away undelivered.
      if (--h[LOCK_DEPTH] <= 0) {
        h[LOCK_DEPTH] = 0;
        Atomics.store(h, LOCK_HOLDER, 0);
        if (Atomics.load(h, LOCK_SLEEPERS) !== 0) {
          Atomics.notify(h, LOCK_HOLDER, 1);
        }
      }
    }
  }

  /**
   * `prepare` under the lock. The prepare belongs to this handle: a
   * `commit` through another handle, or after another call changed the
   * cache, is `ESTATE`.
   *
   * @example
   * ```ts
   * import { createNetdevCache } from "@pagefrag/pagefrag";
   *
   * const netdev = createNetdevCache();
   * netdev.free(netdev.commit(netdev.prepare(32)!.size));
   * ```
   */
  override prepare(
    minSize: number,
    opts?: AllocOptions,
  ): PreparedFragment | null {
    this.#enter();
    try {
      const p = super.prepare(minSize, opts);
      this.#changed();
      this.#own(p);
      return p;
    } finally {
      this.#exit();
    }
  }

  /** Record that the pending prepare (if any) is this handle's. */
  #own(p: PreparedFragment | null): void {
    const h = this.#h;
    if (h === undefined) return;
    h[PREP_HANDLE] = p === null ? 0 : this.#handle;
    h[PREP_SEQ] = h[SEQ];
  }

  /**
   * `probe` under the lock (the probe belongs to this handle, as a prepare).
   *
   * @example
   * ```ts
   * import { createNetdevCache } from "@pagefrag/pagefrag";
   *
   * if (createNetdevCache().probe(1) !== null) throw new Error("no page yet");
   * ```
   */
  override probe(
    minSize: number,
    opts?: { align?: number },
  ): PreparedFragment | null {
    this.#enter();
    try {
      const p = super.probe(minSize, opts);
      this.#own(p);
      return p;
    } finally {
      this.#exit();
    }
  }

  /**
   * `commit` under the lock: only of this handle's prepare, with no other
   * call on the cache since (else `ESTATE`, nothing changed).
   *
   * @example
   * ```ts
   * import { createNetdevCache } from "@pagefrag/pagefrag";
   *
   * const netdev = createNetdevCache();
   * netdev.prepare(16);
   * netdev.free(netdev.commit(16));
   * ```
   */
  override commit(size: number): number {
    const h = this.#h;
    if (h === undefined) return super.commit(size);
    this.#enter();
    try {
      this.#checkPrepare("commit", size);
      const addr = super.commit(size);
      h[SEQ]++;
      h[PREP_HANDLE] = 0;
      h[LAST_HANDLE] = this.#handle;
      return addr;
    } finally {
      // Inlined unlock, as in allocHandle: no call between the commit and
      // the return, so a terminate() never takes the fragment away.
      if (--h[LOCK_DEPTH] <= 0) {
        h[LOCK_DEPTH] = 0;
        Atomics.store(h, LOCK_HOLDER, 0);
        if (Atomics.load(h, LOCK_SLEEPERS) !== 0) {
          Atomics.notify(h, LOCK_HOLDER, 1);
        }
      }
    }
  }

  /**
   * `commitNoref` under the lock, with the same ownership rule as `commit`.
   *
   * @example
   * ```ts
   * import { createNetdevCache } from "@pagefrag/pagefrag";
   *
   * const netdev = createNetdevCache();
   * netdev.prepare(8);
   * const a = netdev.commit(8);
   * netdev.prepare(8);
   * netdev.commitNoref(8);
   * netdev.free(a);
   * ```
   */
  override commitNoref(size: number): void {
    this.#enter();
    try {
      this.#checkPrepare("commitNoref", size);
      super.commitNoref(size);
      this.#changed();
      if (this.#h !== undefined) this.#h[PREP_HANDLE] = 0;
    } finally {
      this.#exit();
    }
  }

  /**
   * `abort` under the lock: only of this handle's latest fragment, when it
   * is the cache's latest (else `ESTATE`).
   *
   * @example
   * ```ts
   * import { createNetdevCache } from "@pagefrag/pagefrag";
   *
   * const netdev = createNetdevCache();
   * netdev.abort(netdev.allocHandle(10)!);
   * ```
   */
  override abort(fragment: Uint8Array | number): void {
    this.#enter();
    try {
      const h = this.#h;
      if (h !== undefined && h[LAST_HANDLE] !== this.#handle) {
        throw new PageFragError(
          "ESTATE",
          `abort(): ${
            typeof fragment === "number" ? fragment : "the fragment"
          } is not this handle's latest fragment of the shared cache`,
        );
      }
      super.abort(fragment);
      this.#changed();
      if (h !== undefined) h[LAST_HANDLE] = 0;
    } finally {
      this.#exit();
    }
  }

  /**
   * `drain` under the lock.
   *
   * @example
   * ```ts
   * import { createNetdevCache } from "@pagefrag/pagefrag";
   *
   * const netdev = createNetdevCache();
   * netdev.free(netdev.allocHandle(10)!);
   * netdev.drain();
   * if (netdev.backend.stats().bytesInUse !== 0) throw new Error();
   * ```
   */
  override drain(): void {
    this.#enter();
    try {
      super.drain();
      this.#changed();
    } finally {
      this.#exit();
    }
  }

  /**
   * Recover the shared cache from thread `id`, known to be dead (its
   * worker's `exit` event, or an `ETIMEDOUT` naming it after you learned it
   * exited): if it died holding the cache's lock, the lock is taken over
   * and the cache drained (its page goes back once its live fragments are
   * freed; the next allocation refills), any prepare is dropped, and the
   * lock released; then the backend recovers the rest (`backend.recover`,
   * for an arena backend). Returns whether the lock was taken over.
   * `EINVAL_OPTION` for a cache with private state.
   *
   * @example
   * ```ts
   * import { createNetdevCache } from "@pagefrag/pagefrag";
   * import assert from "node:assert/strict";
   *
   * const nd = createNetdevCache({ backend: "shared" });
   * assert.equal(nd.recover(42), false, "thread 42 held nothing");
   * ```
   */
  recover(id: number): boolean {
    const lock = this.#lock;
    const h = this.#h;
    if (lock === undefined || h === undefined) {
      throw new PageFragError(
        "EINVAL_OPTION",
        "recover(): this netdev cache keeps its state private: there is nothing to recover",
      );
    }
    if (
      typeof id !== "number" || (id | 0) !== id || id < 1 || id === lock.self
    ) {
      throw new PageFragError(
        "EINVAL_OPTION",
        `recover(): ${show(id)} is not the id of another thread`,
      );
    }
    const backend = this.backend as Attachments;
    // Take the lock word away from the dead id first, then let the backend
    // recover the arena (its page lock, which the drain below may need, and
    // the id), then repair the cache under the lock.
    const tookOver = lock.steal(id);
    try {
      if (
        typeof backend.recover === "function" && id !== backend.attachmentId
      ) {
        backend.recover(id);
      }
      if (tookOver) {
        h[PREP_HANDLE] = 0;
        h[LAST_HANDLE] = 0;
        super.drain(); // whatever the dead thread left, the page is let go
        h[SEQ]++;
      }
    } finally {
      if (tookOver) lock.exit();
    }
    return tookOver;
  }

  /**
   * `using netdev = createNetdevCache()`: {@linkcode PageFragCache.destroy}
   * under this cache's lock. On a cache shared between workers
   * (`sharedState`), that retires the one cache for every worker using it;
   * outstanding fragments stay valid everywhere.
   *
   * @example
   * ```ts
   * import { createNetdevCache } from "@pagefrag/pagefrag";
   * import assert from "node:assert/strict";
   *
   * const netdev = createNetdevCache();
   * {
   *   using scoped = netdev;
   *   scoped.free(scoped.alloc(64)!);
   * }
   * assert.ok(netdev.isDestroyed(), "disposed at the end of the block");
   * ```
   */
  override [Symbol.dispose](): void {
    this.destroy();
  }
}

/** Tie a shared state to the arena `uid` on first use; refuse another arena's. */
function claimState(h: Int32Array, uid: unknown): void {
  if (typeof uid !== "number") return;
  const lo = uid % 2 ** 32 | 0;
  const hi = Math.floor(uid / 2 ** 32);
  if (
    Atomics.compareExchange(h, UID_LO, 0, lo) === 0 &&
    Atomics.compareExchange(h, UID_HI, 0, hi) === 0
  ) {
    return;
  }
  if (Atomics.load(h, UID_LO) !== lo || Atomics.load(h, UID_HI) !== hi) {
    throw new PageFragError(
      "EINVAL_OPTION",
      "netdev shared state belongs to a cache over another arena (parts of two descriptors?)",
    );
  }
}

/** A thread id for a state whose backend has no attachments. */
function fallbackId(shared: SharedArrayBuffer, h: Int32Array): number {
  let id = fallbackIds.get(shared);
  if (id === undefined) {
    id = Atomics.add(h, NEXT_THREAD, 1) + 1;
    fallbackIds.set(shared, id);
  }
  return id;
}
