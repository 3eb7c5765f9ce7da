/**
 * Framed receive from Node sockets and readable streams (on Node, and on
 * Bun and Deno through `node:net` / `node:stream`).
 *
 * - {@linkcode nodeOnread}: the zero-copy path. Pass it as `onread` to
 *   `net.connect` / `new net.Socket`: the socket reads straight into page
 *   space (Node, Bun and Deno all honour a `buffer` function there).
 * - {@linkcode pumpNodeStream}: everything else (`'data'` chunks, one copy
 *   each): accepted server sockets, which take no `onread`, and any
 *   readable stream. It also ends the receiver for an `onread` socket.
 *
 * @module
 */
import type { PageFragCache } from "../core/cache.ts";
import type { Framing } from "./frames.ts";
import { FrameQueue } from "./frame_queue.ts";
import { type Frame, FrameReceiver } from "./receive.ts";
import { noRoom, type PumpOptions } from "./receive_reader.ts";

/**
 * The part of a Node `Readable` (or `net.Socket`) the adapters use.
 *
 * @example
 * ```ts
 * import { Readable } from "node:stream";
 * import type { NodeReadable } from "@pagefrag/pagefrag/io";
 *
 * const r: NodeReadable = Readable.from([]);
 * ```
 */
export interface NodeReadable {
  /** Node's EventEmitter `on`. */
  // deno-lint-ignore no-explicit-any
  on(event: string, listener: (...args: any[]) => void): unknown;
  /** Node's EventEmitter `off`. */
  // deno-lint-ignore no-explicit-any
  off(event: string, listener: (...args: any[]) => void): unknown;
  /** Stop `'data'` (and `onread`) until `resume`. */
  pause(): unknown;
  /** Start again. */
  resume(): unknown;
  /** Close with an error. */
  destroy(error?: Error): unknown;
}

/**
 * The `onread` option of `net.connect`: `buffer()` hands the socket the
 * receiver's next page space, `callback(n)` takes the frames. Allocates one
 * view per read and nothing per frame.
 *
 * When the cache has no memory the socket reads into a spare buffer once,
 * pauses (`callback` returns false), and resumes after `waitForMemory`.
 *
 * @example
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { FrameReceiver, type NodeOnread, nodeOnread, rawChunks } from "@pagefrag/pagefrag/io";
 * import assert from "node:assert/strict";
 *
 * const o: NodeOnread = nodeOnread(new FrameReceiver(createPageFragCache(), rawChunks(), (f) => f.free()));
 * assert.ok(o.buffer().length > 0, "page space for the first read");
 * ```
 */
export interface NodeOnread {
  /** Where the socket reads next. */
  buffer: () => Uint8Array;
  /** `n` bytes were read into `buf`; false pauses the socket. */
  callback: (n: number, buf: Uint8Array) => boolean;
  /** The socket, once known (`pumpNodeStream` sets it); used to resume and to report errors. */
  socket: NodeReadable | undefined;
  /** The first error met in `callback` (the socket is destroyed with it). */
  error: unknown;
}

/**
 * Make the `onread` option for a socket that feeds `receiver`. Then call
 * {@linkcode pumpNodeStream} on the socket with `{ onread }` to learn when
 * the stream ended.
 *
 * @example
 * ```ts
 * import net from "node:net";
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { FrameReceiver, lengthPrefixed, nodeOnread, pumpNodeStream } from "@pagefrag/pagefrag/io";
 * import assert from "node:assert/strict";
 *
 * const server = net.createServer((s) => s.end(Uint8Array.of(0, 0, 0, 2, 4, 2)));
 * await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
 * const port = (server.address() as net.AddressInfo).port;
 * let sum = 0;
 * const rx = new FrameReceiver(createPageFragCache(), lengthPrefixed(), (f) => {
 *   sum += f.bytes[f.offset] + f.bytes[f.offset + 1];
 *   f.free();
 * });
 * const onread = nodeOnread(rx);
 * const socket = net.connect({ port, host: "127.0.0.1", onread });
 * await pumpNodeStream(socket, rx, { onread });
 * socket.destroy();
 * server.close();
 * assert.equal(sum, 6, "the payload bytes, read in place");
 * ```
 */
export function nodeOnread(
  receiver: FrameReceiver,
  opts?: PumpOptions,
): NodeOnread {
  const spare = new Uint8Array(4096);
  const state: NodeOnread = {
    socket: undefined,
    error: undefined,
    buffer(): Uint8Array {
      if (state.error !== undefined) return spare;
      try {
        return receiver.region() ?? spare;
      } catch (e) {
        fail(e);
        return spare;
      }
    },
    callback(n: number, buf: Uint8Array): boolean {
      if (state.error !== undefined) return false;
      try {
        if (buf !== spare) {
          receiver.received(n);
          return true;
        }
        const used = receiver.push(spare.subarray(0, n));
        if (used === n) return true;
        const rest = spare.slice(used, n);
        stall(rest);
        return false;
      } catch (e) {
        fail(e);
        return false;
      }
    },
  };
  function fail(e: unknown): void {
    state.error ??= e;
    state.socket?.destroy(e as Error);
  }
  async function stall(rest: Uint8Array): Promise<void> {
    try {
      for (;;) {
        await noRoom(opts, receiver.wants);
        const used = receiver.push(rest);
        if (used === rest.length) break;
        rest = rest.subarray(used);
      }
      state.socket?.resume();
    } catch (e) {
      fail(e);
    }
  }
  return state;
}

