/**
 * {@linkcode ArenaBackend}: the page allocator over one contiguous arena of
 * memory that both the shared backend (`backends/shared.ts`, a
 * `SharedArrayBuffer`) and the wasm backend (`backends/wasm.ts`, a
 * `WebAssembly.Memory`) use, with what it takes to survive a thread that
 * dies: attachments, cache states kept in shared memory, and recovery. The
 * pages themselves are `backends/arena_pages.ts`.
 *
 * **Threads and faults.** Each thread that uses the arena (the creator, and
 * every worker that attaches) holds an *attachment*: a small id
 * ({@linkcode ArenaBackend.attachmentId}) and a record in the metadata. The
 * lock records its holder's id and bounds every wait (`ETIMEDOUT` /
 * `EOWNERDEAD` name the holder). When a thread dies, whoever learns of it
 * (a worker's `exit` event, an `ETIMEDOUT` naming the id) calls
 * {@linkcode ArenaBackend.recover}: the lock is taken over, the free lists
 * are rebuilt from the page table, the caches the dead thread made over
 * the arena ({@linkcode ArenaBackend.cacheState}) are drained, and the page
 * it was taking or returning goes back. docs/hardening.md has the table.
 *
 * @module
 */
import { PageFragError } from "../core/errors.ts";
import { show } from "../core/format.ts";
import {
  type CacheState,
  createCacheState,
  PageFragCache,
} from "../core/cache.ts";
import {
  A_PENDING,
  A_RELEASING,
  A_STATE,
  ALIVE,
  ArenaMeta,
  DEAD,
  FREE_ID,
  MAX_CACHES,
  ownProps,
  TRANSIT_MASK,
} from "./arena_meta.ts";
import { ArenaPages, internalsOf, leaveThread } from "./arena_pages.ts";
import { checkLockTimeout, DEFAULT_LOCK_TIMEOUT_MS } from "../core/lock.ts";
import { disposedError } from "./disposed.ts";

function badOption(message: string): PageFragError {
  return new PageFragError("EINVAL_OPTION", message);
}

/** A policy set that only drains (recovery of a dead thread's caches). */
const DRAIN_ONLY = {
  align: { name: "recover", align: 1 },
  refill: { name: "recover", plan: () => [] },
  pfmemalloc: {
    name: "recover",
    mayUseReserve: () => false,
    mayRecycle: () => false,
  },
} as const;

/**
 * Options of `SharedBackend.attach` and `WasmBackend.attach`:
 * per-attachment settings.
 *
 * @example
 * ```ts
 * import { type AttachOptions, SharedBackend } from "@pagefrag/pagefrag/backends/shared";
 *
 * const opts: AttachOptions = { lockTimeoutMs: 500 };
 * const away = SharedBackend.attach(new SharedBackend().share(), opts);
 * if (away.lockTimeoutMs !== 500) throw new Error();
 * ```
 */
export interface AttachOptions {
  /** Bound on lock waits for this attachment (default: the arena's). */
  lockTimeoutMs?: number;
}

/** The lock timeout of attach options (own property only), checked (internal). */
export function attachTimeout(
  o: AttachOptions | undefined,
): number | undefined {
  if (o === undefined) return undefined;
  if (o === null || typeof o !== "object") {
    throw badOption(`attach options must be an object, got ${show(o)}`);
  }
  const own = ownProps(o);
  for (const key of Object.keys(own)) {
    if (key !== "lockTimeoutMs") {
      throw badOption(
        `unknown attach option ${show(key)} (known: lockTimeoutMs)`,
      );
    }
  }
  return own.lockTimeoutMs === undefined
    ? undefined
    : checkLockTimeout(own.lockTimeoutMs, DEFAULT_LOCK_TIMEOUT_MS);
}

/**
 * Whether `x` looks like a descriptor of `kind` (own `kind` property;
 * everything else is checked by attach). Internal.
 */
export function isDescriptorOf(x: unknown, kind: string): boolean {
  return typeof x === "object" && x !== null &&
    Object.hasOwn(x, "kind") && (x as { kind?: unknown }).kind === kind;
}

/**
 * What {@linkcode ArenaBackend.recover} did.
 *
 * @example
 * ```ts
 * import type { RecoveryReport } from "@pagefrag/pagefrag/backends/shared";
 *
 * const r: RecoveryReport = { recovered: false, lockTakenOver: false, pagesReleased: 0, cachesDrained: 0 };
 * if (r.recovered) throw new Error();
 * ```
 */
