/**
 * Copying a range of bytes into page space the fastest way each runtime
 * has, without a view object where it can be helped. Shared by the
 * writer's `bytes(src, start, end)`.
 *
 * @module
 */

/** Bun's `Buffer.copy` is native and makes no view: the fastest range copy there. */
const NATIVE_COPY =
  typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";

/** Node's `Buffer` (on every runtime): a range copy of its own. */
interface BufferLike extends Uint8Array {
  copy(
    target: Uint8Array,
    targetStart: number,
    start: number,
    end: number,
  ): number;
}

const EMPTY = new Uint8Array(0);

/**
 * Copies `src[start, end)` to `dst[at]`. Keeps a plain `Uint8Array` over
 * the last source: a view of a `Buffer` made through its own `subarray`
 * is a `FastBuffer` on Node, far slower to make (Node's `Buffer.copy` makes
 * one too), so views are taken of the plain array instead; on Bun a
 * Buffer's native `copy` makes no view at all.
 *
 * @example
 * ```ts
 * import { RangeCopier } from "./range_copy.ts";
 * import assert from "node:assert/strict";
 *
 * const dst = new Uint8Array(4);
 * new RangeCopier().copy(dst, 1, Uint8Array.of(5, 6, 7, 8), 1, 3);
 * assert.deepEqual([...dst], [0, 6, 7, 0]);
 * ```
 */
export class RangeCopier {
  #lastSrc: Uint8Array = EMPTY;
  #lastPlain: Uint8Array = EMPTY;

  /** Copy `src[start, end)` to `dst[at]` (the range must be valid). */
  copy(
    dst: Uint8Array,
    at: number,
    src: Uint8Array,
    start: number,
    end: number,
  ): void {
    if (NATIVE_COPY && typeof (src as BufferLike).copy === "function") {
      (src as BufferLike).copy(dst, at, start, end);
      return;
    }
    if (src !== this.#lastSrc) {
      this.#lastSrc = src;
      this.#lastPlain = Object.getPrototypeOf(src) === Uint8Array.prototype
        ? src
        : new Uint8Array(src.buffer, src.byteOffset, src.length);
    }
    dst.set(this.#lastPlain.subarray(start, end), at);
  }
}
