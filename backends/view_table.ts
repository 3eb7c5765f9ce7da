/**
 * Recycled fragment views: per page, a small direct-mapped table of the
 * `Uint8Array`s made for it, keyed by (offset, length), so that a fragment
 * carved again at the same place and size gets the view object made last
 * time instead of a new one.
 *
 * Why: a view `alloc` + `free` was dominated by `new Uint8Array(buffer,
 * offset, n)` (25-55 ns) and its garbage (~145 bytes of JS heap per pair on
 * V8). A cache carves a recycled page at the same offsets as before, and a
 * page taken again from the heap backend's pool is the same `ArrayBuffer`,
 * so in steady state every view it needs was made before.
 *
 * **Shape.** A page of `B` bytes gets `E = min(entriesPerPage, B / 16)`
 * entries; entry `offset >>> log2(B / E)` holds the last view made at an
 * offset of that `B / E`-byte stretch, with its offset in an `Int32Array`.
 * A lookup is a shift, a typed-array load and compare, an array load and a
 * compare of the view's length: no `Map`, no allocation, no call. Fragments closer together
 * than `B / E` bytes share an entry and evict each other (a miss makes a new
 * view and replaces the entry); they stay correct, only slower.
 *
 * Fragments smaller than `B / E` (256 bytes on a 32 KiB page with the
 * default 128 entries) share entries, so a steady stream of them misses;
 * raise `entriesPerPage` for such workloads (512 for 64-byte fragments on
 * 32 KiB pages), at the cost of more views held.
 *
 * **Bounded.** At most `entriesPerPage` views per page, and a table exists
 * only while its page is held by the backend (live or pooled): the backend
 * calls {@linkcode ViewTable.close} when a page's buffer goes to the GC, and
 * {@linkcode ViewTable.clear} when the buffer views are made over changes
 * (a grown `WebAssembly.Memory`).
 *
 * **Semantics.** After `free`, the view object may be handed out again for a
 * later fragment over the same bytes, as the bytes themselves are: `===`
 * identity of a freed view means nothing, and a view kept past its `free`
 * aliases whatever fragment is carved there next (use the sanitizer, which
 * never recycles views, to find such uses).
 *
 * @module
 */
import { PageFragError } from "../core/errors.ts";
import { show } from "../core/format.ts";
import { stampView } from "./view_stamp.ts";

/**
 * Default entries per page: a 32 KiB page gets one per 256 bytes.
 *
 * @example
 * ```ts
 * import { DEFAULT_VIEWS_PER_PAGE } from "@pagefrag/pagefrag/backends/page_table";
 * import assert from "node:assert/strict";
 *
 * assert.equal(DEFAULT_VIEWS_PER_PAGE, 128, "one per 256 bytes of a 32 KiB page");
 * ```
 */
export const DEFAULT_VIEWS_PER_PAGE = 128;

/** One page's entries. */
/** What a page has before its first view: no entry matches (offsets are >= 0). */
const NO_OFFSETS = new Int32Array([-1]);
const NO_VIEWS: (Uint8Array | undefined)[] = [undefined];

class PageViews {
  readonly buffer: ArrayBufferLike;
  /** Byte offset of the page in `buffer` (0 for a buffer per page). */
  readonly base: number;
  /** Bytes of the page. */
  readonly bytes: number;
  /** Entries the page gets on its first view. */
  readonly entries: number;
  /** Bytes of the stretch of page an entry covers, as a shift (31 until the first view). */
  shift = 31;
  offsets: Int32Array = NO_OFFSETS;
  views: (Uint8Array | undefined)[] = NO_VIEWS;

  constructor(buffer: ArrayBufferLike, base: number, bytes: number, n: number) {
    this.buffer = buffer;
    this.base = base;
    this.bytes = bytes;
    this.entries = n === 0 ? 0 : Math.max(1, Math.min(n, bytes >>> 4));
  }

  /** Make the entries (on the first view: a page only ever used by address never pays for them). */
  fill(): void {
    const n = this.entries;
    this.shift = 31 - Math.clz32(this.bytes) - (31 - Math.clz32(n));
    this.offsets = new Int32Array(n).fill(-1);
    this.views = new Array<Uint8Array | undefined>(n).fill(undefined);
  }
}

