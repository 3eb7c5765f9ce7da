/**
 * Framed receive from Bun's socket handlers (`Bun.listen` / `Bun.connect`):
 * Bun hands each read to a `data(socket, chunk)` handler, so each chunk is
 * copied into page space once, and frames are taken in place.
 *
 * @module
 */
import type { FrameReceiver } from "./receive.ts";
import { noRoom, type PumpOptions } from "./receive_reader.ts";

/**
 * The part of a Bun socket the handlers use.
 *
 * @example
 * ```ts
 * import type { BunSocketLike } from "@pagefrag/pagefrag/io";
 *
 * const s: BunSocketLike = { end() {} };
 * ```
 */
export interface BunSocketLike {
  /** Stop reading (Bun >= 1.1.25). */
  pause?(): void;
  /** Read again. */
  resume?(): void;
  /** Close the socket. */
  end(): unknown;
}

/**
 * Bun socket handlers feeding `receiver`, and `done`, which settles when
 * the socket closes: resolved after the last frame, rejected on a socket
 * or framing error.
 *
 * @example
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { type BunFrameHandlers, bunSocketHandlers, FrameReceiver, rawChunks } from "@pagefrag/pagefrag/io";
 *
 * const h: BunFrameHandlers = bunSocketHandlers(
 *   new FrameReceiver(createPageFragCache(), rawChunks(), (f) => f.free()),
 * );
 * h.end({ end() {} });
 * await h.done;
 * ```
 */
export interface BunFrameHandlers {
  /** Bun's `data` handler. */
  data(socket: BunSocketLike, chunk: Uint8Array): void;
  /** Bun's `end` handler (the peer closed its side). */
  end(socket: BunSocketLike): void;
  /** Bun's `close` handler. */
  close(socket: BunSocketLike, error?: Error): void;
  /** Bun's `error` handler. */
  error(socket: BunSocketLike, error: Error): void;
  /** Settles once the stream is over. */
  readonly done: Promise<void>;
}

/**
 * Handlers for `Bun.connect({ socket })` or `Bun.listen({ socket })` (one
 * receiver per connection: make them in `open`) that take frames of each
 * `data` chunk. When the cache has no memory, the socket is paused until
 * `waitForMemory` resolves.
 *
 * @example
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { bunSocketHandlers, FrameReceiver, lengthPrefixed } from "@pagefrag/pagefrag/io";
 * import assert from "node:assert/strict";
 *
 * const lens: number[] = [];
 * const rx = new FrameReceiver(createPageFragCache(), lengthPrefixed({ width: 1 }), (f) => {
 *   lens.push(f.length);
 *   f.free();
 * });
 * const h = bunSocketHandlers(rx);
 * const socket = { end() {} };                 // stands in for a Bun socket
 * h.data(socket, Uint8Array.of(1, 9, 2));
 * h.data(socket, Uint8Array.of(8, 8));
 * h.end(socket);
 * await h.done;
 * assert.deepEqual(lens, [1, 2]);
 * ```
 */
export function bunSocketHandlers(
  receiver: FrameReceiver,
  opts?: PumpOptions,
): BunFrameHandlers {
  let settle!: (e?: unknown) => void;
  let over = false;
  const done = new Promise<void>((resolve, reject) => {
    settle = (e?: unknown) => {
      if (over) return;
      over = true;
      if (e === undefined) resolve();
      else reject(e);
    };
  });
  // Chunks that came while waiting for memory, in order.
  let backlog: Uint8Array[] | undefined;
  let ended = false;
  const finishIfEnded = () => {
    if (!ended || backlog !== undefined) return;
    try {
      receiver.end();
      settle();
    } catch (e) {
      settle(e);
    }
  };
  const drainBacklog = async (socket: BunSocketLike) => {
    try {
      while (backlog !== undefined && backlog.length > 0) {
        let chunk = backlog[0];
        const used = receiver.push(chunk);
        if (used === chunk.length) {
          backlog.shift();
          continue;
        }
        backlog[0] = chunk = chunk.subarray(used);
        await noRoom(opts, receiver.wants);
      }
      backlog = undefined;
      socket.resume?.();
      finishIfEnded();
    } catch (e) {
      settle(e);
      socket.end();
    }
  };
  return {
    done,
    data(socket, chunk) {
      if (over) return;
      if (backlog !== undefined) {
        backlog.push(chunk.slice()); // Bun may reuse the chunk's memory
        return;
      }
      try {
        const used = receiver.push(chunk);
        if (used === chunk.length) return;
        backlog = [chunk.slice(used)];
        socket.pause?.();
        void drainBacklog(socket);
      } catch (e) {
        settle(e);
        socket.end();
      }
    },
    end() {
      ended = true;
      finishIfEnded();
    },
    close(_socket, error) {
      if (error !== undefined) settle(error);
      ended = true;
      finishIfEnded();
    },
    error(_socket, error) {
      settle(error);
    },
  };
}
