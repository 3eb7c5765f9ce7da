/**
 * The bookkeeping every page allocator repeats, written once: the page table
 * (address -> live page, reference counts, order, pfmemalloc), the budget
 * and emergency-reserve accounting, the `stats()` counters (pinned pages
 * included), a bounded pool of released pages, recycled views
 * ({@linkcode ViewTable}), detection of pages whose buffer was transferred
 * away, and the `releaseSignal` waiters watch.
 *
 * A backend whose pages are separate buffers extends {@linkcode PagedBackend}
 * and writes only how a page is made (and dropped); the heap backend is one.
 * An arena with its own page table reuses {@linkcode PageBudget} and
 * {@linkcode ViewTable}.
 *
 * Addresses are order-0 *slots* times `pageSize`: a page of order k covers
 * 2^k naturally aligned slots; slot 0 is never used (an address is never 0)
 * and addresses stay below 2^30 (small integers on every engine).
 *
 * @module
 */
import { disposedError } from "./disposed.ts";
import {
  type BackendStats,
  type MemoryBackend,
  PINNED_REFS,
} from "../core/backend.ts";
import { PageFragError } from "../core/errors.ts";
import { show } from "../core/format.ts";
import { claimBuffer, ownerOf } from "../core/owner.ts";
import { type BackendOptions, resolveBackendOptions } from "./options.ts";
import { DEFAULT_VIEWS_PER_PAGE, ViewTable } from "./view_table.ts";
import {
  stampedAddress,
  stampedAddressOr,
  stampedBuffer,
  stampedBufferOf,
} from "./view_stamp.ts";

import { PageBudget } from "./page_budget.ts";

export { resolveBackendOptions } from "./options.ts";
export { PAGE_BUDGET_WORDS, PageBudget } from "./page_budget.ts";
export type { BackendOptions, ResolvedBackendOptions } from "./options.ts";
export { DEFAULT_VIEWS_PER_PAGE, ViewTable } from "./view_table.ts";

/**
 * Default bytes of released pages kept for reuse: 32 pages of 32 KiB.
 *
 * @example
 * ```ts
 * import { DEFAULT_POOL_BYTES } from "@pagefrag/pagefrag/backends/page_table";
 * import assert from "node:assert/strict";
 *
 * assert.equal(DEFAULT_POOL_BYTES, 1 << 20, "1 MiB");
 * ```
 */
export const DEFAULT_POOL_BYTES: number = 1 << 20;

/**
 * Options of a {@linkcode PagedBackend}: the page geometry, budget and
 * reserve of every backend, plus the page pool and the view table.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HeapBackend, type PagedBackendOptions } from "@pagefrag/pagefrag/backends/heap";
 *
 * const o: PagedBackendOptions = { maxOrder: 0, poolBytes: 0, viewsPerPage: 0 };
 * assert.equal(new HeapBackend(o).poolBytes, 0, "no pool: every released page goes to the GC");
 * ```
 */
export interface PagedBackendOptions extends BackendOptions {
  /**
   * Bytes of released pages kept (per order) for reuse before a new buffer
   * is made; beyond it pages go to the GC. Pooled pages count in no budget.
   * Default {@linkcode DEFAULT_POOL_BYTES} (1 MiB), at most `maxBytes +
   * reserveBytes`; 0 turns the pool off.
   */
  poolBytes?: number;
  /**
   * Views remembered per page for reuse ({@linkcode ViewTable}): 0 or a power
   * of two up to 65536. Default {@linkcode DEFAULT_VIEWS_PER_PAGE} (128);
   * 0 makes every view new (what the sanitizer needs).
   */
  viewsPerPage?: number;
}

// Per head slot flags.
const PFMEMALLOC = 1;
/** The page's buffer was transferred away: its budget is closed, views refused. */
const RETIRED = 2;

/** Property that ties a page's buffer to its slot (for `addressOf`). */
const SLOT: unique symbol = Symbol("pagefrag.page.slot") as never;