export interface RecoveryReport {
  /** False when the id was not attached (already recovered or detached). */
  readonly recovered: boolean;
  /** The dead thread held the arena's lock: it was taken over and the free lists rebuilt. */
  readonly lockTakenOver: boolean;
  /** Pages returned because the dead thread was taking or returning them. */
  readonly pagesReleased: number;
  /**
   * Its caches (made with {@linkcode ArenaBackend.cacheState}) that held a
   * page and were drained: each page went back, or goes back with its last
   * live fragment.
   */
  readonly cachesDrained: number;
}

/**
 * The arena page allocator ({@linkcode ArenaPages}) plus attachments and
 * recovery: the base class of `SharedBackend` and `WasmBackend`.
 *
 * @example
 * ```ts
 * import { ArenaBackend } from "@pagefrag/pagefrag/backends/shared";
 * import { SharedBackend } from "@pagefrag/pagefrag";
 * import assert from "node:assert/strict";
 *
 * const backend: ArenaBackend = new SharedBackend({ maxBytes: 1 << 20 });
 * assert.ok(backend.attachmentId >= 1, "this thread is attached");
 * ```
 */
export abstract class ArenaBackend<B extends ArrayBufferLike = ArrayBufferLike>
  extends ArenaPages<B> {
  /**
   * The fields every arena descriptor carries (`share()` adds its kind and
   * its memory): written once for the shared and the wasm backend.
   */
  protected describe(): {
    version: 1;
    uid: number;
    meta: SharedArrayBuffer;
    pageSize: number;
    maxOrder: number;
    maxBytes: number;
    reserveBytes: number;
  } {
    return {
      version: 1,
      uid: this.uid,
      meta: this.metadata,
      pageSize: this.pageSize,
      maxOrder: this.maxOrder,
      maxBytes: this.maxBytes,
      reserveBytes: this.reserveBytes,
    };
  }

  /**
   * Check the part of an attach descriptor every arena has (version,
   * metadata, geometry, identity) and the attach options; what is left to
   * the subclass is its memory. Throws `EINVAL_OPTION`.
   */
  protected static checkDescriptor(
    d: {
      version: unknown;
      uid: unknown;
      meta: unknown;
      pageSize: unknown;
      maxOrder: unknown;
      maxBytes: unknown;
      reserveBytes: unknown;
    },
    attach: AttachOptions | undefined,
  ): {
    firstSlot: number;
    slotLimit: number;
    uid: number;
    stamped: boolean;
    lockTimeoutMs: number | undefined;
  } {
    if (d.version !== 1) {
      throw badOption(
        `attach(): descriptor version ${show(d.version)} is not supported (1)`,
      );
    }
    const lockTimeoutMs = attachTimeout(attach);
    return { ...ArenaMeta.check(d.meta, d), lockTimeoutMs };
  }

  /** The page half's internals (metadata, lock, this thread's id). */
  get #x(): ReturnType<typeof internalsOf> {
    return internalsOf(this);
  }

  static #records = new FinalizationRegistry<
    { backend: ArenaBackend; record: number }
  >(({ backend, record }) => backend.#dropRecord(record));

  /**
   * This thread's attachment id in the arena (a positive integer, never
   * reused for another thread; at most 128 threads are attached at once):
   * what lock errors
   * name as the holder, and what the owner passes to
   * {@linkcode ArenaBackend.recover} once this thread is gone. Every
   * backend object of one thread over one arena has the same id. A worker
   * should report it to the owner (e.g. in its first message).
   *
   * @example
   * ```ts
   * import { SharedBackend } from "@pagefrag/pagefrag";
   * import assert from "node:assert/strict";
   *
   * const home = new SharedBackend();
   * const again = SharedBackend.attach(home.share());
   * assert.equal(again.attachmentId, home.attachmentId, "one id per thread");
   * ```
   */
  get attachmentId(): number {
    return this.#x.id;
  }

  /**
   * The state of attachment `id`: `"free"` (no thread holds it), `"alive"`,
   * or `"dead"` (declared dead; recovery under way).
   *
   * @example
   * ```ts
   * import { SharedBackend } from "@pagefrag/pagefrag";
   * import assert from "node:assert/strict";
   *
   * const b = new SharedBackend();
   * assert.equal(b.attachmentState(b.attachmentId), "alive");
   * assert.equal(b.attachmentState(99), "free");
   * ```
   */
  attachmentState(id: number): "free" | "alive" | "dead" {
    if (
      !this.#x.m.isCurrent(id)
    ) {
      return "free";
    }
    const s = Atomics.load(
      this.#x.m.meta,
      this.#x.m.attachIndex(id, A_STATE),
    );
    return s === ALIVE ? "alive" : s === DEAD ? "dead" : "free";
  }

  /**
   * A cache state in the arena's shared metadata, for a cache made over
   * this backend (`new PageFragCache(backend, ..., backend.cacheState())`):
   * when this thread dies, {@linkcode ArenaBackend.recover} can then drain
   * the cache and return its page. `undefined` when all 64 records are in
   * use (the cache then keeps private state: its page is not recoverable).
   * The record goes back when the cache is garbage-collected (its page is
   * drained then) or when this thread detaches.
   *
   * @example
   * ```ts
   * import { kernelPfmemalloc, kernelRefill, noAlignment, PageFragCache, SharedBackend } from "@pagefrag/pagefrag";
   * import assert from "node:assert/strict";
   *
   * const backend = new SharedBackend();
   * const cache = new PageFragCache(backend, noAlignment, kernelRefill, kernelPfmemalloc, backend.cacheState());
   * cache.free(cache.allocHandle(100)!);
   * assert.equal(backend.stats().pagesInUse, 1, "the cache holds its page");
   * ```
   */
  cacheState(): CacheState | undefined {
    const m = this.#x.m;
    for (let r = 0; r < MAX_CACHES; r++) {
      const at = m.cacheOwnerIndex(r);
      if (
        Atomics.compareExchange(this.#x.m.meta, at, 0, this.#x.id) === 0
      ) {
        const state = createCacheState(m.buffer, m.cacheStateByte(r));
        state.words.fill(0);
        state.counters.fill(0);
        // Keyed on the words (the cache keeps them, not the state object):
        // the record goes back once the cache that uses it is gone.
        ArenaBackend.#records.register(state.words, {
          backend: this,
          record: r,
        });
        return state;
      }
    }
    return undefined;
  }

  /** Drain cache record `r` of this thread and free it (its cache is gone). */
  #dropRecord(r: number): void {
    const m = this.#x.m;
    if (
      Atomics.load(this.#x.m.meta, m.cacheOwnerIndex(r)) !== this.#x.id
    ) return;
    this.#drainRecord(r);
  }

  /** Drain record `r` (whoever owned it is gone) and free it; true if it held a page. */
  #drainRecord(r: number): boolean {
    const m = this.#x.m;
    const state = createCacheState(m.buffer, m.cacheStateByte(r));
    const cache = new PageFragCache(
      this,
      DRAIN_ONLY.align,
      DRAIN_ONLY.refill,
      DRAIN_ONLY.pfmemalloc,
      state,
    );
    const before = cache.stats().drains;
    try {
      cache.drain();
    } catch {
      // A page the record names is not live (the thread died between two
      // writes of its cache state): nothing to give back.
    }
    const drained = cache.stats().drains !== before;
    state.words.fill(0);
    Atomics.store(this.#x.m.meta, m.cacheOwnerIndex(r), 0);
    return drained;
  }

  /**
   * Declare attachment `id` dead and recover what it left: take over the
   * arena's lock if it died holding it (and rebuild the free lists and
   * gauges from the page table), return the page it was taking or
   * returning, drain the caches it made with
   * {@linkcode ArenaBackend.cacheState}, and free the id. Survivors then go
   * on with full capacity minus the fragments still live elsewhere.
   *
   * Call it only for a thread that is really gone (its worker's `exit`
   * event, or a `process.exit()` you know of): recovering a live thread
   * corrupts the arena. A second call for the same id does nothing.
   * `EINVAL_OPTION` for this thread's own id or one out of range.
   *
   * @example
   * ```ts
   * import { SharedBackend } from "@pagefrag/pagefrag";
   * import assert from "node:assert/strict";
   *
   * const home = new SharedBackend();
   * // A worker attached, reported its id, took a page and died (simulated):
   * const report = home.recover(home.attachmentId + 1);
   * assert.equal(report.recovered, false, "that id was never attached");
   * ```
   */
  recover(id: number): RecoveryReport {
    if (
      typeof id !== "number" || (id | 0) !== id || id < 1 || id === this.#x.id
    ) {
      throw new PageFragError(
        "EINVAL_OPTION",
        `recover(): ${
          show(id)
        } is not the attachment id of another thread (a positive integer, not ${this.#x.id})`,
      );
    }
    const m = this.#x.m;
    const meta = this.#x.m.meta;
    const at = m.attachIndex(id, A_STATE);
    if (!m.isCurrent(id) || Atomics.load(meta, at) === FREE_ID) {
      return {
        recovered: false,
        lockTakenOver: false,
        pagesReleased: 0,
        cachesDrained: 0,
      };
    }
    Atomics.store(meta, at, DEAD);
    // 1. The lock: taken over, and the free lists rebuilt, if it died in it.
    const lockTakenOver = this.#x.lock.steal(id);
    if (lockTakenOver) {
      try {
        m.rebuild();
      } finally {
        this.#x.lock.exit();
      }
    }
    // 2. Its caches: drained (a page goes back now or with its last fragment).
    let cachesDrained = 0;
    for (let r = 0; r < MAX_CACHES; r++) {
      if (Atomics.load(meta, m.cacheOwnerIndex(r)) !== id) continue;
      if (this.#drainRecord(r)) cachesDrained++;
    }
    // 3. The page it had in transit: taken (or being recycled) and not yet
    // in a cache, so no fragment was carved from it (one reference from
    // allocPage, or the whole bias a cache adds); or brought to zero
    // references and not yet returned.
    let pagesReleased = 0;
    const biasMax = (this.pageSize << this.maxOrder) + 1;
    this.#x.enter();
    try {
      const pending = meta[m.attachIndex(id, A_PENDING)];
      const inTransit = m.isLiveHead(pending) &&
        (m.info[pending] & TRANSIT_MASK) === m.transitMark(id);
      const refs = inTransit ? Atomics.load(this.#x.refs, pending) : -1;
      if (refs === 0 || refs === 1 || refs === biasMax) {
        Atomics.store(this.#x.refs, pending, 0);
        m.releaseLocked(pending);
        pagesReleased++;
      }
      const releasing = meta[m.attachIndex(id, A_RELEASING)];
      if (
        m.isLiveHead(releasing) && Atomics.load(this.#x.refs, releasing) === 0
      ) {
        m.releaseLocked(releasing);
        pagesReleased++;
      }
      meta[m.attachIndex(id, A_PENDING)] = 0;
      meta[m.attachIndex(id, A_RELEASING)] = 0;
    } finally {
      this.#x.lock.exit();
    }
    Atomics.store(meta, at, FREE_ID);
    this.#x.signal();
    return { recovered: true, lockTakenOver, pagesReleased, cachesDrained };
  }

  /**
   * Leave the arena: this backend object is done (every later call that
   * needs the lock is `ESTATE`). When it was this thread's last backend
   * object over the arena, the caches it made with
   * {@linkcode ArenaBackend.cacheState} are drained and the attachment id
   * is freed for another thread. Drain your caches first; fragments stay
   * valid and may be freed from any other worker.
   *
   * @example
   * ```ts
   * import { SharedBackend } from "@pagefrag/pagefrag";
   * import assert from "node:assert/strict";
   *
   * const home = new SharedBackend();
   * const away = SharedBackend.attach(home.share());
   * const page = away.allocPage(0, false);
   * away.detach();
   * home.free(page);
   * assert.equal(home.attachmentState(home.attachmentId), "alive", "home still attached");
   * ```
   */
  detach(): void {
    if (this.#x.detached) return;
    const m = this.#x.m;
    if (!leaveThread(m.uid, this.#x.id)) {
      this.#x.detached = true;
      return;
    }
    for (let r = 0; r < MAX_CACHES; r++) {
      if (
        Atomics.load(this.#x.m.meta, m.cacheOwnerIndex(r)) ===
          this.#x.id
      ) {
        this.#drainRecord(r);
      }
    }
    this.#x.detached = true;
    Atomics.store(
      this.#x.m.meta,
      m.attachIndex(this.#x.id, A_STATE),
      FREE_ID,
    );
  }

  #disposed = false;

  /**
   * Refuse new pages once disposed (see `[Symbol.dispose]`); otherwise the
   * arena's `allocPage`.
   *
   * @example
   * ```ts
   * import { SharedBackend } from "@pagefrag/pagefrag";
   * import assert from "node:assert/strict";
   *
   * const backend = new SharedBackend({ maxBytes: 1 << 20 });
   * const page = backend.allocPage(0, false);
   * assert.ok(page > 0, "a page");
   * backend.free(page);
   * ```
   */
  override allocPage(order: number, reserve: boolean): number {
    if (this.#disposed) throw disposedError();
    return super.allocPage(order, reserve);
  }

  /**
   * `using backend = new SharedBackend()`: retire this worker's handle on
   * the arena. Later `allocPage` calls (a cache's refill) throw `ESTATE`;
   * `free`, `view`, `addressOf` and `stats` keep working, so fragments still
   * in flight go back as usual. Handles attached in other workers, and the
   * arena itself, are untouched (to leave the arena for good, `detach()`).
   * Disposing twice is harmless.
   *
   * @example
   * ```ts
   * import { SharedBackend } from "@pagefrag/pagefrag";
   * import assert from "node:assert/strict";
   *
   * const backend = new SharedBackend({ maxBytes: 1 << 20 });
   * const page = backend.allocPage(0, false);
   * backend[Symbol.dispose]();
   * backend.free(page); // still fine
   * assert.throws(() => backend.allocPage(0, false), { code: "ESTATE" });
   * ```
   */
  [Symbol.dispose](): void {
    this.#disposed = true;
  }
}
