/**
 * The shared backend: every page lives in one `SharedArrayBuffer` arena and
 * every page's metadata lives in shared memory too, so a fragment allocated
 * in one worker can be freed (by address) in any other.
 *
 * This file also holds {@linkcode ArenaBackend}, the page allocator over one
 * contiguous arena that both this backend and the wasm backend
 * (`backends/wasm.ts`) use: a binary buddy allocator with coalescing, fed
 * from a high-water mark, under a short `Atomics` spin lock.
 *
 * **Addresses** are byte offsets in the arena. Order-0 *slots* of `pageSize`
 * bytes number the arena; slot 0 is never handed out, so an address is never
 * 0, and the arena never exceeds 1 GiB, so an address is always below 2^30,
 * a small integer on every engine (a V8 Smi: `allocHandle` never boxes a
 * number). A page of order k is naturally aligned: its slot is a multiple of
 * 2^k.
 *
 * **Metadata** (a second `SharedArrayBuffer`, an `Int32Array` over it) holds
 * the lock, the high-water mark, the heads of the free lists, the budget and
 * the stats counters, and per slot: the head slot of the live page covering
 * it (0 if none), the reference count, the order and flags (live,
 * pfmemalloc, free block) and the free-list links. Reference counts change
 * with `Atomics` and without the lock; allocating and releasing pages (and
 * therefore every counter) happen under the lock, a spin lock in the
 * metadata that sleeps in `Atomics.wait` when contended. It is held for
 * microseconds, but a worker terminated while holding it (inside
 * `allocPage`, the last `free` of a page, or `stats`) leaves it held for
 * good: end workers after they finish their pagefrag calls.
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
import {
  STAMP_VIEWS,
  stampedAddress,
  stampedBuffer,
  stampView,
} from "./view_stamp.ts";
import {
  type BackendOptions,
  resolveBackendOptions,
  type ResolvedBackendOptions,
} from "./options.ts";
import { show } from "../core/format.ts";
import { disposedError } from "./disposed.ts";
import { requireSharedMemory } from "./isolation.ts";

// ----------------------------------------------------------- metadata layout
// Int32 indices of the header.
const LOCK = 0;
const MAGIC = 1;
const LAYOUT = 2;
const SHIFT = 3;
const MAX_ORDER = 4;
const FIRST_SLOT = 5;
const SLOT_LIMIT = 6;
const HIGH_WATER = 7;
/** Heads of the free lists, one per order 0..10. */
const FREE_LISTS = 8;
// Float64 indices of the budget and the counters (byte offset 128).
const F64_BASE = 16;
const MAX_BYTES = 0;
const RESERVE_BYTES = 1;
const IN_USE = 2;
const RESERVE_IN_USE = 3;
const PAGES_IN_USE = 4;
const PAGES_ALLOCATED = 5;
const PAGES_FREED = 6;
const PAGE_FAILURES = 7;
const PEAK = 8;
const F64_COUNT = 9;
/** Int32s before the per-slot arrays (256 bytes). */
const HEADER_INTS = 64;
/** Per-slot Int32 arrays: heads, refs, info, next, prev. */
const SLOT_ARRAYS = 5;

const MAGIC_VALUE = 0x70667261; // "pfra"
const LAYOUT_VERSION = 1;

// Bits of info[slot].
const ORDER_MASK = 0x1f;
const PFMEMALLOC = 1 << 8;
const LIVE = 1 << 9;
const FREE = 1 << 10;

/** The highest address + 1 any arena may reach: addresses stay below 2^30. */
const ADDRESS_LIMIT = 2 ** 30;
/** Spins on a held lock before sleeping in `Atomics.wait`. */
const SPINS = 200;

/**
 * Every buffer object an arena made views of, mapped to the arena's metadata
 * (its identity). A map, not a property: a `WebAssembly.Memory`'s buffers
 * are frozen.
 */
const arenaOf = new WeakMap<ArrayBufferLike, SharedArrayBuffer>();

/** Whether this thread may block in `Atomics.wait` (false in a browser's main thread). */
let canWait = true;

function foreign(what: string, addr: unknown): PageFragError {
  return new PageFragError(
    "EFOREIGN",
    `${what}: address ${show(addr)} was not handed out by this backend`,
  );
}

function badOption(message: string): PageFragError {
  return new PageFragError("EINVAL_OPTION", message);
}