interface SlotTagged {
  [SLOT]?: number;
}

function detached(buffer: ArrayBufferLike): boolean {
  // A transferred ArrayBuffer has length 0, and no page is empty.
  return buffer.byteLength === 0;
}

function makeSignal(): Int32Array {
  return new Int32Array(
    typeof SharedArrayBuffer === "function"
      ? new SharedArrayBuffer(4)
      : new ArrayBuffer(4),
  );
}

/**
 * A complete {@linkcode MemoryBackend} whose pages are separate buffers: a
 * subclass says how a buffer is made ({@linkcode PagedBackend.makePage}) and
 * dropped ({@linkcode PagedBackend.dropPage}); the rest (page table, counts,
 * budget, `stats()`, pool, recycled views, transfer detection) is here.
 *
 * A page whose buffer was transferred away (`postMessage`/`structuredClone`
 * transfer, a BYOB read) is *retired* when the backend next touches it:
 * `view` throws `EDETACHED`, its bytes leave `bytesInUse`, `pageBytes` is 0
 * (no cache carves it again), its other fragments' frees are accepted, and
 * it is never pooled or handed out again.
 *
 * @example A backend in five lines
 * ```ts
 * import assert from "node:assert/strict";
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { PagedBackend } from "@pagefrag/pagefrag/backends/page_table";
 *
 * class MyBackend extends PagedBackend {
 *   protected makePage(bytes: number): ArrayBufferLike | null {
 *     return new ArrayBuffer(bytes);
 *   }
 * }
 * const backend = new MyBackend({ maxBytes: 1 << 20 });
 * const cache = createPageFragCache({ backend });
 * cache.free(cache.alloc(100)!);
 * cache.drain();
 * assert.equal(backend.stats().bytesInUse, 0, "every page went back");
 * ```
 */
