/**
 * pagefrag/io: bytes in and out of page space.
 *
 * - Zero-copy framed receive: {@linkcode FrameReceiver} reads straight into
 *   prepared page space and commits one fragment per frame
 *   ({@linkcode lengthPrefixed}, {@linkcode delimited}, {@linkcode rawChunks}),
 *   from Deno-style readers ({@linkcode pumpReader}, {@linkcode readFrames}),
 *   Node sockets ({@linkcode nodeOnread}) and streams
 *   ({@linkcode pumpNodeStream}, {@linkcode nodeFrames}), Web streams
 *   ({@linkcode pumpStream}, {@linkcode streamFrames}) and Bun's socket
 *   handlers ({@linkcode bunSocketHandlers}).
 * - An encoder cursor: {@linkcode FragWriter} writes integers, floats,
 *   bytes and strings into prepared space and finishes into fragments.
 * - Writing fragments to a socket and freeing each only once the write
 *   completed: {@linkcode NodeFragSender}, {@linkcode writeFragsDeno},
 *   {@linkcode BunFragSender}.
 * - Waiting for memory ({@linkcode allocAsync}, {@linkcode prepareAsync})
 *   and the worker ring ({@linkcode FragRing}).
 *
 * Never transfer a fragment's buffer (`postMessage(f, [f.buffer])`, a BYOB
 * read): it detaches the whole page. Free a fragment only after its write
 * completed. See docs/io.md.
 *
 * @example
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { FrameReceiver, lengthPrefixed } from "@pagefrag/pagefrag/io";
 * import assert from "node:assert/strict";
 *
 * const got: number[] = [];
 * const rx = new FrameReceiver(createPageFragCache(), lengthPrefixed({ width: 2 }), (f) => {
 *   got.push(f.length);
 *   f.free();
 * });
 * rx.push(Uint8Array.of(0, 3, 1, 2, 3, 0, 1));
 * rx.push(Uint8Array.of(9));
 * assert.deepEqual(got, [3, 1], "two frames, the second split across chunks");
 * ```
 *
 * @module
 */

// ---- receive, writer, socket write (io/frames.ts .. io/socket_write.ts)
export {
  delimited,
  type DelimiterOptions,
  type Framing,
  lengthPrefixed,
  type LengthPrefixOptions,
  rawChunks,
} from "./frames.ts";
export {
  Frame,
  type FrameHandler,
  FrameReceiver,
  type FrameReceiverOptions,
} from "./receive.ts";
export { FrameQueue } from "./frame_queue.ts";
export {
  type ByteReader,
  type PumpOptions,
  pumpReader,
  pumpStream,
  readFrames,
  streamFrames,
} from "./receive_reader.ts";
export {
  nodeFrames,
  type NodeOnread,
  nodeOnread,
  type NodePumpOptions,
  type NodeReadable,
  pumpNodeStream,
} from "./receive_node.ts";
export {
  type BunFrameHandlers,
  bunSocketHandlers,
  type BunSocketLike,
} from "./receive_bun.ts";
export { FragList } from "./frag_list.ts";
export { FragWriter, type FragWriterOptions } from "./writer.ts";
export {
  BunFragSender,
  type BunWritable,
  type DenoWriter,
  NodeFragSender,
  type NodeWritable,
  writeFragDeno,
  writeFragsDeno,
} from "./socket_write.ts";

// The worker ring and waiting for memory (io/ring.ts, io/wait.ts).
export { FragRing, type FragRingDescriptor, RingBackoff } from "./ring.ts";
export { MpscFragRing, type MpscFragRingDescriptor } from "./mpsc_ring.ts";
export type { WaitOptions } from "./sleep.ts";
export {
  allocAsync,
  allocHandleAsync,
  POLL_MAX_MS,
  prepareAsync,
  WAIT_SLICE_MS,
  type WaitableCache,
  type WaitForMemoryOptions,
} from "./wait.ts";
export type {
  AbortSignalLike,
  AbortSignalOf,
  ByteStream,
  ReadableStreamLike,
} from "./web_types.ts";