/**
 * Recycled views for the pages of one backend, indexed by the page's head
 * slot (any small integer that names a page while the backend holds it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ViewTable } from "@pagefrag/pagefrag/backends/page_table";
 *
 * const table = new ViewTable(64);
 * const page = new ArrayBuffer(4096);
 * table.open(1, page, 0, 4096);
 * const a = table.view(1, 256, 100, 4096 + 256);
 * const b = table.view(1, 256, 100, 4096 + 256);
 * assert.equal(a, b, "the same (offset, length) gets the same view object");
 * assert.equal(a.byteOffset, 256, "a view over the page's bytes");
 * assert.deepEqual([table.hits, table.misses], [1, 1], "one made, one reused");
 * table.close(1);
 * ```
 */
export class ViewTable {
  /** Views handed out again (cumulative). */
  hits = 0;
  /** Views made (cumulative). */
  misses = 0;
  /** Most entries a page's table has; 0 turns recycling off. */
  readonly entriesPerPage: number;
  #pages: (PageViews | undefined)[] = [];

  /**
   * A table with at most `entriesPerPage` views per page (a power of two,
   * 0 to 65536; 0 makes every view new). Throws `EINVAL_OPTION` otherwise.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ViewTable } from "@pagefrag/pagefrag/backends/page_table";
   *
   * assert.equal(new ViewTable().entriesPerPage, 128, "the default");
   * assert.throws(() => new ViewTable(100), /power of two/, "not a power of two");
   * ```
   */
  constructor(entriesPerPage: number = DEFAULT_VIEWS_PER_PAGE) {
    if (
      typeof entriesPerPage !== "number" ||
      (entriesPerPage | 0) !== entriesPerPage || entriesPerPage < 0 ||
      entriesPerPage > 65536 ||
      (entriesPerPage & (entriesPerPage - 1)) !== 0
    ) {
      throw new PageFragError(
        "EINVAL_OPTION",
        `viewsPerPage must be 0 or a power of two up to 65536, got ${
          show(entriesPerPage)
        }`,
      );
    }
    this.entriesPerPage = entriesPerPage;
  }

  /**
   * Start a table for the page at `slot`: `bytes` bytes at `base` in
   * `buffer`. Entries are made lazily, on the first view.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ViewTable } from "@pagefrag/pagefrag/backends/page_table";
   *
   * const arena = new ArrayBuffer(8192);
   * const table = new ViewTable();
   * table.open(1, arena, 4096, 4096);       // the page at 4096 in the arena
   * assert.equal(table.view(1, 10, 5, 4106).byteOffset, 4106, "base + offset");
   * ```
   */
  open(
    slot: number,
    buffer: ArrayBufferLike,
    base: number,
    bytes: number,
  ): void {
    const pages = this.#pages;
    while (pages.length <= slot) pages.push(undefined);
    // With recycling off a page still gets a (one-entry, never filled)
    // table: it says where the page's bytes are.
    pages[slot] = new PageViews(buffer, base, bytes, this.entriesPerPage);
  }

  /**
   * Whether the page at `slot` has a table (for a page of `bytes` bytes,
   * when given). An arena whose pages are allocated in other workers opens
   * them lazily, on a first miss, and again when the slot now heads a page
   * of another size.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ViewTable } from "@pagefrag/pagefrag/backends/page_table";
   *
   * const table = new ViewTable();
   * assert.equal(table.has(4), false, "not opened yet");
   * table.open(4, new ArrayBuffer(4096), 0, 4096);
   * assert.equal(table.has(4), true, "opened");
   * assert.equal(table.has(4, 8192), false, "but for a page of another size");
   * ```
   */
  has(slot: number, bytes?: number): boolean {
    const p = this.#pages[slot];
    return p !== undefined && (bytes === undefined || p.bytes === bytes);
  }