/**
 * A page allocator over one contiguous arena of memory: the logic shared by
 * {@linkcode SharedBackend} (a `SharedArrayBuffer`) and `WasmBackend` (a
 * `WebAssembly.Memory`). Subclasses supply the arena: how it grows and which
 * buffer object views are made over.
 *
 * Pages come from a binary buddy allocator: free blocks of each order sit in
 * a list; a request takes the smallest free block that fits and splits it;
 * a released page merges with its free buddy, order by order, up to
 * `maxOrder`. When no free block fits, the next naturally aligned block above
 * the high-water mark is taken (growing the arena if needed), and the gap
 * below it goes to the free lists. So mixed orders never leak address space,
 * and the arena is sized so fragmentation alone never refuses a page the
 * budget allows.
 *
 * All of this state is in shared memory: any number of backends in any
 * number of workers may work on the same arena, each with its own caches.
 *
 * @example
 * ```ts
 * import { ArenaBackend } from "@pagefrag/pagefrag/backends/shared";
 * import { SharedBackend } from "@pagefrag/pagefrag";
 *
 * const backend: ArenaBackend = new SharedBackend({ maxBytes: 1 << 20 });
 * const page = backend.allocPage(3, false);
 * if (page % 32768 !== 0) throw new Error("naturally aligned");
 * backend.free(page);
 * ```
 */
export abstract class ArenaBackend<
  // The buffer under the views: SharedArrayBuffer, or a wasm memory's buffer.
  B extends ArrayBufferLike = ArrayBufferLike,
