/**
 * Framed receive from pull sources: Deno-style readers
 * (`read(buf): Promise<number | null>`: `Deno.Conn`, `Deno.FsFile`, anything
 * shaped like them), which read straight into page space, and Web
 * `ReadableStream`s through a default reader (one copy per chunk: a BYOB
 * read would transfer the page's buffer away, so it is never used).
 *
 * @module
 */
import type { PageFragCache } from "../core/cache.ts";
import { PageFragError } from "../core/errors.ts";
import type { Framing } from "./frames.ts";
import {
  type Frame,
  FrameReceiver,
  type FrameReceiverOptions,
} from "./receive.ts";
import type { AbortSignalOf, ByteStream } from "./web_types.ts";

/**
 * A source that reads into a buffer it is given: `Deno.Conn`, `Deno.FsFile`,
 * `Deno.Reader`. `null` is the end of the stream.
 *
 * @example
 * ```ts
 * import type { ByteReader } from "@pagefrag/pagefrag/io";
 *
 * const empty: ByteReader = { read: () => Promise.resolve(null) };
 * ```
 */
export interface ByteReader {
  /** Read up to `buf.length` bytes into `buf`; the count, or `null` at the end. */
  read(buf: Uint8Array): Promise<number | null>;
}

/**
 * Options of the pull adapters.
 *
 * @example
 * ```ts
 * import type { PumpOptions } from "@pagefrag/pagefrag/io";
 *
 * const o: PumpOptions = { signal: AbortSignal.timeout(10_000) };
 * ```
 */
export interface PumpOptions extends FrameReceiverOptions {
  /** Stop reading (the pump rejects with the signal's reason). */
  signal?: AbortSignalOf;
  /**
   * Called when the cache has no memory for the next read; resolve when
   * fragments were freed (e.g. `pagefrag/io`'s memory wait). Without it, no
   * memory is an `ETIMEDOUT` error: a receiver never busy-waits.
   */
  waitForMemory?: (bytes: number) => Promise<void>;
}

const EMPTY = new Uint8Array(0);

/** No room: wait as the caller asked, or fail (shared by the adapters; not an entry export). */
export async function noRoom(
  opts: PumpOptions | undefined,
  bytes: number,
): Promise<void> {
  if (opts?.waitForMemory === undefined) {
    throw new PageFragError(
      "ETIMEDOUT",
      `no memory in the cache's budget for the next ${bytes}-byte read, and no waitForMemory option to wait for it`,
    );
  }
  await opts.waitForMemory(bytes);
}

/**
 * Read `reader` to its end straight into page space, handing each complete
 * frame to the receiver's callback. Resolves at the end of the stream
 * (after `receiver.end()`); rejects on a read error, a framing error or an
 * abort. Allocates nothing per frame (one view per read).
 *
 * @example
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { FrameReceiver, lengthPrefixed, pumpReader } from "@pagefrag/pagefrag/io";
 * import assert from "node:assert/strict";
 *
 * const bytes = Uint8Array.of(0, 2, 7, 8, 0, 1, 9);
 * let at = 0;
 * const reader = {                            // reads 3 bytes at a time
 *   read(buf: Uint8Array) {
 *     if (at === bytes.length) return Promise.resolve(null);
 *     const n = Math.min(3, buf.length, bytes.length - at);
 *     buf.set(bytes.subarray(at, at + n));
 *     at += n;
 *     return Promise.resolve(n);
 *   },
 * };
 * const sums: number[] = [];
 * const rx = new FrameReceiver(createPageFragCache(), lengthPrefixed({ width: 2 }), (f) => {
 *   sums.push(f.data.reduce((a, b) => a + b, 0));
 *   f.free();
 * });
 * await pumpReader(reader, rx);
 * assert.deepEqual(sums, [15, 9], "two frames, split across reads");
 * ```
 */
export async function pumpReader(
  reader: ByteReader,
  receiver: FrameReceiver,
  opts?: PumpOptions,
): Promise<void> {
  const signal = opts?.signal;
  for (;;) {
    signal?.throwIfAborted();
    const into = receiver.region();
    if (into === null) {
      await noRoom(opts, receiver.wants);
      continue;
    }
    const n = await reader.read(into);
    if (n === null) break;
    receiver.received(n);
  }
  receiver.end();
}

/**
 * Frames of `reader`, read straight into page space of `cache`: the
 * convenient form of {@linkcode pumpReader} (one `Frame` object per frame).
 * Free each frame; breaking out of the loop stops reading.
 *
 * @example
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { delimited, readFrames } from "@pagefrag/pagefrag/io";
 * import assert from "node:assert/strict";
 *
 * const text = new TextEncoder().encode("one\ntwo\n");
 * let done = false;
 * const reader = {
 *   read(buf: Uint8Array) {
 *     if (done) return Promise.resolve(null);
 *     done = true;
 *     buf.set(text);
 *     return Promise.resolve(text.length);
 *   },
 * };
 * const lines: string[] = [];
 * for await (const f of readFrames(reader, createPageFragCache(), delimited())) {
 *   lines.push(new TextDecoder().decode(f.data));
 *   f.free();
 * }
 * assert.deepEqual(lines, ["one", "two"]);
 * ```
 */
