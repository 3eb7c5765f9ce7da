/**
 * Bytes in and out: zero-copy framed receive, the `FragWriter` encoder,
 * waiting for memory, and the worker ring (entry point `pagefrag/io`).
 *
 * @module
 */

// The worker ring and waiting for memory (io/ring.ts, io/wait.ts).
export { FragRing, type FragRingDescriptor, RingBackoff } from "./ring.ts";
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
