/**
 * The async iterator behind the push-source adapters: frames go in from a
 * socket's callbacks, come out of `for await`, and the source is paused
 * while too many frames wait unread.
 *
 * @module
 */
import type { Frame } from "./receive.ts";

/**
 * An `AsyncIterableIterator<Frame>` fed by callbacks. `high` frames waiting
 * call `pause`; draining to none calls `resume`. Breaking out of the loop
 * (or `return()`) frees every frame still queued and calls `stop`.
 *
 * @example
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { FrameQueue, FrameReceiver, rawChunks } from "@pagefrag/pagefrag/io";
 * import assert from "node:assert/strict";
 *
 * const q = new FrameQueue();
 * const rx = new FrameReceiver(createPageFragCache(), rawChunks(), (f) => q.push(f.clone()));
 * rx.push(Uint8Array.of(1, 2, 3));
 * q.end();
 * let n = 0;
 * for await (const f of q) {
 *   n += f.length;
 *   f.free();
 * }
 * assert.equal(n, 3, "every byte came out");
 * ```
 */
export class FrameQueue implements AsyncIterableIterator<Frame> {
  /** Called when `high` frames are waiting: pause the source. */
  pause: () => void = () => {};
  /** Called when the queue ran dry after a pause: resume the source. */
  resume: () => void = () => {};
  /** Called when the consumer stops early: close the source. */
  stop: () => void = () => {};
  readonly #high: number;
  #items: Frame[] = [];
  #head = 0;
  #paused = false;
  #done = false;
  #error: unknown = undefined;
  #wake: (() => void) | undefined;

  /**
   * A queue that pauses its source at `high` waiting frames.
   *
   * @example
   * ```ts
   * import { FrameQueue } from "@pagefrag/pagefrag/io";
   *
   * const q = new FrameQueue(64);
   * q.end();
   * ```
   */
  constructor(high = 1024) {
    this.#high = high;
  }

  /**
   * Add a frame (the queue owns it until it is yielded).
   *
   * @example
   * ```ts
   * import { FrameQueue } from "@pagefrag/pagefrag/io";
   *
   * new FrameQueue().end();
   * ```
   */
  push(frame: Frame): void {
    if (this.#done) {
      frame.free();
      return;
    }
    this.#items.push(frame);
    if (!this.#paused && this.#items.length - this.#head >= this.#high) {
      this.#paused = true;
      this.pause();
    }
    this.#notify();
  }

  /**
   * No more frames: the loop ends once the queued ones are taken, or throws
   * `error` if one is given.
   *
   * @example
   * ```ts
   * import { FrameQueue } from "@pagefrag/pagefrag/io";
   *
   * new FrameQueue().end(new Error("peer reset"));
   * ```
   */
  end(error?: unknown): void {
    if (this.#done) return;
    this.#done = true;
    this.#error = error;
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /**
   * The next frame.
   *
   * @example
   * ```ts
   * import { FrameQueue } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const q = new FrameQueue();
   * q.end();
   * assert.equal((await q.next()).done, true);
   * ```
   */
  async next(): Promise<IteratorResult<Frame>> {
    for (;;) {
      if (this.#head < this.#items.length) {
        const f = this.#items[this.#head++];
        if (this.#head === this.#items.length) {
          this.#items.length = 0;
          this.#head = 0;
          if (this.#paused && !this.#done) {
            this.#paused = false;
            this.resume();
          }
        }
        return { value: f, done: false };
      }
      if (this.#done) {
        if (this.#error !== undefined) {
          const e = this.#error;
          this.#error = undefined;
          throw e;
        }
        return { value: undefined, done: true };
      }
      await new Promise<void>((r) => this.#wake = r);
    }
  }

  /**
   * Stop early: queued frames are freed and the source closed.
   *
   * @example
   * ```ts
   * import { FrameQueue } from "@pagefrag/pagefrag/io";
   *
   * await new FrameQueue().return();
   * ```
   */
  return(): Promise<IteratorResult<Frame>> {
    for (let i = this.#head; i < this.#items.length; i++) this.#items[i].free();
    this.#items.length = 0;
    this.#head = 0;
    if (!this.#done) {
      this.#done = true;
      this.stop();
    }
    this.#error = undefined;
    return Promise.resolve({ value: undefined, done: true });
  }

  /**
   * Itself.
   *
   * @example
   * ```ts
   * import { FrameQueue } from "@pagefrag/pagefrag/io";
   *
   * const q = new FrameQueue();
   * if (q[Symbol.asyncIterator]() !== q) throw new Error();
   * ```
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<Frame> {
    return this;
  }
}
