/**
 * The heap backend: every page is its own ordinary `ArrayBuffer`, so a page
 * that goes back is simply dropped and the garbage collector reclaims it.
 *
 * Addresses live in a virtual address space of order-0 *slots*: a page of
 * order k covers 2^k consecutive slots and its address is
 * `headSlot * pageSize`. Slot 0 is never used, so an address is never 0.
 * Addresses stay below 2^30 so that every engine keeps them as small
 * integers: handing one out never boxes a number (a heap allocation on V8).
 * `heads[addr >>> pageShift]` finds the page in one step; per-page metadata
 * (reference count, size, pfmemalloc) sits in typed arrays indexed by head
 * slot. Released ranges are reused per order.
 *
 * @module
 */
import {
  type BackendStats,
  type MemoryBackend,
  PINNED_REFS,
} from "../core/backend.ts";
import { PageFragError } from "../core/errors.ts";
import { disposedError } from "./disposed.ts";
import { claimBuffer, ownerOf } from "../core/owner.ts";
import { type BackendOptions, resolveBackendOptions } from "./options.ts";
import {
  STAMP_VIEWS,
  stampedAddress,
  stampedBuffer,
  stampView,
} from "./view_stamp.ts";

/** Property that ties a page's `ArrayBuffer` to its slot (for `addressOf`). */
const SLOT: unique symbol = Symbol("pagefrag.heap.slot") as never;

interface PageBuffer extends ArrayBuffer {
  [SLOT]?: number;
}

/**
 * Pages of order `0 .. maxOrder` over ordinary `ArrayBuffer`s, with a byte
 * budget (`maxBytes`) and an emergency reserve (`reserveBytes`) that only
 * reserve-allowed requests may use. The default backend.
 *
 * @example
 * ```ts
 * import { createPageFragCache, HeapBackend } from "@pagefrag/pagefrag";
 *
 * const backend = new HeapBackend({ pageSize: 4096, maxOrder: 3, maxBytes: 1 << 20 });
 * const cache = createPageFragCache({ backend });
 * const frag = cache.alloc(256)!;
 * frag.fill(7);
 * cache.free(frag);
 * cache.drain();
 * if (backend.stats().bytesInUse !== 0) throw new Error("leak");
 * ```
 */
export class HeapBackend implements MemoryBackend<ArrayBuffer> {
  /** Bytes in an order-0 page. */
  readonly pageSize: number;
  /** Highest page order. */
  readonly maxOrder: number;
  /** Budget in bytes for non-reserve pages (`Infinity` when unlimited). */
  readonly maxBytes: number;
  /** Emergency reserve in bytes. */
  readonly reserveBytes: number;

  readonly #pageShift: number;
  /** Order-0 slots the address space holds: addresses stay below 2^30. */
  readonly #slotLimit: number;
  #buffers: (PageBuffer | undefined)[] = [undefined];
  /** For each order-0 slot, the head slot of the live page covering it, else 0. */
  #heads = new Int32Array(256);
  /** Per head slot: reference count, page bytes (0 when not live), pfmemalloc. */
  #refs = new Int32Array(256);
  #bytes = new Int32Array(256);
  #pfmemalloc = new Uint8Array(256);
  /** Next never-used slot. */
  #highWater = 1;
  /** Released ranges, a stack of head slots per order. */
  #freeRanges: number[][] = [];

  #bytesInUse = 0;
  #reserveInUse = 0;
  #pagesInUse = 0;
  #pagesAllocated = 0;
  #pagesFreed = 0;
  #pageFailures = 0;
  #peak = 0;

  /**
   * Make a heap backend. Throws `EINVAL_OPTION` for a bad option.
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   *
   * const backend = new HeapBackend({ pageSize: 16384, maxOrder: 0 });
   * if (backend.pageSize !== 16384) throw new Error();
   * ```
   */
  constructor(options: BackendOptions = {}) {
    const o = resolveBackendOptions(options);
    this.pageSize = o.pageSize;
    this.maxOrder = o.maxOrder;
    this.maxBytes = o.maxBytes;
    this.reserveBytes = o.reserveBytes;
    this.#pageShift = 31 - Math.clz32(o.pageSize);
    this.#slotLimit = 2 ** 30 / o.pageSize;
    for (let k = 0; k <= o.maxOrder; k++) this.#freeRanges.push([]);
  }

