/**
 * Zero-copy framed receive: bytes are read straight into page space that
 * the cache `prepare`d, split into frames in place, and each complete frame
 * is `commit`ted as one fragment. Nothing is copied unless a frame straddles
 * the end of a page; then only the part already read is moved into the next
 * page.
 *
 * {@linkcode FrameReceiver} is the engine, with two ways in: `region()` +
 * `received(n)` for sources that read into a buffer you give them (Deno's
 * `conn.read`, Node's `onread`), and `push(chunk)` for sources that hand you
 * their own chunks (Node `'data'`, Web streams, Bun's `data` handler), which
 * costs one copy into the page. The adapters beside this file wrap both.
 *
 * @module
 */
import type { PageFragCache } from "../core/cache.ts";
import { PageFragError } from "../core/errors.ts";
import { show } from "../core/format.ts";
import { contiguous } from "./contiguous.ts";
import type { Framing } from "./frames.ts";

/**
 * One received frame: a fragment of the cache, header and trailer included.
 * Free it with `frame.free()` (or `cache.free(frame.addr)`) when done.
 *
 * The receiver's callback gets one reused `Frame` (copy `addr` out of it to
 * keep the fragment); the async iterators yield a fresh one per frame.
 *
 * @example
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { FrameReceiver, lengthPrefixed, type Frame } from "@pagefrag/pagefrag/io";
 * import assert from "node:assert/strict";
 *
 * const cache = createPageFragCache();
 * const got: string[] = [];
 * const rx = new FrameReceiver(cache, lengthPrefixed({ width: 1 }), (f: Frame) => {
 *   got.push(new TextDecoder().decode(f.data));
 *   f.free();
 * });
 * rx.push(Uint8Array.of(2, 104, 105));
 * assert.deepEqual(got, ["hi"], "one frame, its payload without the prefix");
 * ```
 */
export class Frame {
  /** The fragment's address: what to free. */
  addr = 0;
  /** Bytes of the fragment (header + payload + trailer). */
  size = 0;
  /** Bytes of the payload. */
  length = 0;
  /**
   * A view over the frame's whole page (shared by every frame of that page)
   * and the payload's index in it: read `bytes[offset + i]` without making
   * a view per frame.
   */
  bytes: Uint8Array = EMPTY;
  /** Index of the payload's first byte in `bytes`. */
  offset = 0;
  /** The cache the fragment belongs to. */
  readonly cache: PageFragCache;

  /**
   * Frames are made by a {@linkcode FrameReceiver}.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { Frame } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * assert.equal(new Frame(createPageFragCache()).size, 0, "an empty frame");
   * ```
   */
  constructor(cache: PageFragCache) {
    this.cache = cache;
  }

  /**
   * The payload as a `Uint8Array` over the page (no copy; a new view
   * object each call). Valid until the frame is freed.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { FrameReceiver, rawChunks } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const rx = new FrameReceiver(createPageFragCache(), rawChunks(), (f) => {
   *   assert.deepEqual([...f.data], [1, 2], "the chunk's bytes");
   *   f.free();
   * });
   * rx.push(Uint8Array.of(1, 2));
   * ```
   */
  get data(): Uint8Array {
    return this.bytes.subarray(this.offset, this.offset + this.length);
  }

  /**
   * Free the fragment (`page_frag_free`). Once only.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { FrameReceiver, rawChunks } from "@pagefrag/pagefrag/io";
   *
   * const rx = new FrameReceiver(createPageFragCache(), rawChunks(), (f) => f.free());
   * rx.push(Uint8Array.of(1));
   * ```
   */
  free(): void {
    this.cache.free(this.addr);
  }

  /**
   * A copy of this frame's fields (not its bytes): keep a frame the
   * receiver's callback got beyond the call.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { type Frame, FrameReceiver, rawChunks } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const kept: Frame[] = [];
   * const rx = new FrameReceiver(createPageFragCache(), rawChunks(), (f) => kept.push(f.clone()));
   * rx.push(Uint8Array.of(1));
   * rx.push(Uint8Array.of(2));
   * assert.deepEqual(kept.map((f) => f.data[0]), [1, 2], "two frames kept");
   * for (const f of kept) f.free();
   * ```
   */
  clone(): Frame {
    const f = new Frame(this.cache);
    f.addr = this.addr;
    f.size = this.size;
    f.length = this.length;
    f.bytes = this.bytes;
    f.offset = this.offset;
    return f;
  }
}

const EMPTY = new Uint8Array(0);

