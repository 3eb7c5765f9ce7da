/**
 * The Web types `pagefrag/io` takes (`AbortSignal`, `ReadableStream`), named
 * so the declarations type-check without the DOM lib: the real types where
 * the program's libs declare them (DOM, Deno, Bun, `@types/node`), else the
 * structural minimum the adapters use.
 *
 * @module
 */

/**
 * The part of an `AbortSignal` the waits use.
 *
 * @example
 * ```ts
 * import type { AbortSignalLike } from "@pagefrag/pagefrag/io";
 * import assert from "node:assert/strict";
 *
 * const s: AbortSignalLike = AbortSignal.abort();
 * assert.ok(s.aborted, "an aborted signal fits");
 * ```
 */
export interface AbortSignalLike {
  /** Whether the signal was aborted. */
  readonly aborted: boolean;
  /** Why (the `abort()` argument). */
  readonly reason?: unknown;
  /** Listen for `"abort"`. */
  addEventListener(
    type: "abort",
    listener: () => void,
    options?: { once?: boolean },
  ): void;
  /** Stop listening. */
  removeEventListener(type: "abort", listener: () => void): void;
}

/**
 * `AbortSignal` where the program's libs declare it, else
 * {@linkcode AbortSignalLike}.
 *
 * @example
 * ```ts
 * import type { AbortSignalOf } from "@pagefrag/pagefrag/io";
 *
 * const s: AbortSignalOf = new AbortController().signal;
 * if (s.aborted) throw new Error("not aborted yet");
 * ```
 */
export type AbortSignalOf = typeof globalThis extends
  { AbortSignal: { prototype: infer S } } ? S : AbortSignalLike;

/**
 * The part of a `ReadableStream<Uint8Array>` the stream adapters use: a
 * default reader (never a BYOB one: that would transfer the page away).
 *
 * @example
 * ```ts
 * import type { ReadableStreamLike } from "@pagefrag/pagefrag/io";
 *
 * const s: ReadableStreamLike = new ReadableStream<Uint8Array>();
 * s.getReader().releaseLock();
 * ```
 */
export interface ReadableStreamLike {
  /** A default reader. */
  getReader(): {
    read(): Promise<{ done: boolean; value?: Uint8Array }>;
    releaseLock(): void;
    cancel(reason?: unknown): Promise<void>;
  };
}

/**
 * `ReadableStream<Uint8Array>` where the program's libs declare it, else
 * {@linkcode ReadableStreamLike}.
 *
 * @example
 * ```ts
 * import type { ByteStream } from "@pagefrag/pagefrag/io";
 *
 * const s: ByteStream = new ReadableStream<Uint8Array>();
 * s.getReader().releaseLock();
 * ```
 */
export type ByteStream = typeof globalThis extends
  { ReadableStream: { prototype: infer R } } ? R : ReadableStreamLike;
