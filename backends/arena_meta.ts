/**
 * The shared metadata of a buddy arena (internal to the arena backends): its
 * layout in one `SharedArrayBuffer`, the buddy allocator's free lists, the
 * budget bookkeeping, and the repair that rebuilds all of it from the page
 * table after a thread died while it held the arena's lock.
 *
 * Everything here runs under the arena's lock (backends/lock.ts), except
 * the reference counts, which change with `Atomics` from any thread.
 *
 * **Layout** (Int32 indices): a 64-word header (lock, identity, geometry,
 * high-water mark, free-list heads, the release signal; the budget and
 * counters as Float64s from byte 128), the attachment table (one record per
 * thread attached), the cache-state records (the state of caches made over
 * the arena, so a dead thread's caches can be drained), then five per-slot
 * arrays: heads, refs, info, next, prev.
 *
 * @module
 */
import { PageFragError } from "../core/errors.ts";
import { show } from "../core/format.ts";
import { CACHE_STATE_BYTES } from "../core/cache.ts";
import type { ResolvedBackendOptions } from "./options.ts";

// ------------------------------------------------------------------ header
/** The arena's lock: words 0..2 (holder, depth, sleepers). */
export const LOCK = 0;
const MAGIC = 3;
const LAYOUT = 4;
const SHIFT = 5;
const MAX_ORDER = 6;
const FIRST_SLOT = 7;
const SLOT_LIMIT = 8;
const HIGH_WATER = 9;
/** The arena's identity: a random 53-bit number in two words. */
const UID_LO = 10;
const UID_HI = 11;
/** The release signal: +1 on every page release (see MemoryBackend.releaseSignal). */
export const RELEASES = 12;
/** The lock timeout every attachment starts with, in ms. */
const TIMEOUT_MS = 13;
/** 1 when the arena memory's first 8 bytes hold the identity (checked by attach). */
const STAMPED = 14;
/** Heads of the free lists, one per order 0..10. */
const FREE_LISTS = 16;
// Float64 indices of the budget and the counters (byte offset 128).
const F64_BASE = 16;
/** Float64 index: the budget. */
export const MAX_BYTES = 0;
/** Float64 index: the reserve. */
export const RESERVE_BYTES = 1;
/** Float64 index: bytes of live pages. */
export const IN_USE = 2;
/** Float64 index: bytes of live reserve pages. */
export const RESERVE_IN_USE = 3;
/** Float64 index: live pages. */
export const PAGES_IN_USE = 4;
/** Float64 index: pages handed out (cumulative). */
export const PAGES_ALLOCATED = 5;
/** Float64 index: pages returned (cumulative). */
export const PAGES_FREED = 6;
/** Float64 index: refused page requests (cumulative). */
export const PAGE_FAILURES = 7;
/** Float64 index: the highest bytes in use. */
export const PEAK = 8;
const F64_COUNT = 9;
const HEADER_INTS = 64;

// -------------------------------------------------------- attachment table
/** Threads that may be attached to one arena at once. */
export const MAX_ATTACH = 128;
/** Int32s per attachment record: state, pending page, releasing page, spare. */
const ATTACH_INTS = 4;
/** Attachment record words. */
export const A_STATE = 0;
/** The page this thread took last and may not have installed yet (head slot). */
export const A_PENDING = 1;
/** The page this thread brought to zero references and is returning (head slot). */
export const A_RELEASING = 2;
/**
 * The generation of the slot's current (or last) attachment: an attachment
 * id is `generation * MAX_ATTACH + slot + 1`, so an id is never reused for
 * another thread (a lock word that still names a dead thread can never be
 * mistaken for a new thread's re-entry).
 */
export const A_GEN = 3;
/** Attachment states. */
export const FREE_ID = 0;
/** The thread is attached. */
export const ALIVE = 1;
/** The thread was declared dead; its state is being recovered. */
export const DEAD = 2;
const ATTACH_BASE = HEADER_INTS;