/**
 * Options of {@linkcode FrameReceiver}.
 *
 * @example
 * ```ts
 * import type { FrameReceiverOptions } from "@pagefrag/pagefrag/io";
 *
 * const o: FrameReceiverOptions = { minRead: 4096 };
 * ```
 */
export interface FrameReceiverOptions {
  /**
   * Fewest bytes to offer a read while no frame size is known; when less
   * room is left in the page, the receiver moves to the next page first.
   * Default 2048 (less when the page is smaller).
   */
  minRead?: number;
}

/**
 * Called once per complete frame, synchronously, with a reused
 * {@linkcode Frame}. The callback owns the fragment: free it now or keep
 * `frame.addr` (or `frame.clone()`) and free it later.
 *
 * @example
 * ```ts
 * import type { FrameHandler } from "@pagefrag/pagefrag/io";
 *
 * const onFrame: FrameHandler = (f) => f.free();
 * ```
 */
export type FrameHandler = (frame: Frame) => void;

/**
 * The framed receive engine over one cache. Give the receiver its own
 * cache (or at least allocate nothing from that cache while a frame is half
 * received): the bytes read but not yet a frame sit uncommitted at the
 * cache's next address, and an allocation there would take them; the
 * receiver detects this and throws `ESTATE`.
 *
 * What prepare/commit guarantee, and what this relies on (see docs/io.md):
 * `prepare` returns the same address until something is committed; after
 * `commit(n)` the next `prepare(…, { align: 1 })` starts at `addr + n` if the
 * page has room; a refill may hand out the same page again from its start
 * (recycled in place) or another page, and bytes that were never committed
 * belong to nobody, so the part of a frame read before a refill is copied out
 * first and into the new page after.
 *
 * @example Pull: read straight into the page
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { FrameReceiver, delimited } from "@pagefrag/pagefrag/io";
 * import assert from "node:assert/strict";
 *
 * const lines: string[] = [];
 * const rx = new FrameReceiver(createPageFragCache(), delimited("\n"), (f) => {
 *   lines.push(new TextDecoder().decode(f.data));
 *   f.free();
 * });
 * const into = rx.region()!;                       // page space to read into
 * const n = new TextEncoder().encodeInto("a\nbc\nd", into).written;
 * rx.received(n);                                  // frames "a" and "bc"
 * rx.end();                                        // and the last line "d"
 * assert.deepEqual(lines, ["a", "bc", "d"]);
 * ```
 */
export class FrameReceiver {
  /** The cache frames are committed from. */
  readonly cache: PageFragCache;
  /** The framing in use. */
  readonly framing: Framing;
  readonly #onFrame: FrameHandler;
  readonly #frame: Frame;
  readonly #maxTotal: number;
  readonly #minRead: number;
  readonly #align: { align: number } | undefined;

  /** View over the current page, and that page's base address. */
  #page: Uint8Array = EMPTY;
  #pageBase = 0;
  /** Address of the first byte not yet a frame (the cache's next address). */
  #base = 0;
  /** Bytes from `#base` to the end of the page (0: no page yet). */
  #room = 0;
  /** Bytes read at `#base` that are not yet a frame. */
  #filled = 0;
  /** Where a partial frame waits while the cache refills. */
  #scratch: Uint8Array = EMPTY;
  /** Bytes of a partial frame held in `#scratch` (a refill is pending). */
  #held = 0;
  #ended = false;

  /**
   * Receive frames of `framing` into `cache`, handing each to `onFrame`.
   * `EINVAL_OPTION` when the framing's largest frame cannot fit a page.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { FrameReceiver, lengthPrefixed } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const cache = createPageFragCache({ maxOrder: 0 });   // 4 KiB pages
   * assert.throws(
   *   () => new FrameReceiver(cache, lengthPrefixed({ maxFrame: 10000 }), () => {}),
   *   { code: "EINVAL_OPTION" },
   * );
   * ```
   */
  constructor(
    cache: PageFragCache,
    framing: Framing,
    onFrame: FrameHandler,
    opts: FrameReceiverOptions = {},
  ) {
    const maxFrag = cache.backend.pageSize * 2 ** cache.backend.maxOrder;
    const explicit = framing.kind === "length" &&
      framing.maxTotal !==
        framing.head +
          (framing.head === 4 ? 0xffffffff : (1 << (8 * framing.head)) - 1);
    if (explicit && framing.maxTotal > maxFrag) {
      throw new PageFragError(
        "EINVAL_OPTION",
        `FrameReceiver: a frame of ${framing.maxTotal} bytes cannot fit a page of at most ${maxFrag} bytes; lower maxFrame or raise maxOrder`,
      );
    }
    const minRead = opts.minRead ?? 2048;
    if (!Number.isInteger(minRead) || minRead < 1) {
      throw new PageFragError(
        "EINVAL_OPTION",
        `FrameReceiver: minRead must be a positive integer, got ${
          show(minRead)
        }`,
      );
    }
    this.cache = cache;
    this.framing = framing;
    this.#onFrame = onFrame;
    this.#frame = new Frame(cache);
    this.#maxTotal = Math.min(framing.maxTotal, maxFrag);
    this.#minRead = Math.min(minRead, maxFrag);
    this.#align = contiguous(cache);
  }

