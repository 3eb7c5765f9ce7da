/**
 * Options of caches and backends, and their validation.
 *
 * @module
 */
import type { MemoryBackend } from "./backend.ts";
import { PageFragError } from "./errors.ts";
import type { AlignmentPolicy } from "../policies/alignment.ts";
import type { RefillPolicy } from "../policies/refill.ts";
import type { PfmemallocPolicy } from "../policies/pfmemalloc.ts";
import type { SanitizerOptions } from "./sanitizer.ts";
import type { LeakDetectionLevel, LeakDetectorOptions } from "./leaks.ts";

/**
 * The shape of a backend's memory: page geometry, budget and reserve.
 *
 * @example
 * ```ts
 * import { HeapBackend, type BackendOptions } from "@pagefrag/pagefrag";
 *
 * const opts: BackendOptions = { pageSize: 4096, maxOrder: 3, maxBytes: 1 << 20, reserveBytes: 65536 };
 * const backend = new HeapBackend(opts);
 * if (backend.stats().bytesTotal !== (1 << 20) + 65536) throw new Error();
 * ```
 */
export interface BackendOptions {
  /** Bytes in an order-0 page: a power of two from 1024 to 1 MiB. Default 4096. */
  pageSize?: number;
  /** Highest page order, 0..10; fragments may be up to `pageSize << maxOrder` bytes (at most 512 MiB). Default 3. */
  maxOrder?: number;
  /** Budget for all pages of the backend, in bytes. Default unlimited (`Infinity`). */
  maxBytes?: number;
  /** Emergency reserve beyond the budget that only `memalloc` requests may use. Default 0. */
  reserveBytes?: number;
}

/**
 * Everything `createPageFragCache` and `registerPageFrag` accept.
 *
 * @example
 * ```ts
 * import { createPageFragCache, type PageFragOptions } from "@pagefrag/pagefrag";
 *
 * const options: PageFragOptions = { maxBytes: 1 << 20, align: 64, refill: "order0" };
 * const cache = createPageFragCache(options);
 * if (cache.allocHandle(10)! % 64 !== 0) throw new Error();
 * ```
 */
export interface PageFragOptions extends BackendOptions {
  /** Where pages come from: `"heap"` (default), `"shared"` (a fresh SharedArrayBuffer arena), `"wasm"` (a fresh shared WebAssembly.Memory) or a backend instance. */
  backend?: "heap" | "shared" | "wasm" | MemoryBackend;
  /** Default start alignment of fragments: a power of two, or a policy. Default 1. */
  align?: number | AlignmentPolicy;
  /** Which page orders to try on refill. Default `"kernel"`. */
  refill?: "kernel" | "order0" | RefillPolicy;
  /** Who may use the reserve and whether its pages recycle. Default `"kernel"`. */
  pfmemalloc?: "kernel" | "deny" | PfmemallocPolicy;
  /** Clear every fragment `alloc`/`allocHandle` hands out (`__GFP_ZERO`). Default false. */
  zero?: boolean;
  /**
   * Turn on the sanitizer (`true`, or its options): poisoned free memory,
   * red zones, precise double frees, allocation and free sites. Costs
   * nothing when off (the default). See `Sanitizer`.
   */
  sanitize?: boolean | SanitizerOptions;
  /**
   * Report fragment views garbage-collected without being freed: `"off"`
   * (the default), `"sampled"` (one view in 128), `"all"`, or options.
   * See `LeakDetector`.
   */
  leakDetection?: LeakDetectionLevel | LeakDetectorOptions;
}

/**
 * Backend options with every default filled in and every value checked.
 *
 * @example
 * ```ts
 * import { resolveBackendOptions } from "@pagefrag/pagefrag";
 *
 * const o = resolveBackendOptions({ maxBytes: 8192 });
 * if (o.pageSize !== 4096 || o.maxOrder !== 3 || o.reserveBytes !== 0) throw new Error();
 * ```
 */