// ------------------------------------------------------ cache-state records
/** Cache states kept in the metadata (the rest stay private, unrecoverable). */
export const MAX_CACHES = 64;
const CACHE_OWNERS = ATTACH_BASE + MAX_ATTACH * ATTACH_INTS;
const CACHE_DATA_BYTE = (CACHE_OWNERS + MAX_CACHES) * 4;
const SLOTS_BASE = (CACHE_DATA_BYTE + MAX_CACHES * CACHE_STATE_BYTES) / 4;
/** Per-slot Int32 arrays: heads, refs, info, next, prev. */
const SLOT_ARRAYS = 5;

const MAGIC_VALUE = 0x70667261; // "pfra"
const LAYOUT_VERSION = 2;

// Bits of info[slot].
/** The order bits of info[slot]. */
export const ORDER_MASK = 0x1f;
/** info[slot]: the page came from the reserve. */
export const PFMEMALLOC = 1 << 8;
/** info[slot]: a live page's head. */
export const LIVE = 1 << 9;
const FREE = 1 << 10;
/**
 * info[slot] bits 16..23: 1 + the attachment slot of the thread that has
 * the page in transit (taken by allocPage, or being recycled, and not yet
 * recorded by its cache), 0 when none. Recovery returns such a page of a
 * dead thread; the release of a page clears it with the rest of info.
 */
export const TRANSIT_SHIFT = 16;
/** See {@linkcode TRANSIT_SHIFT}. */
export const TRANSIT_MASK = 0xff << TRANSIT_SHIFT;

/** The highest address + 1 any arena may reach: addresses stay below 2^30. */
export const ADDRESS_LIMIT = 2 ** 30;

function badOption(message: string): PageFragError {
  return new PageFragError("EINVAL_OPTION", message);
}

/**
 * Own enumerable properties of `o` in an object with no prototype: a
 * property set on `Object.prototype` must configure nothing (internal).
 */
export function ownProps<T extends object>(o: T): T {
  return Object.assign(Object.create(null), o);
}

/** A random identity for a new arena: a positive safe integer. */
function newUid(): number {
  const w = new Uint32Array(2);
  crypto.getRandomValues(w);
  return (w[1] & 0x1fffff) * 2 ** 32 + w[0] + 1;
}

/** What attach needs to know about an arena's metadata (internal). */
export interface ArenaGeometry {
  readonly firstSlot: number;
  readonly slotLimit: number;
  readonly uid: number;
  readonly stamped: boolean;
}

/**
 * Typed views of one arena's metadata and the buddy allocator over them
 * (internal: the arena backends' engine room).
 *
 * @example
 * ```ts
 * import { ArenaMeta } from "./arena_meta.ts";
 *
 * const o = { pageSize: 4096, maxOrder: 3, maxBytes: Infinity, reserveBytes: 0 };
 * const m = new ArenaMeta(ArenaMeta.create(o, 1, 64, 2000, false));
 * if (m.takeBlock(0, () => true) !== 1) throw new Error("slot 1 first");
 * ```
 */
export class ArenaMeta {
  readonly buffer: SharedArrayBuffer;
  readonly meta: Int32Array;
  readonly counters: Float64Array;
  /** Per slot: head slot of the live page covering it, else 0. */
  readonly heads: Int32Array;
  /** Per head slot: the page's reference count. */
  readonly refs: Int32Array;
  /** Per head slot: order | LIVE | PFMEMALLOC, or order | FREE for a free block. */
  readonly info: Int32Array;
  readonly next: Int32Array;
  readonly prev: Int32Array;
  readonly shift: number;
  readonly pageSize: number;
  readonly maxOrder: number;
  readonly firstSlot: number;
  readonly slotLimit: number;
  readonly uid: number;
  readonly timeoutMs: number;

  constructor(buffer: SharedArrayBuffer) {
    const meta = new Int32Array(buffer);
    const limit = meta[SLOT_LIMIT];
    const slots = (i: number) =>
      new Int32Array(buffer, (SLOTS_BASE + i * limit) * 4, limit);
    this.buffer = buffer;
    this.meta = meta;
    this.counters = new Float64Array(buffer, F64_BASE * 8, F64_COUNT);
    this.heads = slots(0);
    this.refs = slots(1);
    this.info = slots(2);
    this.next = slots(3);
    this.prev = slots(4);
    this.shift = meta[SHIFT];
    this.pageSize = 1 << meta[SHIFT];
    this.maxOrder = meta[MAX_ORDER];
    this.firstSlot = meta[FIRST_SLOT];
    this.slotLimit = limit;
    this.uid = meta[UID_HI] * 2 ** 32 + (meta[UID_LO] >>> 0);
    this.timeoutMs = meta[TIMEOUT_MS];
  }

