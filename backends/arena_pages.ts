/**
 * The page-allocator half of the arena backends ({@linkcode ArenaPages}): the
 * `MemoryBackend` methods over one arena, a binary buddy allocator whose
 * metadata is in shared memory (`arena_meta.ts`), under one `SharedLock`;
 * `arena.ts` adds attachments and recovery, the backends supply the memory.
 *
 * **Addresses** are byte offsets in the arena in order-0 *slots*; slot 0 is
 * never handed out (no address is 0), the arena stays below 1 GiB (addresses
 * are small integers), and a page of order k starts at a multiple of 2^k.
 *
 * @module
 */
import {
  type BackendStats,
  type MemoryBackend,
  PINNED_REFS,
} from "../core/backend.ts";
import { PageFragError } from "../core/errors.ts";
import { claimBuffer } from "../core/owner.ts";
import { show } from "../core/format.ts";
import {
  STAMP_VIEWS,
  stampedAddress,
  stampedBuffer,
  stampView,
} from "./view_stamp.ts";
import {
  A_PENDING,
  A_RELEASING,
  A_STATE,
  ALIVE,
  ArenaMeta,
  DEAD,
  FREE_ID,
  IN_USE,
  LIVE,
  LOCK,
  MAX_ATTACH,
  MAX_BYTES,
  ORDER_MASK,
  PAGE_FAILURES,
  PAGES_ALLOCATED,
  PAGES_FREED,
  PAGES_IN_USE,
  PEAK,
  PFMEMALLOC,
  RELEASES,
  RESERVE_BYTES,
  RESERVE_IN_USE,
  TRANSIT_MASK,
} from "./arena_meta.ts";
import { SharedLock } from "../core/lock.ts";
import { ArenaViews } from "./arena_views.ts";

/** Buffers an arena made views of -> its metadata (a map: wasm buffers are frozen). */
const arenaOf = new WeakMap<ArrayBufferLike, SharedArrayBuffer>();

/**
 * This thread's attachment to each arena it uses, by the arena's identity.
 * Module state is per thread (per worker), so this is what makes the id a
 * *thread* id: every backend object of one thread over one arena (attach
 * twice, a netdev cache attached through a second handle) shares it, and
 * the lock knows re-entry from a wait on someone else.
 */
const threadIds = new Map<number, { id: number; users: number }>();

/**
 * One backend object of this thread leaves arena `uid`: true when it was
 * the thread's last one (the attachment `id` is then the caller's to free).
 * Internal, for `ArenaBackend.detach`.
 */
export function leaveThread(uid: number, id: number): boolean {
  const known = threadIds.get(uid);
  if (known === undefined || known.id !== id || --known.users > 0) return false;
  threadIds.delete(uid);
  return true;
}

/**
 * What `ArenaBackend` (backends/arena.ts: attachments and recovery) needs of
 * the page half. Internal: kept out of the class's public and protected
 * surface, handed over through a module-level map.
 */
export interface ArenaInternals {
  readonly m: ArenaMeta;
  readonly lock: SharedLock;
  readonly id: number;
  readonly refs: Int32Array;
  /** Set by `detach()`: every later locked call is `ESTATE`. */
  detached: boolean;
  /** Take the arena's lock. */
  enter(): void;
  /** Count a release on the release signal and wake its waiters. */
  signal(): void;
}

const internals = new WeakMap<ArenaPages, ArenaInternals>();

/** The internals of `b` (internal, for backends/arena.ts). */
export function internalsOf(b: ArenaPages): ArenaInternals {
  return internals.get(b)!;
}

function foreign(what: string, addr: unknown): PageFragError {
  return new PageFragError(
    "EFOREIGN",
    `${what}: address ${show(addr)} was not handed out by this backend`,
  );
}