export abstract class PagedBackend<B extends ArrayBufferLike = ArrayBufferLike>
  implements MemoryBackend<B> {
  /** Bytes in an order-0 page. */
  readonly pageSize: number;
  /** Highest page order. */
  readonly maxOrder: number;
  /** Budget in bytes for non-reserve pages (`Infinity` when unlimited). */
  readonly maxBytes: number;
  /** Emergency reserve in bytes. */
  readonly reserveBytes: number;
  /** Bytes of released pages kept for reuse at most. */
  readonly poolBytes: number;
  /** The release counter, made on first use of `releaseSignal`. */
  #releaseWord: Int32Array | undefined;

  readonly #shift: number;
  /** Order-0 slots the address space holds: addresses stay below 2^30. */
  readonly #slotLimit: number;
  readonly #budget: PageBudget;
  readonly #views: ViewTable;
  /** Per head slot: the page's buffer (live, pooled or retired), else undefined. */
  #buffers: (ArrayBufferLike | undefined)[] = [undefined];
  /** For each order-0 slot, the head slot of the live page covering it, else 0. */
  #heads = new Int32Array(256);
  /** Per head slot: reference count, page bytes (0 when not live), flags. */
  #refs = new Int32Array(256);
  #bytes = new Int32Array(256);
  #flags = new Uint8Array(256);
  /** Next never-used slot. */
  #highWater = 1;
  /** Released ranges without a buffer, a stack of head slots per order. */
  #freeRanges: number[][] = [];
  /** Released pages with their buffer, a stack of head slots per order. */
  #pool: number[][] = [];
  #pooledBytes = 0;
  #disposed = false;

  /**
   * Set up the page table from `options` (`EINVAL_OPTION` for a bad one;
   * keys it does not know are ignored).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { HeapBackend } from "@pagefrag/pagefrag";
   *
   * assert.throws(() => new HeapBackend({ poolBytes: -1 }), /poolBytes/, "names the bad option");
   * ```
   */
  constructor(options: PagedBackendOptions = {}) {
    const o = resolveBackendOptions(options);
    this.pageSize = o.pageSize;
    this.maxOrder = o.maxOrder;
    this.maxBytes = o.maxBytes;
    this.reserveBytes = o.reserveBytes;
    const pool = options.poolBytes ?? DEFAULT_POOL_BYTES;
    if (
      typeof pool !== "number" || !(pool >= 0) ||
      (pool !== Infinity && !Number.isSafeInteger(pool))
    ) {
      throw new PageFragError(
        "EINVAL_OPTION",
        `poolBytes must be a non-negative integer or Infinity, got ${
          show(pool)
        }`,
      );
    }
    this.poolBytes = Math.min(pool, o.maxBytes + o.reserveBytes);
    this.#views = new ViewTable(
      options.viewsPerPage ?? DEFAULT_VIEWS_PER_PAGE,
    );
    this.#budget = PageBudget.create(o.maxBytes, o.reserveBytes);
    this.#shift = 31 - Math.clz32(o.pageSize);
    this.#slotLimit = 2 ** 30 / o.pageSize;
    for (let k = 0; k <= o.maxOrder; k++) {
      this.#freeRanges.push([]);
      this.#pool.push([]);
    }
  }

  /**
   * Element 0 counts page releases and retirements (`Atomics.add` and
   * `Atomics.notify` each), for waiters; over a `SharedArrayBuffer` when
   * there is one. Made on first use, counting from then on.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { HeapBackend } from "@pagefrag/pagefrag";
   *
   * const backend = new HeapBackend();
   * const signal = backend.releaseSignal;
   * const before = Atomics.load(signal, 0);
   * backend.free(backend.allocPage(0, false));
   * assert.equal(Atomics.load(signal, 0), before + 1, "one release counted");
   * ```
   */
  get releaseSignal(): Int32Array {
    return this.#releaseWord ??= makeSignal();
  }

  // ------------------------------------------------- for the subclasses

  /**
   * Make the buffer of a new page of `bytes` bytes, or `null` when there is
   * no memory (a thrown exception counts as `null`). Called only when the
   * budget allows the page and the pool has none of that size.
   */
  protected abstract makePage(bytes: number): ArrayBufferLike | null;

  /**
   * A page's buffer leaves the backend for good (the pool is full, or the
   * buffer was transferred away). The default does nothing: the GC takes it.
   */
  protected dropPage(_buffer: ArrayBufferLike): void {}

  // ------------------------------------------------------ pages

  /**
   * Allocate a page of `pageSize << order` bytes with one reference (from
   * the pool when it holds one: then its bytes are as they were left); 0
   * when neither budget nor (if `reserve`) the reserve has room.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { HeapBackend } from "@pagefrag/pagefrag";
   *
   * const backend = new HeapBackend({ maxBytes: 4096 });
   * const page = backend.allocPage(0, false);
   * assert.equal(backend.allocPage(0, false), 0, "the budget is spent");
   * backend.free(page);
   * assert.equal(backend.allocPage(0, false), page, "the pooled page again");
   * assert.equal(backend.stats().buffersCreated, 1, "one buffer made");
   * ```
   */
  allocPage(order: number, reserve: boolean): number {
    if (this.#disposed) throw disposedError(); // see [Symbol.dispose]
    if ((order | 0) !== order || order < 0 || order > this.maxOrder) {
      throw new PageFragError(
        "EINVAL_OPTION",
        `allocPage(): order must be an integer from 0 to ${this.maxOrder}, got ${
          show(order)
        }`,
      );
    }
    const bytes = this.pageSize << order;
    const from = this.#budget.admit(bytes, reserve);
    if (from < 0) return 0;
    let slot = this.#fromPool(order, bytes);
    if (slot === 0) {
      slot = this.#newRange(order);
      if (slot === 0) {
        this.#budget.refuse(); // the 1 GiB address space is full
        return 0;
      }
      let buffer: ArrayBufferLike | null;
      try {
        buffer = this.makePage(bytes);
      } catch {
        buffer = null; // the engine itself is out of memory
      }
      if (buffer === null || buffer.byteLength !== bytes) {
        this.#freeRanges[order].push(slot);
        this.#budget.refuse();
        return 0;
      }
      this.#budget.bufferCreated();
      (buffer as SlotTagged)[SLOT] = slot;
      claimBuffer(buffer, this);
      this.#buffers[slot] = buffer;
      this.#views.open(slot, buffer, 0, bytes);
    }
    this.#refs[slot] = 1;
    this.#bytes[slot] = bytes;
    this.#flags[slot] = from === 1 ? PFMEMALLOC : 0;
    this.#heads.fill(slot, slot, slot + (1 << order));
    this.#budget.charge(bytes, from === 1);
    return slot << this.#shift;
  }

  /** A pooled page of `order` whose buffer is still ours, else 0. */
  #fromPool(order: number, bytes: number): number {
    const pool = this.#pool[order];
    while (pool.length > 0) {
      const slot = pool.pop()!;
      this.#pooledBytes -= bytes;
      if (!detached(this.#buffers[slot]!)) return slot;
      // Transferred away while pooled (a view kept past its free): retire it.
      this.#budget.pageDetached();
      this.#drop(slot, order);
    }
    return 0;
  }

  /** A naturally aligned range of 2^order slots without a buffer, else 0. */
  #newRange(order: number): number {
    const reused = this.#freeRanges[order].pop();
    if (reused !== undefined) return reused;
    const span = 1 << order;
    const hw = this.#highWater;
    const aligned = (hw + span - 1) & -span;
    if (aligned + span > this.#slotLimit) return 0;
    // The slots skipped to align it become free ranges of the orders they
    // can hold, for later pages of those orders.
    for (let p = hw; p < aligned;) {
      let k = 0;
      while ((p & (2 << k) - 1) === 0 && p + (2 << k) <= aligned) k++;
      this.#freeRanges[k].push(p);
      p += 1 << k;
    }
    this.#highWater = aligned + span;
    while (this.#highWater > this.#heads.length) this.#grow();
    while (this.#buffers.length < this.#highWater) {
      this.#buffers.push(undefined);
    }
    return aligned;
  }

  #grow(): void {
    const n = this.#heads.length * 2;
    const heads = new Int32Array(n);
    heads.set(this.#heads);
    this.#heads = heads;
    const refs = new Int32Array(n);
    refs.set(this.#refs);
    this.#refs = refs;
    const bytes = new Int32Array(n);
    bytes.set(this.#bytes);
    this.#bytes = bytes;
    const flags = new Uint8Array(n);
    flags.set(this.#flags);
    this.#flags = flags;
  }

  /**
   * Head slot of the live (or retired) page at `addr`; throws
   * `EFOREIGN`/`EDOUBLEFREE`. Retires the page if its buffer is gone.
   */
  #liveSlot(addr: number, what: string): number {
    const slot = addr >>> this.#shift;
    if ((addr >>> 0) !== addr || slot === 0 || slot >= this.#highWater) {
      throw new PageFragError(
        "EFOREIGN",
        `${what}: address ${show(addr)} was not handed out by this backend`,
      );
    }
    const head = this.#heads[slot];
    if (head === 0) {
      throw new PageFragError(
        "EDOUBLEFREE",
        `${what}: the page of address ${addr} is no longer live (freed twice?)`,
      );
    }
    if (this.#flags[head] < RETIRED && detached(this.#buffers[head]!)) {
      this.#retire(head);
    }
    return head;
  }

  /** The page's buffer was transferred away: close its budget now. */
  #retire(head: number): void {
    const f = this.#flags[head];
    this.#flags[head] = f | RETIRED;
    this.#budget.pageDetached();
    this.#budget.discharge(this.#bytes[head], (f & PFMEMALLOC) !== 0);
    this.#signal();
  }

  #signal(): void {
    const word = this.#releaseWord;
    if (word === undefined) return; // nobody waits
    Atomics.add(word, 0, 1);
    Atomics.notify(word, 0);
  }

  /**
   * Base address of the live page holding `addr`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { HeapBackend } from "@pagefrag/pagefrag";
   *
   * const backend = new HeapBackend();
   * const page = backend.allocPage(1, false);
   * assert.equal(backend.pageOf(page + 5000), page, "any byte maps to its page");
   * backend.free(page);
   * ```
   */
  pageOf(addr: number): number {
    return this.#liveSlot(addr, "pageOf()") << this.#shift;
  }

  /**
   * Size in bytes of the live page at `page`; 0 for a retired page (its
   * buffer was transferred away), so a cache never carves it again.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { HeapBackend } from "@pagefrag/pagefrag";
   *
   * const backend = new HeapBackend();
   * const page = backend.allocPage(2, false);
   * assert.equal(backend.pageBytes(page), 16384, "4096 << 2");
   * backend.free(page);
   * ```
   */
  pageBytes(page: number): number {
    const head = this.#liveSlot(page, "pageBytes()");
    return this.#flags[head] >= RETIRED ? 0 : this.#bytes[head];
  }

  /**
   * Whether the fragment at `addr` came from the reserve.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { HeapBackend } from "@pagefrag/pagefrag";
   *
   * const backend = new HeapBackend({ maxBytes: 0, reserveBytes: 4096 });
   * const page = backend.allocPage(0, true);
   * assert.ok(backend.isPfmemalloc(page + 10), "a reserve page");
   * backend.free(page);
   * ```
   */
  isPfmemalloc(addr: number): boolean {
    return (this.#flags[this.#liveSlot(addr, "isPfmemalloc()")] &
      PFMEMALLOC) !== 0;
  }

  /**
   * Add `n` references to the live page at `page`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { HeapBackend } from "@pagefrag/pagefrag";
   *
   * const backend = new HeapBackend();
   * const page = backend.allocPage(0, false);
   * backend.pageRefAdd(page, 1);
   * backend.free(page);
   * assert.equal(backend.stats().pagesInUse, 1, "one reference left");
   * backend.free(page);
   * ```
   */
  pageRefAdd(page: number, n: number): void {
    this.#refs[this.#liveSlot(page, "pageRefAdd()")] += n;
  }

  /**
   * Drop `n` references; true when the count reached zero (the page is then
   * the caller's to recycle or release).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { HeapBackend } from "@pagefrag/pagefrag";
   *
   * const backend = new HeapBackend();
   * const page = backend.allocPage(0, false);
   * backend.pageRefAdd(page, 9);
   * assert.ok(backend.pageRefSubAndTest(page, 10), "the count reached zero");
   * backend.releasePage(page);
   * ```
   */
  pageRefSubAndTest(page: number, n: number): boolean {
    const slot = this.#liveSlot(page, "pageRefSubAndTest()");
    const r = this.#refs[slot] - n;
    if (r < 0) {
      throw new PageFragError(
        "EDOUBLEFREE",
        `pageRefSubAndTest(): page ${page} has fewer than ${
          show(n)
        } references`,
      );
    }
    this.#refs[slot] = r;
    return r === 0;
  }

  /**
   * Return a page whose reference count is zero (to the pool, or the GC).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { HeapBackend } from "@pagefrag/pagefrag";
   *
   * const backend = new HeapBackend();
   * const page = backend.allocPage(0, false);
   * backend.pageRefSubAndTest(page, 1);
   * backend.releasePage(page);
   * assert.equal(backend.stats().pagesInUse, 0, "released");
   * ```
   */
  releasePage(page: number): void {
    const slot = this.#liveSlot(page, "releasePage()");
    if (this.#refs[slot] !== 0) {
      throw new PageFragError(
        "ESTATE",
        `releasePage(): page ${page} still has ${this.#refs[slot]} references`,
      );
    }
    this.#release(slot);
  }

  #release(slot: number): void {
    const bytes = this.#bytes[slot];
    const order = 31 - Math.clz32(bytes >>> this.#shift);
    const flags = this.#flags[slot];
    this.#heads.fill(0, slot, slot + (1 << order));
    this.#refs[slot] = 0;
    this.#bytes[slot] = 0;
    this.#flags[slot] = 0;
    if (flags >= RETIRED) {
      this.#drop(slot, order); // its budget was closed when it was retired
      return;
    }
    this.#budget.discharge(bytes, (flags & PFMEMALLOC) !== 0);
    if (detached(this.#buffers[slot]!)) {
      this.#budget.pageDetached();
      this.#drop(slot, order);
    } else if (!this.#disposed && this.#pooledBytes + bytes <= this.poolBytes) {
      this.#pool[order].push(slot); // keeps its buffer, address and views
      this.#pooledBytes += bytes;
    } else {
      this.#drop(slot, order);
    }
    this.#signal();
  }

  /** The slot's buffer leaves for good; its range is free for a new one. */
  #drop(slot: number, order: number): void {
    const buffer = this.#buffers[slot]!;
    this.#buffers[slot] = undefined;
    this.#views.close(slot);
    this.#freeRanges[order].push(slot);
    this.dropPage(buffer);
  }

  /**
   * Drop one reference on the page holding `addr`; the last one returns the
   * page (`page_frag_free`). A fragment of a retired page is freed as usual.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   *
   * const cache = createPageFragCache();
   * const addr = cache.allocHandle(100)!;
   * cache.backend.free(addr);
   * cache.drain();
   * assert.equal(cache.backend.stats().pagesInUse, 0, "the last reference returned the page");
   * ```
   */
  free(addr: number): void {
    const head = this.#heads[addr >>> this.#shift];
    if (head > 0 && (addr >>> 0) === addr) {
      const r = this.#refs[head] - 1;
      if (r > 0) this.#refs[head] = r;
      else this.#release(head); // r is 0: a live page holds at least 1
      return;
    }
    this.#liveSlot(addr, "free()"); // throws EFOREIGN or EDOUBLEFREE
  }

  /**
   * The fragment's memory as a `Uint8Array` (no copy): the view object made
   * last time for these bytes when there is one (see
   * {@linkcode ViewTable}). `EDETACHED` (and the page retired) when the
   * page's buffer was transferred away.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   *
   * const cache = createPageFragCache();
   * const addr = cache.allocHandle(16)!;
   * cache.backend.view(addr, 16).fill(1);
   * assert.equal(cache.backend.view(addr, 16)[15], 1, "the same bytes");
   * cache.free(addr);
   * ```
   */
  view(addr: number, size: number): Uint8Array<B> {
    // The hot path: a view made for these bytes before (its bounds were
    // checked then, and its page is live and attached).
    const head = this.#heads[addr >>> this.#shift] | 0;
    const v = this.#views.hit(head, addr - (head << this.#shift), size);
    return (v !== undefined ? v : this.#viewSlow(addr, size)) as Uint8Array<B>;
  }

  #viewSlow(addr: number, size: number): Uint8Array {
    const head = this.#heads[addr >>> this.#shift] | 0;
    const buffer = this.#buffers[head];
    const offset = addr - (head << this.#shift);
    if (
      head === 0 || buffer === undefined || (addr >>> 0) !== addr ||
      !(size >= 0 && offset + size <= this.#bytes[head]) ||
      (size | 0) !== size || buffer.byteLength === 0
    ) {
      return this.#badView(addr, size);
    }
    return this.#views.make(head, offset, size, addr);
  }

  #badView(addr: number, size: number): never {
    const head = this.#liveSlot(addr, "view()");
    if (this.#flags[head] >= RETIRED) {
      throw new PageFragError(
        "EDETACHED",
        `view(): the page of address ${addr} was transferred away (postMessage/structuredClone transfer?); it is retired: free its fragments, never transfer a fragment's buffer`,
      );
    }
    throw new PageFragError(
      "EINVAL_SIZE",
      `view(): ${show(size)} bytes at ${addr} do not fit in the page`,
    );
  }

  /**
   * The address of `view`'s first byte.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   *
   * const cache = createPageFragCache();
   * const frag = cache.alloc(32)!;
   * const addr = cache.backend.addressOf(frag);
   * assert.equal(cache.backend.view(addr, 32), frag, "the recycled view of those bytes");
   * cache.free(frag);
   * ```
   */
  addressOf(view: Uint8Array): number {
    // A view this backend made: its stamp names the address and buffer.
    const addr = stampedAddressOr(view);
    if (addr > 0) {
      const head = this.#heads[addr >>> this.#shift];
      if (head > 0 && this.#buffers[head] === stampedBufferOf(view)) {
        return addr;
      }
    }
    return this.#addressSlow(view);
  }

  #addressSlow(view: Uint8Array): number {
    const stamp = stampedBuffer(view);
    const buffer = (stamp ?? view?.buffer) as
      | (ArrayBufferLike & SlotTagged)
      | undefined;
    const slot = buffer?.[SLOT];
    if (
      slot === undefined || this.#buffers[slot] !== buffer ||
      this.#heads[slot] !== slot
    ) {
      throw ownerOf(view) === this
        ? new PageFragError(
          "EDOUBLEFREE",
          "addressOf(): the view's page is no longer live (freed twice?)",
        )
        : new PageFragError(
          "EFOREIGN",
          "addressOf(): the view was not handed out by this backend",
        );
    }
    return stamp !== undefined
      ? stampedAddress(view)
      : (slot << this.#shift) + view.byteOffset;
  }

  /**
   * Counters and gauges of the pages, the page pool and the view table.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { HeapBackend } from "@pagefrag/pagefrag";
   *
   * const backend = new HeapBackend();
   * const page = backend.allocPage(1, false);
   * assert.equal(backend.stats().bytesInUse, 8192, "one order-1 page");
   * backend.free(page);
   * ```
   */
  stats(): BackendStats {
    // Pinned pages: a scan of the head slots (stats() is not a hot path).
    let pinnedPages = 0;
    let pinnedBytes = 0;
    const bytes = this.#bytes;
    const refs = this.#refs;
    for (let slot = 1; slot < this.#highWater; slot++) {
      const r = refs[slot];
      if (
        bytes[slot] !== 0 && r >= 1 && r <= PINNED_REFS &&
        this.#flags[slot] < RETIRED
      ) {
        pinnedPages++;
        pinnedBytes += bytes[slot];
      }
    }
    return this.#budget.stats(
      pinnedPages,
      pinnedBytes,
      this.#views.hits,
      this.#views.misses,
    );
  }

  /**
   * Bytes of released pages in the pool now (kept for reuse, in no budget).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { HeapBackend } from "@pagefrag/pagefrag";
   *
   * const backend = new HeapBackend();
   * backend.free(backend.allocPage(3, false));
   * assert.equal(backend.pooledBytes(), 32768, "the page waits in the pool");
   * ```
   */
  pooledBytes(): number {
    return this.#pooledBytes;
  }

  /**
   * `using backend = new HeapBackend()`: drop the pooled pages (to the
   * garbage collector) and refuse `allocPage` with `ESTATE` from now on.
   * Live pages stay usable: `free`, `view` and `stats` keep working, so
   * fragments still held elsewhere are freed as usual.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { HeapBackend } from "@pagefrag/pagefrag";
   *
   * const backend = new HeapBackend();
   * const page = backend.allocPage(0, false);
   * backend[Symbol.dispose]();
   * backend.free(page); // still fine, and the page is not kept
   * assert.throws(() => backend.allocPage(0, false), { code: "ESTATE" });
   * ```
   */
  [Symbol.dispose](): void {
    this.#disposed = true;
    for (let order = 0; order < this.#pool.length; order++) {
      for (const slot of this.#pool[order].splice(0)) this.#drop(slot, order);
    }
    this.#pooledBytes = 0;
  }
}