  /** Metadata bytes of an arena of `slotLimit` slots. */
  static bytes(slotLimit: number): number {
    return (SLOTS_BASE + SLOT_ARRAYS * slotLimit) * 4;
  }

  /**
   * The number of order-0 slots an arena needs so that fragmentation alone
   * never refuses a page the budget allows (capped so every address stays
   * below 2^30). A new block is taken above the high-water mark only when
   * no free block fits; then every whole `maxOrder` block below the mark
   * holds a live page (else it would have merged into a free one), so the
   * mark stays below `firstSlot` rounded up + (live pages + 2) max-order
   * blocks.
   */
  static slots(o: ResolvedBackendOptions, firstSlot: number): number {
    const cap = ADDRESS_LIMIT / o.pageSize;
    const total = o.maxBytes + o.reserveBytes;
    if (!(total < ADDRESS_LIMIT)) return cap;
    const span = 2 ** o.maxOrder;
    const pages = Math.floor(total / o.pageSize);
    const need = Math.ceil(firstSlot / span) * span + (pages + 1) * span;
    return Math.min(cap, need);
  }

  /** Make and initialise the metadata of a new arena (slots `firstSlot .. slotLimit - 1`). */
  static create(
    o: ResolvedBackendOptions,
    firstSlot: number,
    slotLimit: number,
    timeoutMs: number,
    stamped: boolean,
  ): SharedArrayBuffer {
    const sab = new SharedArrayBuffer(ArenaMeta.bytes(slotLimit));
    const meta = new Int32Array(sab);
    const uid = newUid();
    meta[MAGIC] = MAGIC_VALUE;
    meta[LAYOUT] = LAYOUT_VERSION;
    meta[SHIFT] = 31 - Math.clz32(o.pageSize);
    meta[MAX_ORDER] = o.maxOrder;
    meta[FIRST_SLOT] = firstSlot;
    meta[SLOT_LIMIT] = slotLimit;
    meta[HIGH_WATER] = firstSlot;
    meta[UID_LO] = uid % 2 ** 32;
    meta[UID_HI] = Math.floor(uid / 2 ** 32);
    meta[TIMEOUT_MS] = Math.min(timeoutMs, 2 ** 31 - 1);
    meta[STAMPED] = stamped ? 1 : 0;
    const counters = new Float64Array(sab, F64_BASE * 8, F64_COUNT);
    counters[MAX_BYTES] = o.maxBytes;
    counters[RESERVE_BYTES] = o.reserveBytes;
    return sab;
  }