> implements MemoryBackend<B> {
  /** Bytes in an order-0 page. */
  readonly pageSize: number;
  /** Highest page order. */
  readonly maxOrder: number;
  /** Budget in bytes for non-reserve pages (`Infinity` when unlimited). */
  readonly maxBytes: number;
  /** Emergency reserve in bytes. */
  readonly reserveBytes: number;

  /** The metadata's buffer: also this arena's identity in this worker. */
  readonly #metaBuffer: SharedArrayBuffer;
  readonly #meta: Int32Array;
  readonly #counters: Float64Array;
  /** Per slot: head slot of the live page covering it, else 0. */
  readonly #heads: Int32Array;
  /** Per head slot: the page's reference count. */
  readonly #refs: Int32Array;
  /** Per head slot: order | LIVE | PFMEMALLOC, or order | FREE for a free block. */
  readonly #info: Int32Array;
  /** Free-list links (0 ends a list). */
  readonly #next: Int32Array;
  readonly #prev: Int32Array;
  readonly #shift: number;
  readonly #firstSlot: number;
  readonly #slotLimit: number;
  /** The buffer new views are made over (current as far as this worker knows). */
  #buffer: ArrayBufferLike;

  /**
   * Wrap an arena whose metadata was made by
   * {@linkcode ArenaBackend.createMetadata} (here or in another worker).
   * `buffer` is the memory views are made over.
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
  protected constructor(metadata: SharedArrayBuffer, buffer: ArrayBufferLike) {
    const meta = new Int32Array(metadata);
    const counters = new Float64Array(metadata, F64_BASE * 8, F64_COUNT);
    const limit = meta[SLOT_LIMIT];
    this.#metaBuffer = metadata;
    this.#meta = meta;
    this.#counters = counters;
    this.#heads = new Int32Array(metadata, HEADER_INTS * 4, limit);
    this.#refs = new Int32Array(metadata, (HEADER_INTS + limit) * 4, limit);
    this.#info = new Int32Array(metadata, (HEADER_INTS + 2 * limit) * 4, limit);
    this.#next = new Int32Array(metadata, (HEADER_INTS + 3 * limit) * 4, limit);
    this.#prev = new Int32Array(metadata, (HEADER_INTS + 4 * limit) * 4, limit);
    this.#shift = meta[SHIFT];
    this.#firstSlot = meta[FIRST_SLOT];
    this.#slotLimit = limit;
    this.pageSize = 1 << meta[SHIFT];
    this.maxOrder = meta[MAX_ORDER];
    this.maxBytes = counters[MAX_BYTES];
    this.reserveBytes = counters[RESERVE_BYTES];
    this.#buffer = buffer;
    this.#claim(buffer);
  }

  // ------------------------------------------------------ for the subclasses

  /**
   * The number of order-0 slots an arena needs so that fragmentation alone
   * never refuses a page the budget allows (capped so every address stays
   * below 2^30). The arena starts at slot `firstSlot`.
   *
   * A new block is taken above the high-water mark only when no free block
   * fits; then every whole `maxOrder` block below the mark holds a live
   * page (else it would have merged into a free one), so the mark stays
   * below `firstSlot` rounded up + (live pages + 2) max-order blocks.
   *
   * @example
   * ```ts
   * import { SharedBackend } from "@pagefrag/pagefrag";
   *
   * class Probe extends SharedBackend {
   *   static slots(maxBytes: number): number {
   *     return SharedBackend.arenaSlots({ pageSize: 4096, maxOrder: 3, maxBytes, reserveBytes: 0 }, 1);
   *   }
   * }
   * if (Probe.slots(Infinity) !== 2 ** 18) throw new Error("1 GiB of 4 KiB slots");
   * if (Probe.slots(65536) !== 8 + 17 * 8) throw new Error();
   * ```
   */
  protected static arenaSlots(
    o: ResolvedBackendOptions,
    firstSlot: number,
  ): number {
    const cap = ADDRESS_LIMIT / o.pageSize;
    const total = o.maxBytes + o.reserveBytes;
    if (!(total < ADDRESS_LIMIT)) return cap;
    const span = 2 ** o.maxOrder;
    const pages = Math.floor(total / o.pageSize);
    const need = Math.ceil(firstSlot / span) * span + (pages + 1) * span;
    return Math.min(cap, need);
  }

  /**
   * Make and initialise the shared metadata of a new arena whose pages may
   * use slots `firstSlot .. slotLimit - 1` (addresses
   * `firstSlot * pageSize .. slotLimit * pageSize - 1`).
   *
   * @example
   * ```ts
   * import { SharedBackend } from "@pagefrag/pagefrag";
   *
   * class Probe extends SharedBackend {
   *   static metaBytes(): number {
   *     const o = { pageSize: 4096, maxOrder: 3, maxBytes: Infinity, reserveBytes: 0 };
   *     return SharedBackend.createMetadata(o, 1, 64).byteLength;
   *   }
   * }
   * if (Probe.metaBytes() !== 256 + 5 * 4 * 64) throw new Error();
   * ```
   */
  protected static createMetadata(
    o: ResolvedBackendOptions,
    firstSlot: number,
    slotLimit: number,
  ): SharedArrayBuffer {
    const sab = new SharedArrayBuffer(
      (HEADER_INTS + SLOT_ARRAYS * slotLimit) * 4,
    );
    const meta = new Int32Array(sab);
    meta[MAGIC] = MAGIC_VALUE;
    meta[LAYOUT] = LAYOUT_VERSION;
    meta[SHIFT] = 31 - Math.clz32(o.pageSize);
    meta[MAX_ORDER] = o.maxOrder;
    meta[FIRST_SLOT] = firstSlot;
    meta[SLOT_LIMIT] = slotLimit;
    meta[HIGH_WATER] = firstSlot;
    const counters = new Float64Array(sab, F64_BASE * 8, F64_COUNT);
    counters[MAX_BYTES] = o.maxBytes;
    counters[RESERVE_BYTES] = o.reserveBytes;
    return sab;
  }

  /**
   * Check that `metadata` is an arena's metadata with the geometry and
   * budget of `d` (as given to `attach`), and return the first slot and slot
   * limit it records. Throws `EINVAL_OPTION` naming what is wrong.
   *
   * @example
   * ```ts
   * import { SharedBackend } from "@pagefrag/pagefrag";
   *
   * class Probe extends SharedBackend {
   *   static limits(b: SharedBackend): { firstSlot: number; slotLimit: number } {
   *     const d = b.share();
   *     return SharedBackend.checkMetadata(d.meta, d);
   *   }
   * }
   * if (Probe.limits(new SharedBackend()).firstSlot !== 1) throw new Error();
   * ```
   */
  protected static checkMetadata(
    metadata: unknown,
    d: {
      pageSize: unknown;
      maxOrder: unknown;
      maxBytes: unknown;
      reserveBytes: unknown;
    },
  ): { firstSlot: number; slotLimit: number } {
    if (
      typeof SharedArrayBuffer === "undefined" ||
      !(metadata instanceof SharedArrayBuffer) ||
      metadata.byteLength < HEADER_INTS * 4
    ) {
      throw badOption(
        `attach(): the descriptor's meta must be the SharedArrayBuffer from share(), got ${
          show(metadata)
        }`,
      );
    }
    const meta = new Int32Array(metadata, 0, HEADER_INTS);
    const counters = new Float64Array(metadata, F64_BASE * 8, F64_COUNT);
    const firstSlot = meta[FIRST_SLOT];
    const slotLimit = meta[SLOT_LIMIT];
    if (
      meta[MAGIC] !== MAGIC_VALUE || meta[LAYOUT] !== LAYOUT_VERSION ||
      !(firstSlot >= 1 && firstSlot < slotLimit) ||
      metadata.byteLength !== (HEADER_INTS + SLOT_ARRAYS * slotLimit) * 4
    ) {
      throw badOption(
        "attach(): the descriptor's meta is not the metadata of a pagefrag arena (or of another layout version)",
      );
    }
    const have = {
      pageSize: 2 ** meta[SHIFT],
      maxOrder: meta[MAX_ORDER],
      maxBytes: counters[MAX_BYTES],
      reserveBytes: counters[RESERVE_BYTES],
    };
    for (const key of Object.keys(have) as (keyof typeof have)[]) {
      if (d[key] !== have[key]) {
        throw badOption(
          `attach(): the descriptor's ${key} ${
            show(d[key])
          } disagrees with the arena's ${have[key]}`,
        );
      }
    }
    return { firstSlot, slotLimit };
  }

  /**
   * Make the arena at least `bytes` long, growing it if needed; false when
   * it cannot grow that far. Called under the arena's lock.
   */
  protected abstract growArena(bytes: number): boolean;

  /**
   * The buffer new views should be made over, when the one this backend
   * holds is too short (the arena grew) or unusable. Throws `ESTATE` if the
   * arena's memory is gone.
   */
  protected abstract currentBuffer(): ArrayBufferLike;

  /** This arena's metadata (what `share()` hands to other workers). */
  protected get metadata(): SharedArrayBuffer {
    return this.#metaBuffer;
  }

  /** Tag `buffer` so views of it are recognised by `addressOf` and `pageFragFree`. */
  #claim(buffer: ArrayBufferLike): void {
    arenaOf.set(buffer, this.#metaBuffer);
    try {
      claimBuffer(buffer, this);
    } catch {
      // A frozen buffer (a wasm memory's) cannot carry the owner tag with
      // this version of core/owner.ts: pageFragFree cannot route its views.
    }
  }

  // ------------------------------------------------------------------- lock

  #lock(): void {
    if (Atomics.compareExchange(this.#meta, LOCK, 0, 1) !== 0) {
      this.#lockSlow();
    }
  }

  /** Spin a little, then sleep: 0 free, 1 held, 2 held with sleepers. */
  #lockSlow(): void {
    const meta = this.#meta;
    for (let i = 0; i < SPINS; i++) {
      if (meta[LOCK] === 0 && Atomics.compareExchange(meta, LOCK, 0, 1) === 0) {
        return;
      }
    }
    while (Atomics.exchange(meta, LOCK, 2) !== 0) {
      if (canWait) {
        try {
          Atomics.wait(meta, LOCK, 2, 10);
        } catch {
          canWait = false; // a thread that may not block: keep spinning
        }
      }
    }
  }

  #unlock(): void {
    if (Atomics.exchange(this.#meta, LOCK, 0) === 2) {
      Atomics.notify(this.#meta, LOCK, 1);
    }
  }

  // -------------------------------------------------------- buddy allocator

  /** Take a free block of `order`: from the free lists, else above the high-water mark; 0 if none. */
  #takeBlock(order: number): number {
    const meta = this.#meta;
    for (let k = order; k <= this.maxOrder; k++) {
      const slot = meta[FREE_LISTS + k];
      if (slot === 0) continue;
      this.#unlink(slot, k);
      // Split: keep the lower half, give the upper halves back.
      while (k > order) {
        k--;
        this.#push(slot + (1 << k), k);
      }
      return slot;
    }
    const span = 1 << order;
    const hw = meta[HIGH_WATER];
    const slot = (hw + span - 1) & -span;
    const end = slot + span;
    if (end > this.#slotLimit || !this.growArena(end << this.#shift)) return 0;
    // The alignment gap below the new block becomes free blocks.
    for (let p = hw; p < slot;) {
      let k = 0;
      while (
        k < this.maxOrder && (p & (1 << k)) === 0 && p + (2 << k) <= slot
      ) {
        k++;
      }
      this.#insertFree(p, k);
      p += 1 << k;
    }
    meta[HIGH_WATER] = end;
    return slot;
  }

  /** Give a block back, merging it with its free buddy order by order. */
  #insertFree(slot: number, order: number): void {
    const info = this.#info;
    while (order < this.maxOrder) {
      const buddy = slot ^ (1 << order);
      if (buddy >= this.#slotLimit || info[buddy] !== (FREE | order)) break;
      this.#unlink(buddy, order);
      slot &= buddy;
      order++;
    }
    this.#push(slot, order);
  }

  #push(slot: number, order: number): void {
    const meta = this.#meta;
    const head = meta[FREE_LISTS + order];
    this.#info[slot] = FREE | order;
    this.#next[slot] = head;
    this.#prev[slot] = 0;
    if (head !== 0) this.#prev[head] = slot;
    meta[FREE_LISTS + order] = slot;
  }

  #unlink(slot: number, order: number): void {
    const prev = this.#prev[slot];
    const next = this.#next[slot];
    if (prev !== 0) this.#next[prev] = next;
    else this.#meta[FREE_LISTS + order] = next;
    if (next !== 0) this.#prev[next] = prev;
    this.#info[slot] = 0;
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
   *
   * const backend = new SharedBackend({ maxBytes: 4096 });
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
        `allocPage(): order must be an integer from 0 to ${this.maxOrder}, got ${
          show(order)
        }`,
      );
    }
    const bytes = this.pageSize << order;
    const c = this.#counters;
    this.#lock();
    try {
      let pf = 0;
      if (c[IN_USE] - c[RESERVE_IN_USE] + bytes > this.maxBytes) {
        if (!reserve || c[RESERVE_IN_USE] + bytes > this.reserveBytes) {
          c[PAGE_FAILURES]++;
          return 0;
        }
        pf = PFMEMALLOC;
      }
      const slot = this.#takeBlock(order);
      if (slot === 0) {
        c[PAGE_FAILURES]++; // the arena cannot grow that far
        return 0;
      }
      this.#heads.fill(slot, slot, slot + (1 << order));
      this.#info[slot] = LIVE | pf | order;
      Atomics.store(this.#refs, slot, 1);
      c[IN_USE] += bytes;
      if (pf !== 0) c[RESERVE_IN_USE] += bytes;
      c[PAGES_IN_USE]++;
      c[PAGES_ALLOCATED]++;
      if (c[IN_USE] > c[PEAK]) c[PEAK] = c[IN_USE];
      return slot << this.#shift;
    } finally {
      this.#unlock();
    }
  }

  /** Return the live page at head `slot` to the free lists (its count is zero). */
  #release(slot: number, what: string): void {
    const c = this.#counters;
    this.#lock();
    try {
      const info = this.#info[slot];
      if ((info & LIVE) === 0 || this.#heads[slot] !== slot) {
        throw new PageFragError(
          "EDOUBLEFREE",
          `${what}: the page at ${
            slot << this.#shift
          } was released twice (freed twice?)`,
        );
      }
      const order = info & ORDER_MASK;
      const bytes = this.pageSize << order;
      this.#heads.fill(0, slot, slot + (1 << order));
      this.#info[slot] = 0;
      c[IN_USE] -= bytes;
      if ((info & PFMEMALLOC) !== 0) c[RESERVE_IN_USE] -= bytes;
      c[PAGES_IN_USE]--;
      c[PAGES_FREED]++;
      this.#insertFree(slot, order);
    } finally {
      this.#unlock();
    }
  }

  /** Head slot of the live page at `addr`; throws `EFOREIGN`/`EDOUBLEFREE`. */
  #liveSlot(addr: number, what: string): number {
    const slot = addr >>> this.#shift;
    if (
      (addr >>> 0) !== addr || slot < this.#firstSlot ||
      slot >= this.#meta[HIGH_WATER]
    ) {
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
    return (this.#info[head] & PFMEMALLOC) !== 0;
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
    Atomics.add(this.#refs, this.#liveSlot(page, "pageRefAdd()"), n);
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
      if (Atomics.compareExchange(refs, head, old, r) === old) return r === 0;
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
   * one returns the page (`page_frag_free`).
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
    const head = this.#heads[addr >>> this.#shift];
    if (head > 0 && (addr >>> 0) === addr) {
      const old = Atomics.sub(this.#refs, head, 1);
      if (old > 1) return;
      if (old === 1) return this.#release(head, "free()");
      Atomics.add(this.#refs, head, 1); // it had no reference to drop
      throw new PageFragError(
        "EDOUBLEFREE",
        `free(): the page of address ${addr} holds no reference to drop (freed twice?)`,
      );
    }
    this.#liveSlot(addr, "free()");
  }

  /**
   * The fragment's memory as a `Uint8Array` over the arena (no copy).
   * `EINVAL_SIZE` if `size` bytes at `addr` do not fit in the page.
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
    const head = this.#heads[addr >>> this.#shift];
    if (
      head > 0 && (addr >>> 0) === addr && size >= 0 &&
      addr + size <=
        (head << this.#shift) +
          (this.pageSize << (this.#info[head] & ORDER_MASK))
    ) {
      let view: Uint8Array;
      try {
        view = new Uint8Array(this.#buffer, addr, size);
      } catch {
        view = this.#viewSlow(addr, size);
      }
      // #viewSlow switched this.#buffer to the view's buffer if it had to.
      if (STAMP_VIEWS) stampView(view, this.#buffer, addr); // for addressOf
      return view as Uint8Array<B>;
    }
    this.#liveSlot(addr, "view()");
    throw new PageFragError(
      "EINVAL_SIZE",
      `view(): ${show(size)} bytes at ${addr} do not fit in the page`,
    );
  }

  /** The buffer this backend holds is too short (the arena grew) or unusable: take the current one. */
  #viewSlow(addr: number, size: number): Uint8Array {
    const buffer = this.currentBuffer();
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
   * is `EFOREIGN` (send addresses between workers, not views).
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
    const offset = view.byteOffset;
    if (view.buffer === this.#buffer && offset !== 0) return offset;
    return this.#addressOfSlow(view);
  }

  #addressOfSlow(view: Uint8Array): number {
    const buffer = (view as Partial<Uint8Array> | null | undefined)?.buffer;
    if (buffer !== undefined && arenaOf.get(buffer) === this.#metaBuffer) {
      if (buffer.byteLength === 0) this.currentBuffer(); // throws ESTATE
      return view.byteOffset;
    }
    throw new PageFragError(
      "EFOREIGN",
      "addressOf(): the view was not handed out by this backend (views that crossed workers are other objects: send addresses)",
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
    this.#lock();
    try {
      // Pinned pages: a scan of the live heads below the high-water mark
      // (stats() is not a hot path). Counts are read atomically; a free in
      // another worker may change one meanwhile, as it may right after.
      let pinnedPages = 0;
      let pinnedBytes = 0;
      const info = this.#info;
      const end = this.#meta[HIGH_WATER];
      for (let slot = this.#firstSlot; slot < end; slot++) {
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
      };
    } finally {
      this.#unlock();
    }
  }

  // ------------------------------------------- explicit resource management

  #disposed = false;

  /**
   * `using backend = new SharedBackend()`: retire this worker's handle on
   * the arena. Later `allocPage` calls (a cache's refill) throw `ESTATE`;
   * `free`, `view`, `addressOf` and `stats` keep working, so fragments still
   * in flight go back as usual. Handles attached in other workers, and the
   * arena itself, are untouched: the memory goes when the last handle is
   * garbage-collected. Disposing twice is harmless.
   *
   * @example
   * ```ts
   * import { SharedBackend } from "@pagefrag/pagefrag";
   *
   * const backend = new SharedBackend({ maxBytes: 1 << 20 });
   * const page = backend.allocPage(0, false);
   * backend[Symbol.dispose]();
   * backend.free(page);                       // still fine
   * try {
   *   backend.allocPage(0, false);
   *   throw new Error("unreachable");
   * } catch (e) {
   *   if ((e as { code?: string }).code !== "ESTATE") throw e;
   * }
   * ```
   */
  [Symbol.dispose](): void {
    this.#disposed = true;
  }
}

/**
 * Options of {@linkcode SharedBackend}: page geometry and budget, and the
 * arena's initial size.
 *
 * @example
 * ```ts
 * import { SharedBackend, type SharedBackendOptions } from "@pagefrag/pagefrag";
 *
 * const opts: SharedBackendOptions = { maxBytes: 16 << 20, initialBytes: 1 << 20 };
 * const backend = new SharedBackend(opts);
 * if (backend.stats().bytesTotal !== 16 << 20) throw new Error();
 * ```
 */
export interface SharedBackendOptions extends BackendOptions {
  /**
   * Bytes the arena starts with (rounded up to `pageSize`); it grows on
   * demand up to its maximum, which derives from `maxBytes + reserveBytes`
   * (just under 1 GiB when unlimited). Default: 1 MiB, or the maximum if
   * smaller.
   */
  initialBytes?: number;
}

/**
 * What {@linkcode SharedBackend.share} returns and
 * {@linkcode SharedBackend.attach} takes: a plain, structured-cloneable
 * object holding the arena's two `SharedArrayBuffer`s and its geometry.
 * Post it to a worker (`postMessage`, `workerData`).
 *
 * @example
 * ```ts
 * import { SharedBackend, type SharedBackendDescriptor } from "@pagefrag/pagefrag";
 *
 * const d: SharedBackendDescriptor = new SharedBackend({ pageSize: 8192 }).share();
 * if (d.kind !== "pagefrag.shared" || d.version !== 1 || d.pageSize !== 8192) throw new Error();
 * ```
 */
export interface SharedBackendDescriptor {
  /** Always `"pagefrag.shared"`. */
  readonly kind: "pagefrag.shared";
  /** Layout version of the descriptor and metadata: 1. */
  readonly version: 1;
  /** The pages: a growable `SharedArrayBuffer`; addresses are offsets in it. */
  readonly arena: SharedArrayBuffer;
  /** The metadata: lock, free lists, counters, per-page reference counts and flags. */
  readonly meta: SharedArrayBuffer;
  /** Bytes in an order-0 page. */
  readonly pageSize: number;
  /** Highest page order. */
  readonly maxOrder: number;
  /** Budget in bytes (`Infinity` when unlimited). */
  readonly maxBytes: number;
  /** Reserve in bytes. */
  readonly reserveBytes: number;
}

/**
 * Pages in one `SharedArrayBuffer` arena shared by workers: a fragment
 * allocated by a cache in one worker can be freed by address in any worker
 * attached to the arena, and `stats()` counts the whole arena.
 *
 * Each worker makes its own caches over its own backend object
 * (`SharedBackend.attach(descriptor)`); only pages are shared. Addresses
 * (small integers) are the currency between workers: a view that crossed a
 * worker boundary is a view of another buffer object, which `addressOf`
 * refuses.
 *
 * The arena is a growable `SharedArrayBuffer` whose maximum derives from the
 * budget (`(maxBytes + reserveBytes)` times `2^maxOrder`, enough that
 * fragmentation never refuses a page the budget allows, capped at 1 GiB so
 * addresses stay below 2^30). It grows on demand; growing never moves or
 * detaches a view.
 *
 * @example Free in another worker
 * ```ts
 * import { createPageFragCache, SharedBackend } from "@pagefrag/pagefrag";
 *
 * const backend = new SharedBackend({ maxBytes: 64 << 20 });
 * const cache = createPageFragCache({ backend });
 * const addr = cache.allocHandle(1500)!;
 * backend.view(addr, 1500).fill(1);
 *
 * // In a worker, given the descriptor (e.g. as workerData):
 * const there = SharedBackend.attach(backend.share());
 * if (there.view(addr, 1500)[1499] !== 1) throw new Error();
 * there.free(addr);
 * ```
 */
export class SharedBackend extends ArenaBackend<SharedArrayBuffer> {
  /** The arena (pages); addresses are byte offsets in it. */
  readonly arena: SharedArrayBuffer;

  /**
   * Make a shared backend with a new arena. Throws `EINVAL_OPTION` for a bad
   * option.
   *
   * @example
   * ```ts
   * import { SharedBackend } from "@pagefrag/pagefrag";
   *
   * const backend = new SharedBackend({ pageSize: 16384, maxOrder: 0, maxBytes: 1 << 20 });
   * if (backend.pageSize !== 16384 || !(backend.arena instanceof SharedArrayBuffer)) throw new Error();
   * ```
   */
  constructor(options?: SharedBackendOptions);
  /**
   * Wrap an existing arena (used by {@linkcode SharedBackend.attach}).
   *
   * @example
   * ```ts
   * import { SharedBackend } from "@pagefrag/pagefrag";
   *
   * const other = SharedBackend.attach(new SharedBackend().share());
   * if (other.pageSize !== 4096) throw new Error();
   * ```
   */
  constructor(descriptor: SharedBackendDescriptor);
  constructor(
    options: SharedBackendOptions | SharedBackendDescriptor = {},
  ) {
    requireSharedMemory("SharedBackend"); // EUNSUPPORTED, naming COOP/COEP
    const d = isDescriptor(options)
      ? SharedBackend.#check(options)
      : SharedBackend.#create(options);
    super(d.meta, d.arena);
    this.arena = d.arena;
  }

  /** Make the arena and metadata of a new shared backend. */
  static #create(
    options: SharedBackendOptions,
  ): { meta: SharedArrayBuffer; arena: SharedArrayBuffer } {
    const o = resolveBackendOptions(options);
    const slotLimit = ArenaBackend.arenaSlots(o, 1);
    const maxLength = slotLimit * o.pageSize;
    const initial = options.initialBytes ?? Math.min(maxLength, 1 << 20);
    if (
      typeof initial !== "number" || !Number.isSafeInteger(initial) ||
      initial < 0 || initial > maxLength
    ) {
      throw badOption(
        `initialBytes must be an integer from 0 to ${maxLength} (the arena's maximum for this budget), got ${
          show(initial)
        }`,
      );
    }
    const length = Math.max(
      o.pageSize,
      Math.ceil(initial / o.pageSize) * o.pageSize,
    );
    let arena = new SharedArrayBuffer(length, { maxByteLength: maxLength });
    // An engine without growable SharedArrayBuffers gets the whole arena at
    // once (memory never touched costs no RAM on the usual systems).
    if (!arena.growable) arena = new SharedArrayBuffer(maxLength);
    return { meta: ArenaBackend.createMetadata(o, 1, slotLimit), arena };
  }

  /** Validate an attach descriptor: shape, version, metadata, arena. */
  static #check(
    d: SharedBackendDescriptor,
  ): { meta: SharedArrayBuffer; arena: SharedArrayBuffer } {
    if (d.version !== 1) {
      throw badOption(
        `attach(): descriptor version ${show(d.version)} is not supported (1)`,
      );
    }
    const { firstSlot, slotLimit } = ArenaBackend.checkMetadata(d.meta, d);
    const arena: unknown = d.arena;
    if (
      firstSlot !== 1 || !(arena instanceof SharedArrayBuffer) ||
      arena.byteLength < d.pageSize ||
      (arena.growable ? arena.maxByteLength : arena.byteLength) !==
        slotLimit * d.pageSize
    ) {
      throw badOption(
        `attach(): the descriptor's arena must be the SharedArrayBuffer from share(), got ${
          show(arena)
        }`,
      );
    }
    return { meta: d.meta, arena };
  }

  /**
   * A structured-cloneable descriptor of this arena, for
   * {@linkcode SharedBackend.attach} in another worker.
   *
   * @example
   * ```ts
   * import { SharedBackend } from "@pagefrag/pagefrag";
   *
   * const d = new SharedBackend().share();
   * const copy = structuredClone(d); // what a worker receives
   * if (SharedBackend.attach(copy).pageSize !== 4096) throw new Error();
   * ```
   */
  share(): SharedBackendDescriptor {
    return {
      kind: "pagefrag.shared",
      version: 1,
      arena: this.arena,
      meta: this.metadata,
      pageSize: this.pageSize,
      maxOrder: this.maxOrder,
      maxBytes: this.maxBytes,
      reserveBytes: this.reserveBytes,
    };
  }

  /**
   * A backend over the arena `descriptor` describes (from
   * {@linkcode SharedBackend.share}, possibly in another worker). Throws
   * `EINVAL_OPTION` for anything that is not such a descriptor.
   *
   * @example
   * ```ts
   * import { createPageFragCache, SharedBackend } from "@pagefrag/pagefrag";
   *
   * const home = new SharedBackend();
   * const away = SharedBackend.attach(structuredClone(home.share()));
   * const cache = createPageFragCache({ backend: away });
   * const addr = cache.allocHandle(64)!;
   * home.free(addr); // freed through the other backend object
   * ```
   */
  static attach(descriptor: SharedBackendDescriptor): SharedBackend {
    if (!isDescriptor(descriptor)) {
      throw badOption(
        `attach(): expected a descriptor from SharedBackend.share(), got ${
          show(descriptor)
        }`,
      );
    }
    return new SharedBackend(descriptor);
  }

  /** Grow the arena (under the lock) to at least `bytes`, doubling when it can. */
  protected growArena(bytes: number): boolean {
    const arena = this.arena;
    const length = arena.byteLength;
    if (bytes <= length) return true;
    if (!arena.growable || bytes > arena.maxByteLength) return false;
    const target = Math.min(arena.maxByteLength, Math.max(bytes, length * 2));
    try {
      arena.grow(target);
    } catch {
      try {
        arena.grow(bytes);
      } catch {
        return false; // the engine is out of memory: a failed page
      }
    }
    return true;
  }

  /** The arena: a growable buffer is one object forever. */
  protected currentBuffer(): ArrayBufferLike {
    return this.arena;
  }
}

function isDescriptor(x: unknown): x is SharedBackendDescriptor {
  return typeof x === "object" && x !== null &&
    (x as { kind?: unknown }).kind === "pagefrag.shared";
}
