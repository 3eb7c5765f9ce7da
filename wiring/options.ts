/**
 * The options of `createPageFragCache` and friends, and the one place that
 * parses them: each option value becomes a backend or policy instance here.
 *
 * @module
 */
import type { MemoryBackend } from "../core/backend.ts";
import { PageFragError } from "../core/errors.ts";
import {
  type AlignmentPolicy,
  isValidAlign,
  type PfmemallocPolicy,
  type RefillPolicy,
} from "../core/policy.ts";
import { HeapBackend } from "../backends/heap.ts";
import { SharedBackend } from "../backends/shared.ts";
import { WasmBackend } from "../backends/wasm.ts";
import { resolveBackendOptions } from "../backends/options.ts";
import { checkLockTimeout } from "../core/lock.ts";
import { fixedAlignment, noAlignment } from "../policies/alignment.ts";
import { kernelRefill, order0Refill } from "../policies/refill.ts";
import { denyPfmemalloc, kernelPfmemalloc } from "../policies/pfmemalloc.ts";
import type { PagedBackendOptions } from "../backends/page_table.ts";
import { show } from "../core/format.ts";
import {
  type SanitizerOptions,
  sanitizerOptionsFrom,
} from "../debug/sanitizer.ts";
import {
  type LeakDetectionLevel,
  type LeakDetectorOptions,
  leakOptionsFrom,
} from "../debug/leaks.ts";

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
export interface PageFragOptions extends PagedBackendOptions {
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
  /**
   * For the `"shared"` and `"wasm"` backends: the bound on every wait for a
   * lock (the arena's, a shared netdev cache's), in milliseconds; past it
   * the call throws `ETIMEDOUT` (or `EOWNERDEAD`) naming the holder.
   * Default 2000.
   */
  lockTimeoutMs?: number;
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
  "poolBytes",
  "viewsPerPage",
  "lockTimeoutMs",
]);

function bad(message: string): PageFragError {
  return new PageFragError("EINVAL_OPTION", message);
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

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null;
}

/** Turn the `backend` option into a backend instance. */
export function backendFrom(options: PageFragOptions): MemoryBackend {
  const backend = options.backend ?? "heap";
  if (backend === "heap") return new HeapBackend(options);
  if (backend === "shared") return new SharedBackend(options);
  if (backend === "wasm") return new WasmBackend(options);
  if (
    isObject(backend) && typeof backend.allocPage === "function" &&
    typeof backend.free === "function" && typeof backend.view === "function"
  ) {
    // Geometry options, when given, must agree with the backend's own.
    for (const key of ["pageSize", "maxOrder"] as const) {
      if (options[key] !== undefined && options[key] !== backend[key]) {
        throw bad(
          `${key} ${show(options[key])} disagrees with the backend's ${
            show(backend[key])
          }; set it on the backend instead`,
        );
      }
    }
    for (const key of ["maxBytes", "reserveBytes"] as const) {
      if (options[key] !== undefined) {
        throw bad(
          `${key} is a property of the backend; set it on the backend instance instead`,
        );
      }
    }
    return backend;
  }
  throw bad(
    `backend must be "heap", "shared", "wasm" or a MemoryBackend, got ${
      show(backend)
    }`,
  );
}

/** Turn the `align` option into an alignment policy. */
export function alignmentFrom(options: PageFragOptions): AlignmentPolicy {
  const align = options.align ?? 1;
  if (typeof align === "number") {
    const pageSize = options.pageSize ??
      (typeof options.backend === "object" ? options.backend.pageSize : 4096);
    if (!isValidAlign(align, pageSize)) {
      throw new PageFragError(
        "EINVAL_ALIGN",
        `align must be a power of two from 1 to the page size, got ${
          show(align)
        }`,
      );
    }
    return align === 1 ? noAlignment : fixedAlignment(align);
  }
  if (isObject(align) && typeof align.align === "number") return align;
  throw bad(
    `align must be a number or an AlignmentPolicy, got ${show(align)}`,
  );
}