  /**
   * Bytes the next `prepare` asks for (the current frame's size if known,
   * else what was read of it plus `minRead`; at most a page): what to wait
   * for when `region()` returned `null` or `push` stopped short.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { FrameReceiver, lengthPrefixed } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const rx = new FrameReceiver(createPageFragCache(), lengthPrefixed({ width: 2 }), (f) => f.free());
   * rx.push(Uint8Array.of(0, 100, 1));
   * assert.equal(rx.wants, 102, "the whole frame, header included");
   * ```
   */
  get wants(): number {
    const need = this.framing.need;
    const want = need > 0 ? need : this.#filled + this.#held + this.#minRead;
    return Math.min(want, this.#maxTotal);
  }

  /**
   * Bytes read that are not yet a frame (a partial frame).
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { FrameReceiver, lengthPrefixed } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const rx = new FrameReceiver(createPageFragCache(), lengthPrefixed({ width: 1 }), (f) => f.free());
   * rx.push(Uint8Array.of(3, 1));
   * assert.equal(rx.pending, 2, "a partial frame waits");
   * ```
   */
  get pending(): number {
    return this.#filled + this.#held;
  }

  /**
   * Page space to read the next bytes into, right after the bytes already
   * read, or `null` when the cache has no memory for it (try again once
   * fragments were freed). Write into it, then call `received(n)`. Each call
   * makes one view; the space stays valid until `received` or `push`.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { FrameReceiver, rawChunks } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const rx = new FrameReceiver(createPageFragCache(), rawChunks(), (f) => f.free());
   * assert.ok(rx.region()!.length >= 2048, "at least minRead bytes");
   * ```
   */
  region(): Uint8Array | null {
    if (!this.#makeWindow()) return null;
    const start = this.#base - this.#pageBase + this.#filled;
    return this.#page.subarray(start, this.#base - this.#pageBase + this.#room);
  }

  /**
   * `n` bytes were written at the start of the last `region()`: take every
   * frame now complete, calling the handler for each.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { FrameReceiver, lengthPrefixed } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * let frames = 0;
   * const rx = new FrameReceiver(createPageFragCache(), lengthPrefixed({ width: 1 }), (f) => {
   *   frames++;
   *   f.free();
   * });
   * rx.region()!.set([1, 7, 1]);
   * rx.received(3);
   * assert.equal(frames, 1, "one whole frame");
   * assert.equal(rx.pending, 1, "and one byte of the next");
   * ```
   */
  received(n: number): void {
    const window = this.#room - this.#filled;
    if (!(n >= 0 && n <= window) || (n | 0) !== n || this.#held !== 0) {
      throw new PageFragError(
        "ESTATE",
        `received(${show(n)}): only ${
          this.#held !== 0 ? 0 : window
        } bytes were offered by region()`,
      );
    }
    this.#filled += n;
    this.#take();
  }

  /**
   * Copy `chunk` into page space and take every frame now complete: for
   * sources that own their buffers. Returns the bytes consumed: all of
   * them, or fewer when the cache ran out of memory (push the rest later).
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { FrameReceiver, delimited } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * let n = 0;
   * const rx = new FrameReceiver(createPageFragCache(), delimited(), (f) => {
   *   n++;
   *   f.free();
   * });
   * assert.equal(rx.push(new TextEncoder().encode("x\ny\n")), 4, "all consumed");
   * assert.equal(n, 2);
   * ```
   */
  push(chunk: Uint8Array): number {
    let i = 0;
    const len = chunk.length;
    while (i < len) {
      if (!this.#makeWindow()) return i;
      const at = this.#base - this.#pageBase + this.#filled;
      const n = Math.min(this.#room - this.#filled, len - i);
      this.#page.set(
        i === 0 && n === len ? chunk : chunk.subarray(i, i + n),
        at,
      );
      this.#filled += n;
      i += n;
      this.#take();
    }
    return i;
  }

  /**
   * The stream ended: a delimited stream's last bytes become a last frame;
   * a length-prefixed frame cut off is `ESTATE` (its bytes are dropped). Raw
   * chunks never leave bytes behind.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { FrameReceiver, lengthPrefixed } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const rx = new FrameReceiver(createPageFragCache(), lengthPrefixed({ width: 1 }), (f) => f.free());
   * rx.push(Uint8Array.of(5, 1, 2));
   * assert.throws(() => rx.end(), { code: "ESTATE" }, "3 of 6 bytes arrived");
   * ```
   */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    const pending = this.pending;
    if (pending === 0) return;
    const total = this.framing.flush(pending);
    if (total < 0) {
      this.#drop();
      throw new PageFragError(
        "ESTATE",
        `the stream ended inside a frame: ${pending} bytes of ${
          this.framing.need || "an unknown number of"
        } arrived`,
      );
    }
    if (this.#held !== 0) this.#window(pending);
    if (this.#held !== 0) {
      this.#drop();
      throw new PageFragError(
        "ESTATE",
        `the stream ended with ${pending} bytes and no memory to hold them as a frame`,
      );
    }
    this.#commitFrame(total);
  }

  /** Forget the partial frame (its bytes were never committed: nothing to free). */
  #drop(): void {
    this.#filled = 0;
    this.#held = 0;
    this.framing.reset();
  }

  /** Make sure there is room to read into; false when memory ran out. */
  #makeWindow(): boolean {
    if (this.#ended) {
      throw new PageFragError("ESTATE", "the receiver's stream has ended");
    }
    const need = this.framing.need;
    let want = need > 0 ? need : this.#filled + this.#minRead;
    if (want > this.#maxTotal) {
      want = Math.max(this.#maxTotal, this.#filled + 1);
    }
    if (this.#held === 0 && want <= this.#room && this.#filled < this.#room) {
      return true;
    }
    if (need === 0 && this.#filled >= this.#maxTotal) {
      this.framing.scan(this.#page, this.#base - this.#pageBase, this.#filled);
    }
    return this.#window(want);
  }

  /**
   * Move to a page with `want` bytes of room, carrying the partial frame:
   * copy it out (its bytes are uncommitted, so the refill may reuse or give
   * away the page), prepare, copy it in.
   */
  #window(want: number): boolean {
    const cache = this.cache;
    const filled = this.#filled;
    if (filled !== 0) {
      if (this.#scratch.length < filled) {
        this.#scratch = new Uint8Array(Math.max(filled, this.#maxTotal));
      }
      const at = this.#base - this.#pageBase;
      this.#scratch.set(this.#page.subarray(at, at + filled));
      this.#held = filled;
      this.#filled = 0;
    }
    const p = cache.prepare(Math.max(want, this.#held, 1), this.#align);
    if (p === null) {
      this.#room = 0;
      return false;
    }
    const page = cache.backend.pageOf(p.addr);
    this.#base = p.addr;
    this.#room = p.size;
    this.#pageBase = page;
    this.#page = cache.backend.view(page, cache.backend.pageBytes(page));
    const held = this.#held;
    if (held !== 0) {
      this.#page.set(this.#scratch.subarray(0, held), p.addr - page);
      this.#filled = held;
      this.#held = 0;
    }
    return true;
  }

  /** Commit every complete frame in the bytes read. */
  #take(): void {
    const framing = this.framing;
    for (;;) {
      if (this.#filled === 0) return;
      const total = framing.scan(
        this.#page,
        this.#base - this.#pageBase,
        this.#filled,
      );
      if (total === 0) {
        const need = framing.need;
        if (need > this.#maxTotal) {
          this.#drop();
          throw new PageFragError(
            "EINVAL_SIZE",
            `a frame of ${need} bytes cannot fit a page of ${this.#maxTotal} bytes`,
          );
        }
        return;
      }
      this.#commitFrame(total);
    }
  }

  #commitFrame(total: number): void {
    const cache = this.cache;
    const q = cache.probe(this.#filled, this.#align);
    if (q === null || q.addr !== this.#base) {
      this.#drop();
      this.#room = 0;
      throw new PageFragError(
        "ESTATE",
        "FrameReceiver: its cache was allocated from while a frame was being received; give the receiver a cache of its own",
      );
    }
    const addr = cache.commit(total);
    const f = this.#frame;
    f.addr = addr;
    f.size = total;
    f.length = total - this.framing.head - this.framing.tail;
    f.bytes = this.#page;
    f.offset = addr - this.#pageBase + this.framing.head;
    this.#base += total;
    this.#room -= total;
    this.#filled -= total;
    this.#onFrame(f);
  }
}
