/**
 * An encoder cursor over prepared page space: `FragWriter` writes scalars,
 * bytes and strings into the bytes `prepare` offered; `finish` commits one
 * fragment, or a frag list (pieces on a page coalesced with `commitNoref`).
 * The hot path allocates nothing: one `DataView` per page, short strings
 * encoded by hand, long ones with `TextEncoder.encodeInto`.
 *
 * @module
 */
import type { PageFragCache } from "../core/cache.ts";
import { PageFragError } from "../core/errors.ts";
import { show } from "../core/format.ts";
import { contiguous } from "./contiguous.ts";
import { FragList } from "./frag_list.ts";
import { PrefixMarks } from "./prefix_marks.ts";
import { RangeCopier } from "./range_copy.ts";
import { utf8Into } from "./utf8.ts";

const EMPTY = new Uint8Array(0);
const EMPTY_DV = new DataView(new ArrayBuffer(0));
const encoder = new TextEncoder();

/** Strings up to this many UTF-16 units are encoded by hand (no result object). */
const HAND_STRING = 128;
/** utf8Into's cursor: [next UTF-16 unit, next byte]. */
const UTF8_AT = new Int32Array(2);

/**
 * Options of {@linkcode FragWriter}.
 *
 * @example
 * ```ts
 * import type { FragWriterOptions } from "@pagefrag/pagefrag/io";
 *
 * const o: FragWriterOptions = { minChunk: 512 };
 * ```
 */
export interface FragWriterOptions {
  /**
   * Fewest bytes to ask `prepare` for when the writer needs more room
   * (more is used when the page has it). Default 256.
   */
  minChunk?: number;
}

/**
 * An encoder cursor: write a record into page space, then `finish` it into
 * a fragment. Give the writer its own cache (or allocate nothing from that
 * cache while a record is open: the record sits in prepared, uncommitted
 * space, and `finish` reports `ESTATE` if it was taken).
 *
 * Out of memory in the middle of a record is sticky, as in a buffered
 * writer: later writes do nothing and `finish` returns `null` (the pieces
 * already committed are freed).
 *
 * @example A length-prefixed record
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { FragWriter } from "@pagefrag/pagefrag/io";
 * import assert from "node:assert/strict";
 *
 * const cache = createPageFragCache();
 * const w = new FragWriter(cache);
 * const len = w.reserve(4);                 // u32 BE length, filled in below
 * w.u16(7, true).f64(1.5).string("héllo");
 * w.fillLength(len);                        // bytes written after the prefix
 * const addr = w.finish()!;
 * const v = cache.backend.view(addr, w.lastBytes);
 * assert.equal(new DataView(v.buffer, v.byteOffset).getUint32(0), 2 + 8 + 6);
 * cache.free(addr);
 * ```
 */
export class FragWriter {
  /** The cache records are committed from. */
  readonly cache: PageFragCache;
  /** The pieces of the last record `finish`ed (reused by the next one). */
  readonly fragments: FragList;
  /** Bytes of the last record finished. */
  lastBytes = 0;
  readonly #minChunk: number;
  readonly #align: { align: number } | undefined;

  /** The current page: a view over all of it, a DataView, its base address. */
  #page: Uint8Array = EMPTY;
  #dv: DataView = EMPTY_DV;
  #pageBase = 0;
  /** Page offsets: where the open piece starts, the cursor, the page's end. */
  #start = 0;
  #pos = 0;
  #end = 0;
  /** Whether a record is open, and bytes of it in pieces already committed. */
  #open = false;
  #done = 0;
  #failed = false;
  /** Where the record's pieces go: `fragments`, or the list given to finishInto. */
  #list: FragList;
  /** Where the open record's first piece sits in the list (for rollback). */
  #listMark = 0;
  #mergedFirst = false;
  #mergedBase = 0;
  /** Reserved prefixes of the open record: DataView, page offset, width, record position after it. */
  readonly #marks = new PrefixMarks();
  readonly #copier = new RangeCopier();