  /**
   * Allocate a zeroed page of `pageSize << order` bytes with one reference;
   * 0 when neither budget nor (if `reserve`) the reserve has room.
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   *
   * const backend = new HeapBackend({ maxBytes: 4096 });
   * const page = backend.allocPage(0, false);
   * if (page === 0 || backend.allocPage(0, false) !== 0) throw new Error();
   * backend.free(page);
   * ```
   */
  allocPage(order: number, reserve: boolean): number {
    if (this.#disposed) throw disposedError(); // see [Symbol.dispose]
    if ((order | 0) !== order || order < 0 || order > this.maxOrder) {
      throw new PageFragError(
        "EINVAL_OPTION",
        `allocPage(): order must be an integer from 0 to ${this.maxOrder}, got ${order}`,
      );
    }
    const bytes = this.pageSize << order;
    let pf = 0;
    if (this.#bytesInUse - this.#reserveInUse + bytes > this.maxBytes) {
      if (!reserve || this.#reserveInUse + bytes > this.reserveBytes) {
        this.#pageFailures++;
        return 0;
      }
      pf = 1;
    }
    const span = 1 << order;
    let slot = this.#freeRanges[order].pop() ?? 0;
    if (slot === 0) {
      // A page is naturally aligned (as the MemoryBackend contract says):
      // its head slot is a multiple of its span.
      const hw = this.#highWater;
      const aligned = (hw + span - 1) & -span;
      if (aligned + span > this.#slotLimit) {
        this.#pageFailures++; // the 1 GiB address space is full
        return 0;
      }
      // The slots skipped to align it become free ranges of the orders
      // they can hold, for later pages of those orders.
      for (let p = hw; p < aligned;) {
        let k = 0;
        while ((p & (2 << k) - 1) === 0 && p + (2 << k) <= aligned) k++;
        this.#freeRanges[k].push(p);
        p += 1 << k;
      }
      slot = aligned;
      this.#highWater = aligned + span;
      while (this.#highWater > this.#heads.length) this.#grow();
      while (this.#buffers.length < this.#highWater) {
        this.#buffers.push(undefined);
      }
    }
    let buffer: PageBuffer;
    try {
      buffer = new ArrayBuffer(bytes);
    } catch {
      // The engine itself is out of memory: a failed page, not an exception.
      this.#freeRanges[order].push(slot);
      this.#pageFailures++;
      return 0;
    }
    buffer[SLOT] = slot;
    claimBuffer(buffer, this);
    this.#buffers[slot] = buffer;
    this.#refs[slot] = 1;
    this.#bytes[slot] = bytes;
    this.#pfmemalloc[slot] = pf;
    this.#heads.fill(slot, slot, slot + span);
    this.#bytesInUse += bytes;
    if (pf) this.#reserveInUse += bytes;
    this.#pagesInUse++;
    this.#pagesAllocated++;
    if (this.#bytesInUse > this.#peak) this.#peak = this.#bytesInUse;
    return slot << this.#pageShift;
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
    const pf = new Uint8Array(n);
    pf.set(this.#pfmemalloc);
    this.#pfmemalloc = pf;
  }

  /**
   * Slot of the live page at `addr`; throws `EFOREIGN`/`EDOUBLEFREE`.
   * Shared by every public method that takes an address.
   */
  #liveSlot(addr: number, what: string): number {
    const slot = addr >>> this.#pageShift;
    if ((addr >>> 0) !== addr || slot === 0 || slot >= this.#highWater) {
      throw new PageFragError(
        "EFOREIGN",
        `${what}: address ${addr} was not handed out by this backend`,
      );
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
   * import { HeapBackend } from "@pagefrag/pagefrag";
   *
   * const backend = new HeapBackend();
   * const page = backend.allocPage(1, false);
   * if (backend.pageOf(page + 5000) !== page) throw new Error();
   * backend.free(page);
   * ```
   */
  pageOf(addr: number): number {
    return this.#liveSlot(addr, "pageOf()") << this.#pageShift;
  }

  /**
   * Size in bytes of the live page at `page`.
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   *
   * const backend = new HeapBackend();
   * const page = backend.allocPage(2, false);
   * if (backend.pageBytes(page) !== 16384) throw new Error();
   * backend.free(page);
   * ```
   */
  pageBytes(page: number): number {
    return this.#bytes[this.#liveSlot(page, "pageBytes()")];
  }

  /**
   * Whether the fragment at `addr` came from the reserve.
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   *
   * const backend = new HeapBackend({ maxBytes: 0, reserveBytes: 4096 });
   * const page = backend.allocPage(0, true);
   * if (!backend.isPfmemalloc(page + 10)) throw new Error();
   * backend.free(page);
   * ```
   */
  isPfmemalloc(addr: number): boolean {
    return this.#pfmemalloc[this.#liveSlot(addr, "isPfmemalloc()")] === 1;
  }

  /**
   * Add `n` references to the live page at `page`.
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   *
   * const backend = new HeapBackend();
   * const page = backend.allocPage(0, false);
   * backend.pageRefAdd(page, 1);
   * backend.free(page);
   * if (backend.stats().pagesInUse !== 1) throw new Error();
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
   * import { HeapBackend } from "@pagefrag/pagefrag";
   *
   * const backend = new HeapBackend();
   * const page = backend.allocPage(0, false);
   * backend.pageRefAdd(page, 9);
   * if (!backend.pageRefSubAndTest(page, 10)) throw new Error();
   * backend.releasePage(page);
   * ```
   */
  pageRefSubAndTest(page: number, n: number): boolean {
    const slot = this.#liveSlot(page, "pageRefSubAndTest()");
    const r = this.#refs[slot] - n;
    if (r < 0) {
      throw new PageFragError(
        "EDOUBLEFREE",
        `pageRefSubAndTest(): page ${page} has fewer than ${n} references`,
      );
    }
    this.#refs[slot] = r;
    return r === 0;
  }

  /**
   * Return a page whose reference count is zero.
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   *
   * const backend = new HeapBackend();
   * const page = backend.allocPage(0, false);
   * backend.pageRefSubAndTest(page, 1);
   * backend.releasePage(page);
   * if (backend.stats().pagesInUse !== 0) throw new Error();
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
    const order = 31 - Math.clz32(bytes >>> this.#pageShift);
    this.#heads.fill(0, slot, slot + (1 << order));
    this.#bytesInUse -= bytes;
    if (this.#pfmemalloc[slot] === 1) this.#reserveInUse -= bytes;
    this.#pagesInUse--;
    this.#pagesFreed++;
    this.#buffers[slot] = undefined; // the GC takes it from here
    this.#refs[slot] = 0;
    this.#bytes[slot] = 0;
    this.#pfmemalloc[slot] = 0;
    this.#freeRanges[order].push(slot);
  }

  /**
   * Drop one reference on the page holding `addr`; the last one returns the
   * page (`page_frag_free`).
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   *
   * const cache = createPageFragCache();
   * const addr = cache.allocHandle(100)!;
   * cache.backend.free(addr);
   * ```
   */
  free(addr: number): void {
    const head = this.#heads[addr >>> this.#pageShift];
    if (head > 0 && (addr >>> 0) === addr) {
      const r = this.#refs[head] - 1;
      if (r > 0) this.#refs[head] = r;
      else this.#release(head); // r is 0: a live page holds at least 1
      return;
    }
    this.#liveSlot(addr, "free()"); // throws EFOREIGN or EDOUBLEFREE
  }

  /**
   * The fragment's memory as a `Uint8Array` (no copy).
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   *
   * const cache = createPageFragCache();
   * const addr = cache.allocHandle(16)!;
   * cache.backend.view(addr, 16).fill(1);
   * if (cache.backend.view(addr, 16)[15] !== 1) throw new Error();
   * cache.free(addr);
   * ```
   */
  view(addr: number, size: number): Uint8Array<ArrayBuffer> {
    const head = this.#heads[addr >>> this.#pageShift];
    const buffer = this.#buffers[head];
    const offset = addr - (head << this.#pageShift);
    if (
      buffer === undefined || (addr >>> 0) !== addr ||
      !(size >= 0 && offset + size <= this.#bytes[head])
    ) {
      this.#liveSlot(addr, "view()");
      throw new PageFragError(
        "EINVAL_SIZE",
        `view(): ${size} bytes at ${addr} do not fit in the page`,
      );
    }
    const view = new Uint8Array(buffer, offset, size);
    if (STAMP_VIEWS) stampView(view, buffer, addr); // for addressOf
    return view;
  }

  /**
   * The address of `view`'s first byte.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   *
   * const cache = createPageFragCache();
   * const frag = cache.alloc(32)!;
   * const addr = cache.backend.addressOf(frag);
   * if (cache.backend.view(addr, 32).byteOffset !== frag.byteOffset) throw new Error();
   * cache.free(frag);
   * ```
   */
  addressOf(view: Uint8Array): number {
    const stamp = STAMP_VIEWS ? stampedBuffer(view) : undefined;
    const buffer = (stamp ?? view?.buffer) as PageBuffer | undefined;
    const slot = buffer?.[SLOT];
    if (slot === undefined || this.#buffers[slot] !== buffer) {
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
      : (slot << this.#pageShift) + view.byteOffset;
  }

  /**
   * Counters and gauges of the pages.
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   *
   * const backend = new HeapBackend();
   * const page = backend.allocPage(1, false);
   * if (backend.stats().bytesInUse !== 8192) throw new Error();
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
      if (bytes[slot] !== 0 && r >= 1 && r <= PINNED_REFS) {
        pinnedPages++;
        pinnedBytes += bytes[slot];
      }
    }
    return {
      bytesTotal: this.maxBytes + this.reserveBytes,
      bytesInUse: this.#bytesInUse,
      pagesInUse: this.#pagesInUse,
      reserveInUse: this.#reserveInUse,
      pagesAllocated: this.#pagesAllocated,
      pagesFreed: this.#pagesFreed,
      pageFailures: this.#pageFailures,
      peakBytesInUse: this.#peak,
      pinnedPages,
      pinnedBytes,
    };
  }

  // ------------------------------------------- explicit resource management

  #disposed = false;

  /**
   * `using backend = new HeapBackend()`: retire the backend. Later
   * `allocPage` calls (a cache's refill) throw `ESTATE`; `free`, `view`,
   * `addressOf` and `stats` keep working, so fragments still in flight go
   * back as usual and their pages to the garbage collector (the heap
   * backend pools nothing, so there is nothing else to let go). Disposing
   * twice is harmless.
   *
   * @example
   * ```ts
   * import { createPageFragCache, HeapBackend } from "@pagefrag/pagefrag";
   *
   * using backend = new HeapBackend();
   * using cache = createPageFragCache({ backend });
   * cache.free(cache.alloc(100)!);
   * // leaving the scope disposes the cache (drain), then the backend
   * ```
   */
  [Symbol.dispose](): void {
    this.#disposed = true;
  }
}