/**
 * A page allocator over one contiguous arena of memory: the logic shared by
 * `SharedBackend` (a `SharedArrayBuffer`) and `WasmBackend` (a
 * `WebAssembly.Memory`). Subclasses supply the arena: how it grows and which
 * buffer object views are made over.
 *
 * Pages come from a binary buddy allocator: free blocks of each order sit in
 * a list; a request takes the smallest free block that fits and splits it;
 * a released page merges with its free buddy, order by order, up to
 * `maxOrder`. When no free block fits, the next naturally aligned block above
 * the high-water mark is taken (growing the arena if needed), and the gap
 * below it goes to the free lists.
 *
 * @example
 * ```ts
 * import { ArenaPages } from "@pagefrag/pagefrag/backends/shared";
 * import { SharedBackend } from "@pagefrag/pagefrag";
 * import assert from "node:assert/strict";
 *
 * const backend: ArenaPages = new SharedBackend({ maxBytes: 1 << 20 });
 * const page = backend.allocPage(3, false);
 * assert.equal(page % 32768, 0, "naturally aligned");
 * backend.free(page);
 * ```
 */
export abstract class ArenaPages<B extends ArrayBufferLike = ArrayBufferLike>
  implements MemoryBackend<B> {
  /** Bytes in an order-0 page. */
  readonly pageSize: number;
  /** Highest page order. */
  readonly maxOrder: number;
  /** Budget in bytes for non-reserve pages (`Infinity` when unlimited). */
  readonly maxBytes: number;
  /** Emergency reserve in bytes. */
  readonly reserveBytes: number;
  /**
   * A word counting page releases (`MemoryBackend.releaseSignal`): in the
   * arena's shared metadata, so every worker attached sees the same word;
   * incremented with `Atomics.add` and woken with `Atomics.notify` on every
   * page release and every recovery.
   */
  readonly releaseSignal: Int32Array;
  /** The bound on every wait for the arena's lock, in milliseconds. */
  readonly lockTimeoutMs: number;

  readonly #m: ArenaMeta;
  readonly #meta: Int32Array;
  readonly #counters: Float64Array;
  // Hot-path copies of the metadata views.
  readonly #heads: Int32Array;
  readonly #refs: Int32Array;
  readonly #info: Int32Array;
  readonly #shift: number;
  readonly #lock: SharedLock;
  readonly #id: number;
  readonly #pending: number;
  /** This thread's transit mark in info[slot] (arena_meta.ts TRANSIT_SHIFT). */
  readonly #transit: number;
  readonly #releasing: number;
  /** What `ArenaBackend` reaches through {@linkcode internalsOf}. */
  readonly #x: ArenaInternals;
  /** The buffer new views are made over (current as far as this worker knows). */
  #buffer: ArrayBufferLike;
  readonly #views = new ArenaViews();

  /**
   * Wrap an arena whose metadata was made by a subclass (here or in another
   * worker) and attach this thread to it. `buffer` is the memory views are
   * made over; `lockTimeoutMs` overrides the arena's default bound on lock
   * waits for this backend object.
   *
   * @example
   * ```ts
   * import { SharedBackend } from "@pagefrag/pagefrag";
   *
   * // Subclasses call it; users make a SharedBackend or a WasmBackend.
   * const backend = new SharedBackend();
   * if (backend.pageSize !== 4096) throw new Error();
   * ```
   */
  protected constructor(
    metadata: SharedArrayBuffer,
    buffer: ArrayBufferLike,
    lockTimeoutMs?: number,
  ) {
    const m = new ArenaMeta(metadata);
    this.#m = m;
    this.#meta = m.meta;
    this.#counters = m.counters;
    this.#heads = m.heads;
    this.#refs = m.refs;
    this.#info = m.info;
    this.#shift = m.shift;
    this.pageSize = m.pageSize;
    this.maxOrder = m.maxOrder;
    this.maxBytes = m.counters[MAX_BYTES];
    this.reserveBytes = m.counters[RESERVE_BYTES];
    this.releaseSignal = new Int32Array(metadata, RELEASES * 4, 1);
    this.lockTimeoutMs = lockTimeoutMs ?? m.timeoutMs;
    this.#id = ArenaPages.#attachThread(m);
    this.#pending = m.attachIndex(this.#id, A_PENDING);
    this.#transit = m.transitMark(this.#id);
    this.#releasing = m.attachIndex(this.#id, A_RELEASING);
    this.#lock = new SharedLock(m.meta, LOCK, this.#id, {
      what: "the arena's page lock",
      timeoutMs: this.lockTimeoutMs,
      reentrant: false,
      isDead: (id) =>
        m.isCurrent(id) &&
        Atomics.load(m.meta, m.attachIndex(id, A_STATE)) === DEAD,
    });
    this.#x = {
      m,
      lock: this.#lock,
      id: this.#id,
      refs: m.refs,
      detached: false,
      enter: () => this.#enter(),
      signal: () => this.#signal(),
    };
    internals.set(this, this.#x);
    this.#buffer = buffer;
    this.#claim(buffer);
  }

  /** This thread's id in the arena `m`: shared by every backend object of the thread. */
  static #attachThread(m: ArenaMeta): number {
    const known = threadIds.get(m.uid);
    if (
      known !== undefined && m.isCurrent(known.id) &&
      Atomics.load(m.meta, m.attachIndex(known.id, A_STATE)) === ALIVE
    ) {
      known.users++;
      return known.id;
    }
    for (let slot = 0; slot < MAX_ATTACH; slot++) {
      const at = m.attachIndex(slot + 1, A_STATE);
      if (Atomics.compareExchange(m.meta, at, FREE_ID, ALIVE) === FREE_ID) {
        const id = m.nextId(slot);
        m.meta[m.attachIndex(id, A_PENDING)] = 0;
        m.meta[m.attachIndex(id, A_RELEASING)] = 0;
        threadIds.set(m.uid, { id, users: 1 });
        return id;
      }
    }
    throw new PageFragError(
      "EINVAL_OPTION",
      `attach(): ${MAX_ATTACH} threads are attached to this arena already; detach() the ones that are done (or recover() the dead)`,
    );
  }

  // ------------------------------------------------------ for the subclasses

  /**
   * Make the arena at least `bytes` long, growing it if needed; false when
   * it cannot grow that far. Called under the arena's lock.
   */
  protected abstract growArena(bytes: number): boolean;

  /**
   * The buffer new views should be made over, at least `minBytes` long when
   * the memory is (the arena grew, possibly in another thread). Throws
   * `ESTATE` if the arena's memory is gone (an unshared memory grown
   * outside the backend).
   */
  protected abstract currentBuffer(minBytes: number): ArrayBufferLike;

  /** This arena's metadata (what `share()` hands to other workers). */
  protected get metadata(): SharedArrayBuffer {
    return this.#m.buffer;
  }

  /**
   * This arena's identity: a random number every descriptor of it carries
   * and attach checks, and that a shared netdev cache's state records.
   *
   * @example
   * ```ts
   * import { SharedBackend } from "@pagefrag/pagefrag";
   * import assert from "node:assert/strict";
   *
   * const b = new SharedBackend();
   * assert.equal(SharedBackend.attach(b.share()).uid, b.uid, "one arena, one identity");
   * ```
   */
  get uid(): number {
    return this.#m.uid;
  }

  /** Tag `buffer` so views of it are recognised by `addressOf` and `pageFragFree`. */
  #claim(buffer: ArrayBufferLike): void {
    arenaOf.set(buffer, this.#m.buffer);
    try {
      claimBuffer(buffer, this);
    } catch {
      // A frozen buffer (a wasm memory's) cannot carry the owner tag with
      // this version of core/owner.ts: pageFragFree cannot route its views.
    }
  }

  // ----------------------------------------------------- lock and signal

  /** Take the arena's lock (`ESTATE` once detached). */
  #enter(): void {
    if (this.#x.detached) {
      throw new PageFragError(
        "ESTATE",
        "this backend object was detached from its arena (detach()); attach again",
      );
    }
    this.#lock.enter();
  }

  /** Count a release on the release signal and wake its waiters. */
  #signal(): void {
    Atomics.add(this.releaseSignal, 0, 1);
    Atomics.notify(this.releaseSignal, 0);
  }

  // ------------------------------------------------------------------ pages

  /**
   * Allocate a page of `pageSize << order` bytes with one reference; 0 when
   * neither budget nor (if `reserve`) the reserve has room. A page is
   * naturally aligned; its bytes hold whatever was there before (zero for
   * memory never used).
   *
   * @example
   * ```ts
   * import { SharedBackend } from "@pagefrag/pagefrag";
   * import assert from "node:assert/strict";
   *
   * const backend = new SharedBackend({ maxBytes: 4096 });
   * const page = backend.allocPage(0, false);
   * assert.notEqual(page, 0);
   * assert.equal(backend.allocPage(0, false), 0, "budget spent");
   * backend.free(page);
   * ```
   */
  allocPage(order: number, reserve: boolean): number {
    if (
      typeof order !== "number" || (order | 0) !== order || order < 0 ||
      order > this.maxOrder
    ) {
      throw new PageFragError(
        "EINVAL_OPTION",
        `allocPage(): order must be an integer from 0 to ${this.maxOrder}, got ${
          show(order)
        }`,
      );
    }
    // A memory that is gone (an unshared memory grown elsewhere) gives no page.
    this.currentBuffer(0);
    const m = this.#m;
    const bytes = this.pageSize << order;
    const c = this.#counters;
    this.#enter();
    try {
      let pf = 0;
      if (c[IN_USE] - c[RESERVE_IN_USE] + bytes > this.maxBytes) {
        if (reserve !== true || c[RESERVE_IN_USE] + bytes > this.reserveBytes) {
          c[PAGE_FAILURES]++;
          return 0;
        }
        pf = PFMEMALLOC;
      }
      const slot = m.takeBlock(order, (b) => this.growArena(b));
      if (slot === 0) {
        c[PAGE_FAILURES]++; // the arena cannot grow that far
        return 0;
      }
      this.#heads.fill(slot, slot, slot + (1 << order));
      // In transit (named before the Atomics call: a runtime may stop this
      // thread right after one returns): until its cache records it, only
      // these words know who holds the page.
      this.#meta[this.#pending] = slot;
      this.#info[slot] = LIVE | pf | order | this.#transit;
      m.charge(bytes, pf !== 0);
      Atomics.store(this.#refs, slot, 1);
      return slot << this.#shift;
    } finally {
      this.#lock.exit();
    }
  }

  /** Return the live page at head `slot` to the free lists (its count is zero). */
  #release(slot: number, what: string): void {
    this.#enter();
    try {
      if (!this.#m.isLiveHead(slot)) {
        throw new PageFragError(
          "EDOUBLEFREE",
          `${what}: the page at ${
            slot << this.#shift
          } was released twice (freed twice?)`,
        );
      }
      this.#m.releaseLocked(slot);
      this.#meta[this.#releasing] = 0;
    } finally {
      this.#lock.exit();
    }
    this.#signal();
  }

  /** Head slot of the live page at `addr`; throws `EFOREIGN`/`EDOUBLEFREE`. */
  #liveSlot(addr: unknown, what: string): number {
    if (typeof addr !== "number" || (addr >>> 0) !== addr) {
      throw foreign(what, addr);
    }
    const slot = addr >>> this.#shift;
    if (slot < this.#m.firstSlot || slot >= this.#m.highWater) {
      throw foreign(what, addr);
    }
    const head = this.#heads[slot];
    if (head === 0) {
      throw new PageFragError(
        "EDOUBLEFREE",
        `${what}: the page of address ${addr} is no longer live (freed twice?)`,
      );
    }
    return head;
  }

  /**
   * Base address of the live page holding `addr`.
   *
   * @example
   * ```ts
   * import { SharedBackend } from "@pagefrag/pagefrag";
   *
   * const backend = new SharedBackend();
   * const page = backend.allocPage(1, false);
   * if (backend.pageOf(page + 5000) !== page) throw new Error();
   * backend.free(page);
   * ```
   */
  pageOf(addr: number): number {
    return this.#liveSlot(addr, "pageOf()") << this.#shift;
  }

  /**
   * Size in bytes of the live page at `page`.
   *
   * @example
   * ```ts
   * import { SharedBackend } from "@pagefrag/pagefrag";
   *
   * const backend = new SharedBackend();
   * const page = backend.allocPage(2, false);
   * if (backend.pageBytes(page) !== 16384) throw new Error();
   * backend.free(page);
   * ```
   */
  pageBytes(page: number): number {
    const head = this.#liveSlot(page, "pageBytes()");
    return this.pageSize << (this.#info[head] & ORDER_MASK);
  }

  /**
   * Whether the fragment at `addr` came from the reserve.
   *
   * @example
   * ```ts
   * import { SharedBackend } from "@pagefrag/pagefrag";
   *
   * const backend = new SharedBackend({ maxBytes: 0, reserveBytes: 4096 });
   * const page = backend.allocPage(0, true);
   * if (!backend.isPfmemalloc(page + 10)) throw new Error();
   * backend.free(page);
   * ```
   */
  isPfmemalloc(addr: number): boolean {
    const head = this.#liveSlot(addr, "isPfmemalloc()");
    // The cache's install asks this last, then records the page with plain
    // stores only (no call, so no termination point): from here the page is
    // its cache's, no longer this thread's page in transit.
    const info = this.#info[head];
    if ((info & TRANSIT_MASK) === this.#transit) {
      this.#info[head] = info & ~TRANSIT_MASK;
    }
    return (info & PFMEMALLOC) !== 0;
  }

  /**
   * Add `n` references to the live page at `page` (atomically).
   *
   * @example
   * ```ts
   * import { SharedBackend } from "@pagefrag/pagefrag";
   *
   * const backend = new SharedBackend();
   * const page = backend.allocPage(0, false);
   * backend.pageRefAdd(page, 1);
   * backend.free(page);
   * if (backend.stats().pagesInUse !== 1) throw new Error();
   * backend.free(page);
   * ```
   */
  pageRefAdd(page: number, n: number): void {
    const head = this.#liveSlot(page, "pageRefAdd()");
    if (typeof n !== "number" || (n | 0) !== n || n < 1) {
      throw new PageFragError(
        "EINVAL_OPTION",
        `pageRefAdd(): n must be a positive integer, got ${show(n)}`,
      );
    }
    // A cache recycles the page it brought to zero: no longer being
    // returned, but in transit to its cache until the install asks
    // isPfmemalloc() (a new page stays in transit from allocPage on).
    // Named before the Atomics call (see allocPage).
    const meta = this.#meta;
    if (meta[this.#releasing] === head) {
      meta[this.#pending] = head;
      this.#info[head] = (this.#info[head] & ~TRANSIT_MASK) | this.#transit;
      meta[this.#releasing] = 0;
    }
    Atomics.add(this.#refs, head, n);
  }

  /**
   * Drop `n` references (atomically); true when the count reached zero (the
   * page is then the caller's to recycle or release). More than the page
   * holds is `EDOUBLEFREE`, and drops nothing.
   *
   * @example
   * ```ts
   * import { SharedBackend } from "@pagefrag/pagefrag";
   *
   * const backend = new SharedBackend();
   * const page = backend.allocPage(0, false);
   * backend.pageRefAdd(page, 9);
   * if (!backend.pageRefSubAndTest(page, 10)) throw new Error();
   * backend.releasePage(page);
   * ```
   */
  pageRefSubAndTest(page: number, n: number): boolean {
    const head = this.#liveSlot(page, "pageRefSubAndTest()");
    if (typeof n !== "number" || (n | 0) !== n || n < 0) {
      throw new PageFragError(
        "EINVAL_OPTION",
        `pageRefSubAndTest(): n must be a non-negative integer, got ${show(n)}`,
      );
    }
    const refs = this.#refs;
    for (;;) {
      const old = Atomics.load(refs, head);
      const r = old - n;
      if (r < 0) {
        throw new PageFragError(
          "EDOUBLEFREE",
          `pageRefSubAndTest(): page ${page} has fewer than ${n} references`,
        );
      }
      // Named before the exchange (see free()).
      if (r === 0) this.#meta[this.#releasing] = head;
      if (Atomics.compareExchange(refs, head, old, r) === old) return r === 0;
      if (r === 0) this.#meta[this.#releasing] = 0;
    }
  }

  /**
   * Return a page whose reference count is zero.
   *
   * @example
   * ```ts
   * import { SharedBackend } from "@pagefrag/pagefrag";
   *
   * const backend = new SharedBackend();
   * const page = backend.allocPage(0, false);
   * backend.pageRefSubAndTest(page, 1);
   * backend.releasePage(page);
   * if (backend.stats().pagesInUse !== 0) throw new Error();
   * ```
   */
  releasePage(page: number): void {
    const head = this.#liveSlot(page, "releasePage()");
    const refs = Atomics.load(this.#refs, head);
    if (refs !== 0) {
      throw new PageFragError(
        "ESTATE",
        `releasePage(): page ${page} still has ${refs} references`,
      );
    }
    this.#release(head, "releasePage()");
  }

  // --------------------------------------------------------------- hot path

  /**
   * Drop one reference on the page holding `addr`, from any worker; the last
   * one returns the page (`page_frag_free`). Anything but an address this
   * arena handed out is `EFOREIGN`.
   *
   * @example
   * ```ts
   * import { createPageFragCache, SharedBackend } from "@pagefrag/pagefrag";
   *
   * const backend = new SharedBackend();
   * const cache = createPageFragCache({ backend });
   * const addr = cache.allocHandle(100)!;
   * backend.free(addr); // or SharedBackend.attach(backend.share()).free(addr) in another worker
   * ```
   */
  free(addr: number): void {
    if (typeof addr === "number") {
      const head = this.#heads[addr >>> this.#shift];
      if (head > 0 && (addr >>> 0) === addr) {
        const old = Atomics.sub(this.#refs, head, 1);
        if (old > 1) return;
        if (old === 1) {
          this.#meta[this.#releasing] = head;
          return this.#release(head, "free()");
        }
        Atomics.add(this.#refs, head, 1); // it had no reference to drop
        throw new PageFragError(
          "EDOUBLEFREE",
          `free(): the page of address ${addr} holds no reference to drop (freed twice?)`,
        );
      }
    }
    this.#liveSlot(addr, "free()");
  }

  /**
   * The fragment's memory as a `Uint8Array` over the arena (no copy).
   * `EINVAL_SIZE` unless `size` is an integer and `size` bytes at `addr`
   * fit in the page. The memory's current length is checked first: a view
   * of bytes another worker's growth added is made over the grown memory.
   *
   * @example
   * ```ts
   * import { createPageFragCache, SharedBackend } from "@pagefrag/pagefrag";
   *
   * const cache = createPageFragCache({ backend: new SharedBackend() });
   * const addr = cache.allocHandle(16)!;
   * cache.backend.view(addr, 16).fill(1);
   * if (cache.backend.view(addr, 16)[15] !== 1) throw new Error();
   * cache.free(addr);
   * ```
   */
  view(addr: number, size: number): Uint8Array<B> {
    if (typeof addr === "number" && typeof size === "number") {
      const head = this.#heads[addr >>> this.#shift];
      const end = addr + size;
      if (
        head > 0 && (addr >>> 0) === addr && (size >>> 0) === size &&
        end <=
          (head << this.#shift) +
            (this.pageSize << (this.#info[head] & ORDER_MASK))
      ) {
        // A view made for these bytes before, over the current buffer.
        let view = this.#views.get(addr, size, this.#buffer);
        if (view !== undefined) return view as Uint8Array<B>;
        try {
          view = new Uint8Array(this.#buffer, addr, size);
        } catch {
          view = this.#viewSlow(addr, size); // may switch this.#buffer
        }
        if (STAMP_VIEWS) stampView(view, this.#buffer, addr); // for addressOf
        this.#views.put(addr, view);
        return view as Uint8Array<B>;
      }
    }
    this.#liveSlot(addr, "view()");
    throw new PageFragError(
      "EINVAL_SIZE",
      `view(): ${show(size)} bytes at ${
        show(addr)
      } are not an integer size that fits in the page`,
    );
  }

  /**
   * The buffer this backend holds is shorter than the arena now is (it grew,
   * maybe in another worker) or unusable: take the current one.
   */
  #viewSlow(addr: number, size: number): Uint8Array {
    const buffer = this.currentBuffer(addr + size);
    if (buffer !== this.#buffer) {
      this.#claim(buffer);
      this.#buffer = buffer;
    }
    return new Uint8Array(buffer, addr, size);
  }

  /**
   * The address of `view`'s first byte: its offset in the arena. Views of
   * any buffer object this backend handed out views of are accepted; a view
   * of the same memory that arrived by `postMessage` is another object and
   * is `EFOREIGN` (send addresses between workers, not views), as is
   * anything that is not a `Uint8Array` (`null`, an object that only looks
   * like a view).
   *
   * @example
   * ```ts
   * import { createPageFragCache, SharedBackend } from "@pagefrag/pagefrag";
   *
   * const cache = createPageFragCache({ backend: new SharedBackend() });
   * const frag = cache.alloc(32)!;
   * const addr = cache.backend.addressOf(frag);
   * if (addr !== frag.byteOffset) throw new Error();
   * cache.free(frag);
   * ```
   */
  addressOf(view: Uint8Array): number {
    // A detached view (an unshared memory grown) has length 0: slow path.
    if (
      STAMP_VIEWS && stampedBuffer(view) === this.#buffer && view.length !== 0
    ) {
      return stampedAddress(view);
    }
    if (view instanceof Uint8Array) {
      const offset = view.byteOffset;
      if (view.buffer === this.#buffer && offset !== 0) return offset;
    }
    return this.#addressOfSlow(view);
  }

  #addressOfSlow(view: unknown): number {
    if (view instanceof Uint8Array) {
      const buffer = view.buffer;
      if (arenaOf.get(buffer) === this.#m.buffer) {
        if (buffer.byteLength === 0) this.currentBuffer(0); // throws ESTATE
        if (view.byteOffset !== 0) return view.byteOffset;
      }
    }
    throw new PageFragError(
      "EFOREIGN",
      `addressOf(): ${
        show(view)
      } is not a view handed out by this backend (views that crossed workers are other objects: send addresses)`,
    );
  }

  /**
   * Counters and gauges of the pages of the whole arena, across every
   * worker attached to it.
   *
   * @example
   * ```ts
   * import { SharedBackend } from "@pagefrag/pagefrag";
   *
   * const backend = new SharedBackend();
   * const other = SharedBackend.attach(backend.share());
   * const page = backend.allocPage(1, false);
   * if (other.stats().bytesInUse !== 8192) throw new Error();
   * other.free(page);
   * ```
   */
  stats(): BackendStats {
    const c = this.#counters;
    this.#enter();
    try {
      // Pinned pages: a scan of the live heads below the high-water mark
      // (stats() is not a hot path). Counts are read atomically; a free in
      // another worker may change one meanwhile, as it may right after.
      let pinnedPages = 0;
      let pinnedBytes = 0;
      const info = this.#info;
      const end = this.#m.highWater;
      for (let slot = this.#m.firstSlot; slot < end; slot++) {
        const i = info[slot];
        if ((i & LIVE) === 0 || this.#heads[slot] !== slot) continue;
        const r = Atomics.load(this.#refs, slot);
        if (r >= 1 && r <= PINNED_REFS) {
          pinnedPages++;
          pinnedBytes += this.pageSize << (i & ORDER_MASK);
        }
      }
      return {
        bytesTotal: this.maxBytes + this.reserveBytes,
        bytesInUse: c[IN_USE],
        pagesInUse: c[PAGES_IN_USE],
        reserveInUse: c[RESERVE_IN_USE],
        pagesAllocated: c[PAGES_ALLOCATED],
        pagesFreed: c[PAGES_FREED],
        pageFailures: c[PAGE_FAILURES],
        peakBytesInUse: c[PEAK],
        pinnedPages,
        pinnedBytes,
        viewHits: this.#views.hits,
        viewMisses: this.#views.misses,
      };
    } finally {
      this.#lock.exit();
    }
  }
}