  /**
   * A writer over `cache`.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { FragWriter } from "@pagefrag/pagefrag/io";
   *
   * const w = new FragWriter(createPageFragCache(), { minChunk: 64 });
   * w.u8(1);
   * w.cache.free(w.finish()!);
   * ```
   */
  constructor(cache: PageFragCache, opts: FragWriterOptions = {}) {
    const minChunk = opts.minChunk ?? 256;
    const maxFrag = cache.backend.pageSize * 2 ** cache.backend.maxOrder;
    if (!Number.isInteger(minChunk) || minChunk < 8 || minChunk > maxFrag) {
      throw new PageFragError(
        "EINVAL_OPTION",
        `FragWriter: minChunk must be an integer from 8 to ${maxFrag}, got ${
          show(minChunk)
        }`,
      );
    }
    this.cache = cache;
    this.#minChunk = minChunk;
    this.#align = contiguous(cache);
    this.fragments = new FragList(cache);
    this.#list = this.fragments;
  }

  /**
   * Bytes written to the open record so far.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { FragWriter } from "@pagefrag/pagefrag/io";
   *
   * if (new FragWriter(createPageFragCache()).u32(1).length !== 4) throw new Error();
   * ```
   */
  get length(): number {
    return this.#done + this.#pos - this.#start;
  }