/** Turn the `refill` option into a refill policy. */
export function refillFrom(options: PageFragOptions): RefillPolicy {
  const refill = options.refill ?? "kernel";
  if (refill === "kernel") return kernelRefill;
  if (refill === "order0") return order0Refill;
  if (isObject(refill) && typeof refill.plan === "function") return refill;
  throw bad(
    `refill must be "kernel", "order0" or a RefillPolicy, got ${show(refill)}`,
  );
}

/** Turn the `pfmemalloc` option into a pfmemalloc policy. */
export function pfmemallocFrom(options: PageFragOptions): PfmemallocPolicy {
  const pf = options.pfmemalloc ?? "kernel";
  if (pf === "kernel") return kernelPfmemalloc;
  if (pf === "deny") return denyPfmemalloc;
  if (
    isObject(pf) && typeof pf.mayUseReserve === "function" &&
    typeof pf.mayRecycle === "function"
  ) {
    return pf;
  }
  throw bad(
    `pfmemalloc must be "kernel", "deny" or a PfmemallocPolicy, got ${
      show(pf)
    }`,
  );
}

/**
 * Check every option before anything is built, so bad options fail at
 * registration with `EINVAL_OPTION`/`EINVAL_ALIGN` rather than at first use.
 * Returns a frozen own-property copy (internal).
 */
export function parseOptions(options: PageFragOptions): PageFragOptions {
  checkOptionKeys(options);
  // Own properties only, copied into one object of a fixed shape (every key
  // present): a property set on Object.prototype must not configure every
  // cache, and a fixed shape keeps making a cache cheap.
  const src = (options ?? {}) as Record<string, unknown>;
  const own = (key: string) => Object.hasOwn(src, key) ? src[key] : undefined;
  const o = {
    backend: own("backend"),
    pageSize: own("pageSize"),
    maxOrder: own("maxOrder"),
    maxBytes: own("maxBytes"),
    reserveBytes: own("reserveBytes"),
    align: own("align"),
    refill: own("refill"),
    pfmemalloc: own("pfmemalloc"),
    zero: own("zero"),
    sanitize: own("sanitize"),
    leakDetection: own("leakDetection"),
    poolBytes: own("poolBytes"),
    viewsPerPage: own("viewsPerPage"),
    lockTimeoutMs: own("lockTimeoutMs"),
  } as PageFragOptions;
  if (typeof o.backend !== "object" || o.backend === null) {
    resolveBackendOptions(o);
  }
  for (const key of ["poolBytes", "viewsPerPage"] as const) {
    if (o[key] !== undefined && (o.backend ?? "heap") !== "heap") {
      throw bad(
        `${key} is an option of the heap backend, not of ${show(o.backend)}${
          typeof o.backend === "object" ? " (set it on the instance)" : ""
        }`,
      );
    }
  }
  refillFrom(o);
  pfmemallocFrom(o);
  if (o.zero !== undefined && typeof o.zero !== "boolean") {
    throw bad(`zero must be a boolean, got ${show(o.zero)}`);
  }
  if (o.lockTimeoutMs !== undefined) {
    checkLockTimeout(o.lockTimeoutMs, 0);
    if (o.backend !== "shared" && o.backend !== "wasm") {
      throw bad(
        `lockTimeoutMs is for the "shared" and "wasm" backends (set it on a backend instance yourself), got backend ${
          show(o.backend)
        }`,
      );
    }
  }
  sanitizerOptionsFrom(o.sanitize);
  leakOptionsFrom(o.leakDetection);
  if (typeof o.align !== "object") alignmentFrom(o);
  const b = o.backend;
  if (
    b !== undefined && b !== "heap" && b !== "shared" && b !== "wasm" &&
    typeof b !== "object"
  ) {
    backendFrom(o); // throws EINVAL_OPTION naming the bad value
  }
  return Object.freeze(o);
}
