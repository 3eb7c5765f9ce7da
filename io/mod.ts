/**
 * Bytes in and out: zero-copy framed receive, the `FragWriter` encoder,
 * waiting for memory, and the worker ring (entry point `pagefrag/io`).
 *
 * @module
 */

// The worker ring and waiting for memory (io/ring.ts, io/wait.ts).
export {
  FragRing,
  type FragRingDescriptor,
  RingBackoff,
  type RingWaitOptions,
} from "./ring.ts";