  /**
   * Open a record with at least `minSize` contiguous bytes in one page
   * (`prepare(minSize)`): a record that fits them is finished as one
   * fragment. Writing without `begin` opens a record as needed.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { FragWriter } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const w = new FragWriter(createPageFragCache());
   * w.begin(1000).bytes(new Uint8Array(1000));
   * w.finish();
   * assert.equal(w.fragments.count, 1, "one fragment, as promised");
   * w.fragments.free();
   * ```
   */
  begin(minSize = 1): this {
    if (this.#open) {
      throw new PageFragError(
        "ESTATE",
        "FragWriter.begin(): a record is already open; finish() it first",
      );
    }
    this.#openRecord();
    if (this.#end - this.#pos < minSize) this.#more(minSize);
    return this;
  }

  #openRecord(): void {
    if (this.#list === this.fragments) this.fragments.clear();
    this.#open = true;
    this.#listMark = this.#list.count;
    this.#mergedFirst = false;
    // Scalars may already sit at [start, pos) (the fast paths write before
    // a record is formally open). Re-arm the prepared address there, and
    // check that nobody allocated from the cache since.
    const written = this.#pos - this.#start;
    const p = this.#end === 0
      ? null
      : this.cache.probe(Math.max(1, written), this.#align);
    if (p !== null && p.addr === this.#pageBase + this.#start) return;
    if (written > 0) {
      this.#open = false;
      this.#pos = this.#start;
      throw new PageFragError(
        "ESTATE",
        "FragWriter: its cache was allocated from while a record was open; give the writer a cache of its own",
      );
    }
    this.#end = this.#pos = this.#start;
    this.#more(1);
  }

  /** Room for `n` more contiguous bytes: commit the open piece, go to the next page. */
  #more(n: number): boolean {
    if (this.#failed) return false;
    if (!this.#open) this.#openRecord();
    if (this.#end - this.#pos >= n) return true;
    if (this.#pos > this.#start) this.#commitPiece();
    const p = this.cache.prepare(Math.max(n, this.#minChunk), this.#align);
    if (p === null) {
      this.#failed = true;
      this.#end = this.#pos = this.#start;
      return false;
    }
    const backend = this.cache.backend;
    const page = backend.pageOf(p.addr);
    // A new view even for the same base address: a page that went back
    // and came again may be a different buffer (the heap backend reuses
    // its slots).
    const view = backend.view(page, backend.pageBytes(page));
    if (view.buffer !== this.#page.buffer || page !== this.#pageBase) {
      this.#page = view;
      this.#dv = new DataView(
        this.#page.buffer,
        this.#page.byteOffset,
        this.#page.byteLength,
      );
      this.#pageBase = page;
    }
    this.#start = this.#pos = p.addr - page;
    this.#end = this.#start + p.size;
    return true;
  }

  /** Commit [start, pos) as a piece of the open record. */
  #commitPiece(): void {
    const list = this.#list;
    const size = this.#pos - this.#start;
    const addr = this.#pageBase + this.#start;
    const last = list.count - 1;
    // The probe re-arms the prepared address (a commit clears it) and
    // proves nobody took these bytes since.
    const q = this.cache.probe(size, this.#align);
    if (q === null || q.addr !== addr) {
      throw new PageFragError(
        "ESTATE",
        "FragWriter: its cache was allocated from while a record was open; give the writer a cache of its own",
      );
    }
    if (
      this.#start > 0 && last >= 0 &&
      list.addrs[last] + list.sizes[last] === addr
    ) {
      // Contiguous with the list's last fragment on this page (start > 0:
      // the end of the previous page may sit at the same address as this
      // page's start), which this cache carved last: extend it without a
      // new reference.
      this.cache.commitNoref(size);
      if (last < this.#listMark) {
        this.#mergedFirst = true;
        this.#mergedBase = list.sizes[last];
      }
      list.sizes[last] += size;
    } else {
      list.addrs[list.count] = this.cache.commit(size);
      list.sizes[list.count] = size;
      list.count++;
    }
    this.#done += size;
    this.#start = this.#pos;
  }

  /**
   * Write a byte.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { FragWriter } from "@pagefrag/pagefrag/io";
   *
   * const w = new FragWriter(createPageFragCache());
   * w.u8(255).i8(-1);
   * w.fragments.cache.free(w.finish()!);
   * ```
   */
  u8(v: number): this {
    if (this.#end - this.#pos >= 1 || this.#more(1)) {
      this.#page[this.#pos++] = v;
    }
    return this;
  }

  /**
   * Write a signed byte (see {@linkcode FragWriter.u8}).
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { FragWriter } from "@pagefrag/pagefrag/io";
   *
   * const w = new FragWriter(createPageFragCache()); w.cache.free(w.i8(-2).finish()!);
   * ```
   */
  i8(v: number): this {
    return this.u8(v & 255);
  }

  /**
   * Write a u16, big-endian unless `le`.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { FragWriter } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const w = new FragWriter(createPageFragCache());
   * const list = w.u16(0x0102).u16(0x0102, true).finishList()!;
   * assert.deepEqual([...list.toBytes()], [1, 2, 2, 1]);
   * list.free();
   * ```
   */
  u16(v: number, le = false): this {
    if (this.#end - this.#pos >= 2 || this.#more(2)) {
      this.#dv.setUint16(this.#pos, v, le);
      this.#pos += 2;
    }
    return this;
  }

  /**
   * Write an i16.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { FragWriter } from "@pagefrag/pagefrag/io";
   *
   * const w = new FragWriter(createPageFragCache()); w.cache.free(w.i16(-2, true).finish()!);
   * ```
   */
  i16(v: number, le = false): this {
    if (this.#end - this.#pos >= 2 || this.#more(2)) {
      this.#dv.setInt16(this.#pos, v, le);
      this.#pos += 2;
    }
    return this;
  }

  /**
   * Write a u32.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { FragWriter } from "@pagefrag/pagefrag/io";
   *
   * const w = new FragWriter(createPageFragCache()); w.cache.free(w.u32(0xdeadbeef).finish()!);
   * ```
   */
  u32(v: number, le = false): this {
    if (this.#end - this.#pos >= 4 || this.#more(4)) {
      this.#dv.setUint32(this.#pos, v, le);
      this.#pos += 4;
    }
    return this;
  }

  /**
   * Write an i32.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { FragWriter } from "@pagefrag/pagefrag/io";
   *
   * const w = new FragWriter(createPageFragCache()); w.cache.free(w.i32(-5).finish()!);
   * ```
   */
  i32(v: number, le = false): this {
    if (this.#end - this.#pos >= 4 || this.#more(4)) {
      this.#dv.setInt32(this.#pos, v, le);
      this.#pos += 4;
    }
    return this;
  }

  /**
   * Write a u64 from a bigint.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { FragWriter } from "@pagefrag/pagefrag/io";
   *
   * const w = new FragWriter(createPageFragCache()); w.cache.free(w.u64(2n ** 63n, true).finish()!);
   * ```
   */
  u64(v: bigint, le = false): this {
    if (this.#end - this.#pos >= 8 || this.#more(8)) {
      this.#dv.setBigUint64(this.#pos, v, le);
      this.#pos += 8;
    }
    return this;
  }

  /**
   * Write an i64 from a bigint.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { FragWriter } from "@pagefrag/pagefrag/io";
   *
   * const w = new FragWriter(createPageFragCache()); w.cache.free(w.i64(-1n).finish()!);
   * ```
   */
  i64(v: bigint, le = false): this {
    if (this.#end - this.#pos >= 8 || this.#more(8)) {
      this.#dv.setBigInt64(this.#pos, v, le);
      this.#pos += 8;
    }
    return this;
  }

  /**
   * Write an f32.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { FragWriter } from "@pagefrag/pagefrag/io";
   *
   * const w = new FragWriter(createPageFragCache()); w.cache.free(w.f32(0.5).finish()!);
   * ```
   */
  f32(v: number, le = false): this {
    if (this.#end - this.#pos >= 4 || this.#more(4)) {
      this.#dv.setFloat32(this.#pos, v, le);
      this.#pos += 4;
    }
    return this;
  }

  /**
   * Write an f64.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { FragWriter } from "@pagefrag/pagefrag/io";
   *
   * const w = new FragWriter(createPageFragCache()); w.cache.free(w.f64(Math.PI, true).finish()!);
   * ```
   */
  f64(v: number, le = false): this {
    if (this.#end - this.#pos >= 8 || this.#more(8)) {
      this.#dv.setFloat64(this.#pos, v, le);
      this.#pos += 8;
    }
    return this;
  }

  /**
   * Copy `src` (or its bytes `start .. end`, without making a view of
   * them) in, split across pages if it must be.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { FragWriter } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const w = new FragWriter(createPageFragCache({ maxOrder: 0 }));
   * const list = w.bytes(new Uint8Array(10000).fill(3)).finishList()!;
   * assert.ok(list.count >= 3, "10000 bytes over 4 KiB pages");
   * assert.equal(list.bytes, 10000);
   * list.free();
   * ```
   */
  bytes(src: Uint8Array, start = 0, end: number = src.length): this {
    if (!(start >= 0 && start <= end && end <= src.length)) {
      throw new PageFragError(
        "EINVAL_SIZE",
        `bytes(): range ${show(start)}..${
          show(end)
        } is not inside ${src.length} bytes`,
      );
    }
    const len = end - start;
    if (this.#end - this.#pos >= len) {
      // Copy by hand when short: set() of a subarray would make a view.
      if (start === 0 && end === src.length) this.#page.set(src, this.#pos);
      else if (len <= 32) {
        const b = this.#page;
        let p = this.#pos;
        for (let i = start; i < end; i++) b[p++] = src[i];
      } else this.#copier.copy(this.#page, this.#pos, src, start, end);
      this.#pos += len;
      return this;
    }
    let i = start;
    while (i < end) {
      if (
        this.#end === this.#pos &&
        !this.#more(Math.min(end - i, this.#minChunk))
      ) {
        return this;
      }
      const n = Math.min(this.#end - this.#pos, end - i);
      this.#copier.copy(this.#page, this.#pos, src, i, i + n);
      this.#pos += n;
      i += n;
    }
    return this;
  }

  /**
   * Write `s` as UTF-8 (no length, no terminator) straight into the page;
   * returns the writer. Short strings are encoded by hand, long ones with
   * `TextEncoder.encodeInto`; neither makes an intermediate copy. Lone
   * surrogates become U+FFFD, as `TextEncoder` does.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { FragWriter } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const w = new FragWriter(createPageFragCache());
   * const list = w.string("a€😀").finishList()!;
   * assert.equal(new TextDecoder().decode(list.toBytes()), "a€😀");
   * list.free();
   * ```
   */
  string(s: string): this {
    const len = s.length;
    if (len > HAND_STRING) return this.#longString(s);
    if (
      this.#end - this.#pos < len * 3 &&
      !this.#more(Math.min(len * 3, this.#minChunk))
    ) {
      return this;
    }
    const b = this.#page;
    let pos = this.#pos;
    // Room for the worst case (3 bytes a unit): no per-character check.
    if (this.#end - pos >= len * 3) {
      let i = 0;
      for (; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        b[pos++] = c;
      }
      this.#pos = pos;
      if (i === len) return this;
      return this.#stringFrom(s, i);
    }
    return this.#stringFrom(s, 0);
  }

  /** The general case of `string`: from unit `from`, any character, any room. */
  #stringFrom(s: string, from: number): this {
    const at = UTF8_AT;
    at[0] = from;
    at[1] = this.#pos;
    for (;;) {
      utf8Into(this.#page, this.#end, s, at);
      this.#pos = at[1];
      if (at[0] === s.length) return this;
      if (!this.#more(4)) return this;
      at[1] = this.#pos;
    }
  }

  #longString(s: string): this {
    let rest = s;
    for (;;) {
      if (
        this.#end - this.#pos < 4 &&
        !this.#more(Math.min(rest.length * 3, this.#minChunk))
      ) {
        return this;
      }
      const r = encoder.encodeInto(
        rest,
        this.#page.subarray(this.#pos, this.#end),
      );
      this.#pos += r.written;
      if (r.read === rest.length) return this;
      rest = rest.slice(r.read);
      if (!this.#more(4)) return this;
    }
  }

  /**
   * Reserve a `width`-byte length prefix (1, 2 or 4; big-endian unless `le`)
   * and return its mark; fill it with {@linkcode FragWriter.fillLength} or
   * {@linkcode FragWriter.patch}. Marks are valid until `finish`.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { FragWriter } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const w = new FragWriter(createPageFragCache());
   * const m = w.reserve(2, true);
   * w.string("abc").fillLength(m);
   * const list = w.finishList()!;
   * assert.deepEqual([...list.toBytes()], [3, 0, 97, 98, 99]);
   * list.free();
   * ```
   */
  reserve(width: 1 | 2 | 4, le = false): number {
    if (width !== 1 && width !== 2 && width !== 4) {
      throw new PageFragError(
        "EINVAL_OPTION",
        `reserve(): width must be 1, 2 or 4, got ${show(width)}`,
      );
    }
    if (!(this.#end - this.#pos >= width || this.#more(width))) return -1;
    const at = this.#pos;
    this.#pos += width;
    return this.#marks.add(this.#dv, at, width, le, this.length);
  }

  /**
   * Write `value` into the prefix reserved as `mark`. `EINVAL_SIZE` when it
   * does not fit the width.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { FragWriter } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const w = new FragWriter(createPageFragCache());
   * const m = w.reserve(1);
   * w.patch(m, 42);
   * const list = w.finishList()!;
   * assert.equal(list.toBytes()[0], 42);
   * list.free();
   * ```
   */
  patch(mark: number, value: number): this {
    if (mark === -1 && this.#failed) return this;
    this.#marks.patch(mark, value);
    return this;
  }

  /**
   * Fill the prefix `mark` with the bytes written after it.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { FragWriter } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const w = new FragWriter(createPageFragCache());
   * const m = w.reserve(4);
   * w.u64(1n).fillLength(m);
   * const list = w.finishList()!;
   * assert.equal(list.toBytes()[3], 8);
   * list.free();
   * ```
   */
  fillLength(mark: number): this {
    if (mark === -1 && this.#failed) return this;
    return this.patch(mark, this.length - this.#marks.after(mark));
  }

  /**
   * Finish the record and return the address of its first fragment, or
   * `null` when memory ran out while writing it. Its pieces are in
   * `fragments` (one, unless the record outgrew its page); `lastBytes` is
   * its size.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { FragWriter } from "@pagefrag/pagefrag/io";
   *
   * const cache = createPageFragCache();
   * const w = new FragWriter(cache);
   * const addr = w.u32(1).finish()!;
   * cache.free(addr);
   * ```
   */
  finish(): number | null {
    if (!this.#open) this.#openRecord();
    return this.#finish() ? this.fragments.addrs[0] : null;
  }

  /**
   * Finish the record and return its fragments (the writer's reused
   * `fragments` list), or `null` when memory ran out.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { FragWriter } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const w = new FragWriter(createPageFragCache());
   * const list = w.u8(1).finishList()!;
   * assert.equal(list.count, 1);
   * list.free();
   * ```
   */
  finishList(): FragList | null {
    return this.finish() === null ? null : this.fragments;
  }

  /**
   * Finish the record by appending its fragments to `list` (the skb frag
   * list of a stream): a record that starts where the list's last fragment
   * ends is merged into it with `commitNoref`, so the list holds one
   * reference per run of contiguous bytes. Returns false (and appends
   * nothing) when memory ran out.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { FragList, FragWriter } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const cache = createPageFragCache();
   * const w = new FragWriter(cache);
   * const out = new FragList(cache);
   * for (let i = 0; i < 100; i++) w.u32(i).finishInto(out);
   * assert.equal(out.count, 1, "100 records, one fragment, one reference");
   * assert.equal(out.bytes, 400);
   * out.free();
   * ```
   */
  finishInto(list: FragList): boolean {
    if (list.cache !== this.cache) {
      throw new PageFragError(
        "EINVAL_OPTION",
        "finishInto(): the list belongs to another cache",
      );
    }
    if (!this.#open) {
      this.#list = list;
      this.#openRecord();
    } else if (this.#list !== list) {
      // The record spilled over a page before we knew its list: move the
      // pieces committed so far over as they are.
      const from = this.#list;
      this.#list = list;
      this.#listMark = list.count;
      this.#mergedFirst = false;
      for (let i = 0; i < from.count; i++) {
        list.addrs[list.count] = from.addrs[i];
        list.sizes[list.count++] = from.sizes[i];
      }
      from.clear();
    }
    const ok = this.#finish();
    this.#list = this.fragments;
    return ok;
  }

  #finish(): boolean {
    if (!this.#failed && this.#pos > this.#start) this.#commitPiece();
    const list = this.#list;
    this.#open = false;
    if (this.#failed) {
      // Give back what this record took: pieces of its own, and its part
      // of a fragment it was merged into (that part stays unused).
      for (let i = this.#listMark; i < list.count; i++) {
        this.cache.free(list.addrs[i]);
      }
      list.count = this.#listMark;
      if (this.#mergedFirst) list.sizes[this.#listMark - 1] = this.#mergedBase;
      this.#failed = false;
      this.lastBytes = this.#done = this.#marks.count = 0;
      return false;
    }
    this.lastBytes = this.#done;
    this.#done = 0;
    this.#marks.count = 0;
    if (this.lastBytes === 0) {
      throw new PageFragError(
        "EINVAL_SIZE",
        "finish(): the record is empty; write at least one byte",
      );
    }
    return true;
  }
}