/**
 * Options of {@linkcode pumpNodeStream}.
 *
 * @example
 * ```ts
 * import type { NodePumpOptions } from "@pagefrag/pagefrag/io";
 *
 * const o: NodePumpOptions = { signal: AbortSignal.timeout(5000) };
 * ```
 */
export interface NodePumpOptions extends PumpOptions {
  /** The socket reads through this `onread` (its `'data'` never fires): only wait for the end. */
  onread?: NodeOnread;
}

/**
 * Feed a Node readable stream (or socket) to `receiver` until it ends:
 * `'data'` chunks are copied into page space (paused while the cache waits
 * for memory); with `{ onread }` the socket already reads in place and this
 * only ends the receiver at `'end'`. Resolves after the last frame; rejects
 * on a stream error, a framing error or an abort.
 *
 * @example
 * ```ts
 * import { Readable } from "node:stream";
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { delimited, FrameReceiver, pumpNodeStream } from "@pagefrag/pagefrag/io";
 * import assert from "node:assert/strict";
 *
 * const lines: string[] = [];
 * const rx = new FrameReceiver(createPageFragCache(), delimited(), (f) => {
 *   lines.push(new TextDecoder().decode(f.data));
 *   f.free();
 * });
 * await pumpNodeStream(Readable.from([Buffer.from("a\nb"), Buffer.from("c\n")]), rx);
 * assert.deepEqual(lines, ["a", "bc"]);
 * ```
 */
export function pumpNodeStream(
  stream: NodeReadable,
  receiver: FrameReceiver,
  opts?: NodePumpOptions,
): Promise<void> {
  const onread = opts?.onread;
  if (onread !== undefined) onread.socket = stream;
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const signal = opts?.signal;
    const finish = (e?: unknown) => {
      if (settled) return;
      settled = true;
      stream.off("data", onData);
      stream.off("end", onEnd);
      stream.off("error", onError);
      stream.off("close", onClose);
      signal?.removeEventListener("abort", onAbort);
      if (e === undefined) resolve();
      else reject(e);
    };
    // Chunks that came while waiting for memory, in order (a runtime may
    // deliver a little more, and even 'end', after pause()).
    let backlog: Uint8Array[] | undefined;
    let endSeen = false;
    const onData = (chunk: Uint8Array) => {
      if (settled) return;
      if (backlog !== undefined) {
        backlog.push(chunk);
        return;
      }
      try {
        const used = receiver.push(chunk);
        if (used === chunk.length) return;
        backlog = [chunk.subarray(used)];
        stream.pause();
        void drainBacklog().catch(fail);
      } catch (e) {
        fail(e);
      }
    };
    const drainBacklog = async () => {
      while (backlog!.length > 0) {
        const chunk = backlog![0];
        const n = receiver.push(chunk);
        if (n === chunk.length) {
          backlog!.shift();
          continue;
        }
        backlog![0] = chunk.subarray(n);
        await noRoom(opts, receiver.wants);
        if (settled) return;
      }
      backlog = undefined;
      if (endSeen) onEnd();
      else stream.resume();
    };
    const fail = (e: unknown) => {
      finish(e);
      stream.destroy(e as Error);
    };
    const onEnd = () => {
      if (onread?.error !== undefined) return finish(onread.error);
      endSeen = true;
      if (backlog !== undefined) return; // drainBacklog ends it
      try {
        receiver.end();
        finish();
      } catch (e) {
        finish(e);
      }
    };
    const onError = (e: unknown) => finish(onread?.error ?? e);
    const onClose = () => {
      if (onread?.error !== undefined) return finish(onread.error);
      if (!endSeen) onEnd(); // closed without 'end': whatever came is all
    };
    const onAbort = () => fail(signal!.reason);
    if (signal?.aborted) return fail(signal.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    stream.on("end", onEnd);
    stream.on("error", onError);
    stream.on("close", onClose);
    if (onread === undefined) stream.on("data", onData);
  });
}

/**
 * Frames of a Node readable stream or socket, one `Frame` object each:
 * the `for await` form of {@linkcode pumpNodeStream}. The stream is paused
 * while frames wait unread; breaking out of the loop destroys it.
 *
 * @example
 * ```ts
 * import { Readable } from "node:stream";
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { lengthPrefixed, nodeFrames } from "@pagefrag/pagefrag/io";
 * import assert from "node:assert/strict";
 *
 * const src = Readable.from([Buffer.of(1, 65, 1), Buffer.of(66)]);
 * const got: number[] = [];
 * for await (const f of nodeFrames(src, createPageFragCache(), lengthPrefixed({ width: 1 }))) {
 *   got.push(f.bytes[f.offset]);
 *   f.free();
 * }
 * assert.deepEqual(got, [65, 66]);
 * ```
 */
export function nodeFrames(
  stream: NodeReadable,
  cache: PageFragCache,
  framing: Framing,
  opts?: PumpOptions,
): AsyncIterableIterator<Frame> {
  const queue = new FrameQueue();
  const receiver = new FrameReceiver(
    cache,
    framing,
    (f) => queue.push(f.clone()),
    opts,
  );
  queue.pause = () => stream.pause();
  queue.resume = () => stream.resume();
  queue.stop = () => stream.destroy();
  pumpNodeStream(stream, receiver, opts).then(
    () => queue.end(),
    (e) => queue.end(e),
  );
  return queue;
}
