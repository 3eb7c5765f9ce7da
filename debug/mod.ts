/**
 * Debugging aids, off by default and free when off: the sanitizer
 * (poisoned free memory, red zones, precise double-free detection,
 * allocation and free sites, pinned-page reports) and the leak detector
 * (views garbage-collected without a free). Turn them on with the cache
 * options `sanitize` and `leakDetection`; this entry holds the classes
 * behind them, for reports and for plugging your own into `pagefrag/di`.
 *
 * @example
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { instrumentationOf, SanitizerError } from "@pagefrag/pagefrag/debug";
 * import assert from "node:assert/strict";
 *
 * const cache = createPageFragCache({ sanitize: true });
 * const frag = cache.alloc(16)!;
 * cache.free(frag);
 * assert.throws(() => cache.free(frag), SanitizerError, "a double free is caught");
 * assert.ok(instrumentationOf(cache)?.sanitizer, "the cache is instrumented");
 * ```
 *
 * @module
 */
export {
  type PinnedPage,
  type SanitizedFragment,
  Sanitizer,
  type SanitizerOptions,
  type SanitizerStats,
} from "./sanitizer.ts";
export { SanitizerError } from "./sanitizer_error.ts";
export { POISON_FREE, POISON_REDZONE } from "./checker.ts";
export {
  type Instrumentation,
  instrumentationOf,
  InstrumentedBackend,
} from "./instrumented_backend.ts";
export {
  type LeakDetectionLevel,
  LeakDetector,
  type LeakDetectorOptions,
  type LeakReport,
  type LeakStats,
} from "./leaks.ts";
export {
  type FragmentSnapshot,
  type FragmentState,
  type PageSnapshot,
  type Snapshot,
  snapshot,
  TracingBackend,
} from "./snapshot.ts";
export { ForwardingBackend } from "./forwarding_backend.ts";