  /**
   * Forget the page at `slot` (its buffer goes to the GC, or the slot will
   * name another buffer): its views become garbage.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ViewTable } from "@pagefrag/pagefrag/backends/page_table";
   *
   * const table = new ViewTable();
   * table.open(1, new ArrayBuffer(4096), 0, 4096);
   * const a = table.view(1, 0, 8, 4096);
   * table.close(1);
   * table.open(1, new ArrayBuffer(4096), 0, 4096);
   * assert.notEqual(table.view(1, 0, 8, 4096), a, "a new buffer, a new view");
   * ```
   */
  close(slot: number): void {
    if (slot < this.#pages.length) this.#pages[slot] = undefined;
  }

  /**
   * Forget every page (the buffer views are made over changed).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ViewTable } from "@pagefrag/pagefrag/backends/page_table";
   *
   * const table = new ViewTable();
   * table.open(1, new ArrayBuffer(4096), 0, 4096);
   * table.clear();
   * assert.equal(table.tables(), 0, "no page has a table");
   * ```
   */
  clear(): void {
    this.#pages = [];
  }

  /**
   * Pages that have a table (for tests and `stats()`-style reports).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ViewTable } from "@pagefrag/pagefrag/backends/page_table";
   *
   * const table = new ViewTable();
   * table.open(3, new ArrayBuffer(4096), 0, 4096);
   * assert.equal(table.tables(), 1, "one open page");
   * ```
   */
  tables(): number {
    let n = 0;
    for (const p of this.#pages) if (p !== undefined) n++;
    return n;
  }

  /**
   * The view of `size` bytes at `offset` in the page at `slot` made last
   * time, or `undefined` (no table for `slot`, another fragment's view in
   * that entry, or the page's buffer detached). Only integer compares and
   * array loads: the hot path of a backend's `view`, which falls back to
   * checking its arguments and {@linkcode ViewTable.make} on `undefined`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ViewTable } from "@pagefrag/pagefrag/backends/page_table";
   *
   * const table = new ViewTable();
   * table.open(1, new ArrayBuffer(4096), 0, 4096);
   * assert.equal(table.hit(1, 0, 8), undefined, "nothing made yet");
   * const v = table.make(1, 0, 8, 4096);
   * assert.equal(table.hit(1, 0, 8), v, "made last time");
   * ```
   */
  hit(slot: number, offset: number, size: number): Uint8Array | undefined {
    const p = this.#pages[slot];
    if (p !== undefined) {
      const i = offset >>> p.shift;
      if (p.offsets[i] === offset) {
        const v = p.views[i]!;
        // The view's length is its size key, and also 0 once its buffer was
        // transferred away (or its wasm memory grew): empty views are never
        // kept, so one compare checks both.
        if (v.length === size) {
          this.hits++;
          return v;
        }
      }
    }
    return undefined;
  }

  /**
   * {@linkcode ViewTable.hit} or, failing that, {@linkcode ViewTable.make}.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ViewTable } from "@pagefrag/pagefrag/backends/page_table";
   *
   * const table = new ViewTable(0);           // recycling off
   * table.open(1, new ArrayBuffer(4096), 0, 4096);
   * assert.notEqual(table.view(1, 0, 8, 4096), table.view(1, 0, 8, 4096), "always new");
   * assert.equal(table.misses, 2, "both made");
   * ```
   */
  view(
    slot: number,
    offset: number,
    size: number,
    address: number,
  ): Uint8Array {
    return this.hit(slot, offset, size) ??
      this.make(slot, offset, size, address);
  }

  /**
   * Make the view of `size` bytes at `offset` in the page at `slot` (opened;
   * the caller checked that the bytes fit in the page), `address` being the
   * backend's address of its first byte (stamped on V8 for `addressOf`), and
   * remember it in its entry.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ViewTable } from "@pagefrag/pagefrag/backends/page_table";
   *
   * const table = new ViewTable();
   * table.open(2, new ArrayBuffer(8192), 0, 8192);
   * assert.equal(table.make(2, 100, 20, 8292).byteOffset, 100, "over the page's bytes");
   * assert.equal(table.misses, 1, "counted as made");
   * ```
   */
  make(
    slot: number,
    offset: number,
    size: number,
    address: number,
  ): Uint8Array {
    return this.#miss(slot, offset, size, address);
  }

  #miss(
    slot: number,
    offset: number,
    size: number,
    address: number,
  ): Uint8Array {
    this.misses++;
    const p = this.#pages[slot];
    if (p === undefined) {
      throw new PageFragError(
        "ESTATE",
        `view table: page slot ${slot} was not opened`,
      );
    }
    const v = new Uint8Array(p.buffer, p.base + offset, size);
    // Stamped for addressOf on every engine: a recycled view is stamped once
    // for many uses, so even JavaScriptCore's dearer stamp pays off.
    stampView(v, p.buffer, address);
    if (p.entries !== 0 && size !== 0) {
      if (p.offsets === NO_OFFSETS) p.fill();
      const i = offset >>> p.shift;
      if (i < p.offsets.length) { // else the caller's page is not this table's
        p.offsets[i] = offset;
        p.views[i] = v;
      }
    }
    return v;
  }
}
