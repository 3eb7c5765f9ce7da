/**
 * The netdev flavour (`netdev_alloc_cache`): a cache callable from any
 * context. The kernel masks interrupts or takes a local lock around each
 * allocation; here every allocating call takes a short `Atomics` lock when
 * the cache's state lives in shared memory (so several workers may use one
 * cache at once), and every call is safe against re-entry from a policy or
 * backend callback within the worker.
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
import type {
  AlignmentPolicy,
  PfmemallocPolicy,
  RefillPolicy,
} from "../core/policy.ts";

/** Lock word (8 bytes with padding), then the cache state. */
const LOCK_BYTES = 8;
/** Spins before sleeping on the lock: the critical section is tens of ns. */
const SPINS = 100;

/**
 * A page fragment cache usable from any context. With private state (heap
 * backend) it is a plain cache made safe against re-entry; with shared state
 * (`SharedArrayBuffer`, on a shared or wasm backend) one cache may be used by
 * several workers at once, each call serialised by an `Atomics` lock.
 *
 * `prepare` and `commit` are separate calls, so on a cache shared between
 * workers another worker may allocate between them (`commit` then fails with
 * `ESTATE`); run such sequences inside `locked(fn)`.
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
  static readonly stateBytes: number = LOCK_BYTES + CACHE_STATE_BYTES;

  readonly #lock: Int32Array | undefined;
  readonly #shared: SharedArrayBuffer | undefined;
  /** How deep this worker is inside the cache (re-entry holds the lock already). */
  #depth = 0;

  /**
   * Assemble a netdev cache (the DI root calls this). Pass `shared` (at least
   * `NetdevFragCache.stateBytes` bytes, zeroed on first use) to keep the state
   * in shared memory; every worker that builds a netdev cache over the same
   * `shared` buffer and the same backend arena uses the same cache.
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
      (!(shared instanceof SharedArrayBuffer) ||
        shared.byteLength < NetdevFragCache.stateBytes)
    ) {
      throw new PageFragError(
        "EINVAL_OPTION",
        `netdev shared state must be a SharedArrayBuffer of at least ${NetdevFragCache.stateBytes} bytes`,
      );
    }
    super(
      backend,
      alignment,
      refillPolicy,
      pfmemallocPolicy,
      shared === undefined ? undefined : createCacheState(shared, LOCK_BYTES),
    );
    this.#shared = shared;
    this.#lock = shared === undefined
      ? undefined
      : new Int32Array(shared, 0, 1);
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

  #enter(): void {
    if (this.#depth++ !== 0) return; // re-entry: this worker holds the lock
    const lock = this.#lock;
    if (lock !== undefined && Atomics.compareExchange(lock, 0, 0, 1) !== 0) {
      this.#contended(lock);
    }
  }

  /** The lock is taken: spin briefly, then sleep (a futex-style mutex). */
  #contended(lock: Int32Array): void {
    for (let i = 0; i < SPINS; i++) {
      if (Atomics.compareExchange(lock, 0, 0, 1) === 0) return;
    }
    // 2 = locked with sleepers; whoever unlocks from 2 wakes one.
    while (Atomics.exchange(lock, 0, 2) !== 0) Atomics.wait(lock, 0, 2, 10);
  }

  #exit(): void {
    if (--this.#depth !== 0) return;
    const lock = this.#lock;
    if (lock !== undefined && Atomics.sub(lock, 0, 1) !== 1) {
      Atomics.store(lock, 0, 0);
      Atomics.notify(lock, 0, 1);
    }
  }

  /**
   * Run `fn` with the cache's lock held (`local_lock_irqsave` ...
   * `local_unlock_irqrestore`): no other worker uses the cache meanwhile, so
   * a `prepare` / `commit` sequence inside is safe. Calls on this cache inside
   * `fn` are re-entrant. Keep `fn` short and synchronous.
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
    this.#enter();
    try {
      return super.allocHandle(size, opts);
    } finally {
      this.#exit();
    }
  }

  /**
   * `prepare` under the lock.
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
      return super.prepare(minSize, opts);
    } finally {
      this.#exit();
    }
  }

  /**
   * `probe` under the lock.
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
      return super.probe(minSize, opts);
    } finally {
      this.#exit();
    }
  }

  /**
   * `commit` under the lock.
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
    this.#enter();
    try {
      return super.commit(size);
    } finally {
      this.#exit();
    }
  }

  /**
   * `commitNoref` under the lock.
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
      super.commitNoref(size);
    } finally {
      this.#exit();
    }
  }

  /**
   * `abort` under the lock.
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
      super.abort(fragment);
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
    } finally {
      this.#exit();
    }
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
   *
   * const netdev = createNetdevCache();
   * {
   *   using scoped = netdev;
   *   scoped.free(scoped.alloc(64)!);
   * }
   * if (!netdev.isDestroyed()) throw new Error("not disposed");
   * ```
   */
  override [Symbol.dispose](): void {
    this.destroy();
  }
}