export async function* readFrames(
  reader: ByteReader,
  cache: PageFragCache,
  framing: Framing,
  opts?: PumpOptions,
): AsyncGenerator<Frame, void, undefined> {
  const batch: Frame[] = [];
  const receiver = new FrameReceiver(
    cache,
    framing,
    (f) => batch.push(f.clone()),
    opts,
  );
  let next = 0;
  try {
    for (;;) {
      opts?.signal?.throwIfAborted();
      const into = receiver.region();
      if (into === null) {
        await noRoom(opts, receiver.wants);
        continue;
      }
      const n = await reader.read(into);
      if (n === null) receiver.end();
      else receiver.received(n);
      while (next < batch.length) yield batch[next++];
      batch.length = next = 0;
      if (n === null) return;
    }
  } finally {
    // Stopped early: the frames not yet yielded are ours to free.
    for (let k = next; k < batch.length; k++) batch[k].free();
  }
}

/**
 * Read a Web `ReadableStream` of bytes to its end through a default reader,
 * copying each chunk into page space once (never a BYOB read: it would
 * transfer, and so detach, the whole page). Resolves at the end.
 *
 * @example
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { FrameReceiver, lengthPrefixed, pumpStream } from "@pagefrag/pagefrag/io";
 * import assert from "node:assert/strict";
 *
 * const stream = new ReadableStream<Uint8Array>({
 *   start(c) {
 *     c.enqueue(Uint8Array.of(2, 1));
 *     c.enqueue(Uint8Array.of(1, 1, 5));
 *     c.close();
 *   },
 * });
 * const lens: number[] = [];
 * const rx = new FrameReceiver(createPageFragCache(), lengthPrefixed({ width: 1 }), (f) => {
 *   lens.push(f.length);
 *   f.free();
 * });
 * await pumpStream(stream, rx);
 * assert.deepEqual(lens, [2, 1]);
 * ```
 */
export async function pumpStream(
  stream: ByteStream,
  receiver: FrameReceiver,
  opts?: PumpOptions,
): Promise<void> {
  const reader = stream.getReader();
  try {
    for (;;) {
      opts?.signal?.throwIfAborted();
      const r = await reader.read();
      if (r.done) break;
      let chunk = r.value;
      for (;;) {
        const used = receiver.push(chunk);
        if (used === chunk.length) break;
        chunk = chunk.subarray(used);
        await noRoom(opts, receiver.wants);
      }
    }
    receiver.end();
  } catch (e) {
    await reader.cancel(e).catch(() => {});
    throw e;
  } finally {
    reader.releaseLock();
  }
}

/**
 * Frames of a Web `ReadableStream` (see {@linkcode pumpStream}), one
 * `Frame` object each. Free each frame.
 *
 * @example
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { delimited, streamFrames } from "@pagefrag/pagefrag/io";
 * import assert from "node:assert/strict";
 *
 * const stream = new Blob(["a\r\nb\r\n"]).stream();
 * const out: string[] = [];
 * for await (const f of streamFrames(stream, createPageFragCache(), delimited("\r\n"))) {
 *   out.push(new TextDecoder().decode(f.data));
 *   f.free();
 * }
 * assert.deepEqual(out, ["a", "b"]);
 * ```
 */
export async function* streamFrames(
  stream: ByteStream,
  cache: PageFragCache,
  framing: Framing,
  opts?: PumpOptions,
): AsyncGenerator<Frame, void, undefined> {
  const batch: Frame[] = [];
  const receiver = new FrameReceiver(
    cache,
    framing,
    (f) => batch.push(f.clone()),
    opts,
  );
  const reader = stream.getReader();
  let next = 0;
  try {
    for (;;) {
      opts?.signal?.throwIfAborted();
      const r = await reader.read();
      if (r.done) receiver.end();
      let chunk = r.done ? EMPTY : r.value;
      for (;;) {
        const used = chunk.length === 0 ? 0 : receiver.push(chunk);
        // Hand out what is complete before waiting: the memory we wait
        // for may be exactly these frames, once the consumer frees them.
        while (next < batch.length) yield batch[next++];
        batch.length = next = 0;
        if (used === chunk.length) break;
        chunk = chunk.subarray(used);
        await noRoom(opts, receiver.wants);
      }
      if (r.done) return;
    }
  } finally {
    for (let k = next; k < batch.length; k++) batch[k].free();
    await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
