/**
 * Recycled views for an arena backend (shared, wasm). All pages are one
 * buffer, so the bytes at (address, size) are the same bytes for as long as
 * the buffer object is: a view made for them can be handed out again for a
 * later fragment over those bytes, whichever page holds them now. A small
 * direct-mapped table keyed by address keeps the last view per slot; a view
 * of an older buffer object (a grown wasm memory) never matches.
 *
 * @module
 */

/** Table slots (a power of two): a 128 KiB window at 16-byte granularity. */
const SLOTS = 8192;
const MASK = SLOTS - 1;

/**
 * The last view made per address slot, bounded at {@linkcode SLOTS} views
 * per backend handle.
 *
 * @example
 * ```ts
 * import { ArenaViews } from "@pagefrag/pagefrag/backends/shared";
 * import assert from "node:assert/strict";
 *
 * const buffer = new SharedArrayBuffer(4096);
 * const views = new ArenaViews();
 * assert.equal(views.get(256, 64, buffer), undefined, "nothing made yet");
 * const v = new Uint8Array(buffer, 256, 64);
 * views.put(256, v);
 * assert.equal(views.get(256, 64, buffer), v, "the same view again");
 * assert.equal(views.hits, 1);
 * ```
 */
export class ArenaViews {
  readonly #addrs = new Int32Array(SLOTS).fill(-1);
  readonly #views: (Uint8Array | undefined)[] = new Array(SLOTS);
  /** Views handed out again. */
  hits = 0;
  /** Views that had to be made. */
  misses = 0;

  /**
   * The view made last for exactly (`addr`, `size`) over `buffer`, or
   * `undefined`.
   *
   * @example
   * ```ts
   * import { ArenaViews } from "@pagefrag/pagefrag/backends/shared";
   * import assert from "node:assert/strict";
   *
   * const views = new ArenaViews();
   * assert.equal(views.get(16, 8, new SharedArrayBuffer(64)), undefined);
   * ```
   */
  get(
    addr: number,
    size: number,
    buffer: ArrayBufferLike,
  ): Uint8Array | undefined {
    const i = (addr >>> 4) & MASK;
    if (this.#addrs[i] === addr) {
      const v = this.#views[i]!;
      if (v.length === size && v.buffer === buffer) {
        this.hits++;
        return v;
      }
    }
    return undefined;
  }

  /**
   * Remember `view`, just made for `addr`.
   *
   * @example
   * ```ts
   * import { ArenaViews } from "@pagefrag/pagefrag/backends/shared";
   * import assert from "node:assert/strict";
   *
   * const buffer = new SharedArrayBuffer(64);
   * const views = new ArenaViews();
   * views.put(16, new Uint8Array(buffer, 16, 8));
   * assert.equal(views.misses, 1, "a view made is a miss");
   * ```
   */
  put(addr: number, view: Uint8Array): void {
    const i = (addr >>> 4) & MASK;
    this.#addrs[i] = addr;
    this.#views[i] = view;
    this.misses++;
  }
}