  /**
   * Check that `metadata` is an arena's metadata with the geometry, budget
   * and identity of `d` (as given to `attach`). Throws `EINVAL_OPTION`
   * naming what is wrong.
   */
  static check(
    metadata: unknown,
    d: {
      uid: unknown;
      pageSize: unknown;
      maxOrder: unknown;
      maxBytes: unknown;
      reserveBytes: unknown;
    },
  ): ArenaGeometry {
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
      metadata.byteLength !== ArenaMeta.bytes(slotLimit)
    ) {
      throw badOption(
        "attach(): the descriptor's meta is not the metadata of a pagefrag arena (or of another layout version)",
      );
    }
    const have = {
      uid: meta[UID_HI] * 2 ** 32 + (meta[UID_LO] >>> 0),
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
          } disagrees with the arena's ${
            have[key]
          } (parts of two descriptors?)`,
        );
      }
    }
    return {
      firstSlot,
      slotLimit,
      uid: have.uid,
      stamped: meta[STAMPED] === 1,
    };
  }

  /**
   * Write the arena's identity into the first 8 bytes of its memory (bytes
   * no page ever uses: slot 0 is never handed out), so attach can tell
   * whether a memory belongs to a metadata.
   */
  static stamp(memory: ArrayBufferLike, uid: number): void {
    const w = new Int32Array(memory, 0, 2);
    w[0] = uid % 2 ** 32;
    w[1] = Math.floor(uid / 2 ** 32);
  }

  /** Whether `memory`'s first 8 bytes hold identity `uid`. */
  static stampedWith(memory: ArrayBufferLike, uid: number): boolean {
    if (memory.byteLength < 8) return false;
    const w = new Int32Array(memory, 0, 2);
    return (w[0] >>> 0) === uid % 2 ** 32 &&
      w[1] === Math.floor(uid / 2 ** 32);
  }

  // ------------------------------------------------------------- accessors

  /** The high-water mark: slots at and above it were never handed out. */
  get highWater(): number {
    return this.meta[HIGH_WATER];
  }

  /** Word index of attachment `id`'s record word `w`. */
  attachIndex(id: number, w: number): number {
    return ATTACH_BASE + ((id - 1) & (MAX_ATTACH - 1)) * ATTACH_INTS + w;
  }

  /** The transit mark of attachment `id` (see {@linkcode TRANSIT_SHIFT}). */
  transitMark(id: number): number {
    return (((id - 1) & (MAX_ATTACH - 1)) + 1) << TRANSIT_SHIFT;
  }

  /** Whether `id` is the current attachment id of its slot (not a stale one). */
  isCurrent(id: unknown): id is number {
    return typeof id === "number" && (id | 0) === id && id >= 1 &&
      this.meta[this.attachIndex(id, A_GEN)] ===
        Math.floor((id - 1) / MAX_ATTACH);
  }

  /** The id of the next attachment of slot `slot` (0-based), its generation bumped. */
  nextId(slot: number): number {
    const at = this.attachIndex(slot + 1, A_GEN);
    const gen = (this.meta[at] + 1) % Math.floor(2 ** 31 / MAX_ATTACH - 1);
    this.meta[at] = gen;
    return gen * MAX_ATTACH + slot + 1;
  }

  /** Word index of cache record `r`'s owner. */
  cacheOwnerIndex(r: number): number {
    return CACHE_OWNERS + r;
  }

  /** Byte offset of cache record `r`'s state. */
  cacheStateByte(r: number): number {
    return CACHE_DATA_BYTE + r * CACHE_STATE_BYTES;
  }

  // ------------------------------------------------------ budget bookkeeping

  /** Count a page of `bytes` as live (`pf`: from the reserve). */
  charge(bytes: number, pf: boolean): void {
    const c = this.counters;
    c[IN_USE] += bytes;
    if (pf) c[RESERVE_IN_USE] += bytes;
    c[PAGES_IN_USE]++;
    c[PAGES_ALLOCATED]++;
    if (c[IN_USE] > c[PEAK]) c[PEAK] = c[IN_USE];
  }

  /** Count a page of `bytes` as returned. */
  uncharge(bytes: number, pf: boolean): void {
    const c = this.counters;
    c[IN_USE] -= bytes;
    if (pf) c[RESERVE_IN_USE] -= bytes;
    c[PAGES_IN_USE]--;
    c[PAGES_FREED]++;
  }

  // -------------------------------------------------------- buddy allocator

  /**
   * Take a free block of `order`: from the free lists, else above the
   * high-water mark (`grow` makes the memory long enough); 0 if none.
   */
  takeBlock(order: number, grow: (bytes: number) => boolean): number {
    const meta = this.meta;
    for (let k = order; k <= this.maxOrder; k++) {
      const slot = meta[FREE_LISTS + k];
      if (slot === 0) continue;
      this.unlink(slot, k);
      // Split: keep the lower half, give the upper halves back.
      while (k > order) {
        k--;
        this.push(slot + (1 << k), k);
      }
      return slot;
    }
    const span = 1 << order;
    const hw = meta[HIGH_WATER];
    const slot = (hw + span - 1) & -span;
    const end = slot + span;
    if (end > this.slotLimit || !grow(end << this.shift)) return 0;
    // The alignment gap below the new block becomes free blocks.
    for (let p = hw; p < slot;) {
      let k = 0;
      while (
        k < this.maxOrder && (p & (1 << k)) === 0 && p + (2 << k) <= slot
      ) {
        k++;
      }
      this.insertFree(p, k);
      p += 1 << k;
    }
    meta[HIGH_WATER] = end;
    return slot;
  }

  /** Give a block back, merging it with its free buddy order by order. */
  insertFree(slot: number, order: number): void {
    const info = this.info;
    while (order < this.maxOrder) {
      const buddy = slot ^ (1 << order);
      if (buddy >= this.slotLimit || info[buddy] !== (FREE | order)) break;
      this.unlink(buddy, order);
      slot &= buddy;
      order++;
    }
    this.push(slot, order);
  }

  push(slot: number, order: number): void {
    const meta = this.meta;
    const head = meta[FREE_LISTS + order];
    this.info[slot] = FREE | order;
    this.next[slot] = head;
    this.prev[slot] = 0;
    if (head !== 0) this.prev[head] = slot;
    meta[FREE_LISTS + order] = slot;
  }

  unlink(slot: number, order: number): void {
    const prev = this.prev[slot];
    const next = this.next[slot];
    if (prev !== 0) this.next[prev] = next;
    else this.meta[FREE_LISTS + order] = next;
    if (next !== 0) this.prev[next] = prev;
    this.info[slot] = 0;
  }

  /** Return the live page at head `slot` (count zero) to the free lists. */
  releaseLocked(slot: number): void {
    const info = this.info[slot];
    const order = info & ORDER_MASK;
    this.heads.fill(0, slot, slot + (1 << order));
    this.info[slot] = 0;
    this.uncharge(this.pageSize << order, (info & PFMEMALLOC) !== 0);
    this.insertFree(slot, order);
  }

  /** Whether `slot` is the head of a live page. */
  isLiveHead(slot: number): boolean {
    return slot >= this.firstSlot && slot < this.meta[HIGH_WATER] &&
      (this.info[slot] & LIVE) !== 0 && this.heads[slot] === slot;
  }

  // ------------------------------------------------------------------ repair

  /**
   * Rebuild the free lists and the gauges from the page table, after a
   * thread died holding the lock (it may have been half way through a
   * split, a merge or a release). Live pages are what the page table says:
   * a head with `LIVE` whose span lies below the high-water mark; every
   * other slot below the mark is free. A page the dead thread had taken but
   * not yet marked live is free again (it never left `allocPage`).
   * Returns the number of live pages.
   */
  rebuild(): number {
    const { meta, info, heads, counters: c } = this;
    const hw = Math.max(
      this.firstSlot,
      Math.min(meta[HIGH_WATER], this.slotLimit),
    );
    meta[HIGH_WATER] = hw;
    for (let k = 0; k <= 10; k++) meta[FREE_LISTS + k] = 0;
    // Blocks above the mark were never handed out: no stale FREE marks there.
    info.fill(0, hw, Math.min(this.slotLimit, hw + (2 << this.maxOrder)));
    let bytes = 0, reserve = 0, pages = 0;
    const free: number[] = [];
    for (let slot = this.firstSlot; slot < hw;) {
      const i = info[slot];
      const order = i & ORDER_MASK;
      const span = 1 << order;
      if (
        (i & LIVE) !== 0 && heads[slot] === slot && order <= this.maxOrder &&
        (slot & (span - 1)) === 0 && slot + span <= hw
      ) {
        heads.fill(slot, slot, slot + span);
        info.fill(0, slot + 1, slot + span);
        bytes += this.pageSize << order;
        if ((i & PFMEMALLOC) !== 0) reserve += this.pageSize << order;
        pages++;
        slot += span;
      } else {
        info[slot] = 0;
        heads[slot] = 0;
        free.push(slot);
        slot++;
      }
    }
    // Slot by slot, ascending: each merges with its buddies as they come.
    for (const slot of free) this.insertFree(slot, 0);
    c[IN_USE] = bytes;
    c[RESERVE_IN_USE] = reserve;
    c[PAGES_IN_USE] = pages;
    c[PAGES_FREED] = c[PAGES_ALLOCATED] - pages;
    return pages;
  }
}