export interface ResolvedBackendOptions {
  /** Bytes in an order-0 page. */
  readonly pageSize: number;
  /** Highest page order. */
  readonly maxOrder: number;
  /** Budget in bytes (`Infinity` when unlimited). */
  readonly maxBytes: number;
  /** Reserve in bytes. */
  readonly reserveBytes: number;
}

const OPTION_KEYS = new Set([
  "backend",
  "pageSize",
  "maxOrder",
  "maxBytes",
  "reserveBytes",
  "align",
  "refill",
  "pfmemalloc",
  "zero",
  "sanitize",
  "leakDetection",
]);

function bad(message: string): PageFragError {
  return new PageFragError("EINVAL_OPTION", message);
}

function isPow2(n: number): boolean {
  return (n | 0) === n && n > 0 && (n & (n - 1)) === 0;
}

/** Check `options` is an object whose keys are all known option names (internal). */
export function checkOptionKeys(options: unknown): void {
  if (options === undefined) return;
  if (options === null || typeof options !== "object") {
    throw bad(`options must be an object, got ${show(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) {
      throw bad(
        `unknown option "${key}" (known: ${[...OPTION_KEYS].join(", ")})`,
      );
    }
  }
}

/**
 * Fill in defaults and validate page geometry, budget and reserve.
 * Throws `EINVAL_OPTION` naming the first bad value.
 *
 * @example
 * ```ts
 * import { resolveBackendOptions } from "@pagefrag/pagefrag";
 *
 * try {
 *   resolveBackendOptions({ pageSize: 3000 });
 *   throw new Error("unreachable");
 * } catch (e) {
 *   if ((e as { code?: string }).code !== "EINVAL_OPTION") throw e;
 * }
 * ```
 */
export function resolveBackendOptions(
  options: BackendOptions = {},
): ResolvedBackendOptions {
  if (options === null || typeof options !== "object") {
    throw bad(`backend options must be an object, got ${show(options)}`);
  }
  const pageSize = options.pageSize ?? 4096;
  if (
    typeof pageSize !== "number" || !isPow2(pageSize) || pageSize < 1024 ||
    pageSize > 1 << 20
  ) {
    throw bad(
      `pageSize must be a power of two from 1024 to 1048576, got ${
        show(pageSize)
      }`,
    );
  }
  const maxOrder = options.maxOrder ?? 3;
  if (
    typeof maxOrder !== "number" || (maxOrder | 0) !== maxOrder ||
    maxOrder < 0 || maxOrder > 10
  ) {
    throw bad(
      `maxOrder must be an integer from 0 to 10, got ${show(maxOrder)}`,
    );
  }
  if (pageSize * 2 ** maxOrder > 2 ** 29) {
    throw bad(
      `pageSize << maxOrder must be at most 512 MiB, got ${pageSize} << ${maxOrder}`,
    );
  }
  const maxBytes = options.maxBytes ?? Infinity;
  if (
    typeof maxBytes !== "number" || !(maxBytes >= 0) ||
    (maxBytes !== Infinity && !Number.isSafeInteger(maxBytes))
  ) {
    throw bad(
      `maxBytes must be a non-negative integer or Infinity, got ${
        show(maxBytes)
      }`,
    );
  }
  const reserveBytes = options.reserveBytes ?? 0;
  if (
    typeof reserveBytes !== "number" || !Number.isSafeInteger(reserveBytes) ||
    reserveBytes < 0
  ) {
    throw bad(
      `reserveBytes must be a non-negative integer, got ${show(reserveBytes)}`,
    );
  }
  return { pageSize, maxOrder, maxBytes, reserveBytes };
}

/** A short, safe rendering of a value for error messages (internal). */
export function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "bigint") {
    return String(value);
  }
  if (value === null || value === undefined || typeof value === "boolean") {
    return String(value);
  }
  if (typeof value === "function") return "a function";
  if (Array.isArray(value)) return "an array";
  return `an object (${Object.prototype.toString.call(value)})`;
}
