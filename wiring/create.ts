/**
 * Building caches without a container: the option values become a backend
 * and policies (`options.ts`), and the cache is constructed over them
 * directly. The DI entry (`pagefrag/di`) builds the same graph through the
 * same functions, so both paths agree on every default.
 *
 * @module
 */
import type { MemoryBackend } from "../core/backend.ts";
import { type CacheState, PageFragCache } from "../core/cache.ts";
import type {
  AlignmentPolicy,
  PfmemallocPolicy,
  RefillPolicy,
} from "../core/policy.ts";
import { NapiFragCache } from "../flavours/napi.ts";
import { NetdevFragCache } from "../flavours/netdev.ts";
import { Sanitizer, sanitizerOptionsFrom } from "../debug/sanitizer.ts";
import { InstrumentedBackend } from "../debug/instrumented_backend.ts";
import { instrumentCacheClass } from "../debug/instrumented_cache.ts";
import { LeakDetector, leakOptionsFrom } from "../debug/leaks.ts";
import {
  alignmentFrom,
  backendFrom,
  type PageFragOptions,
  parseOptions,
  pfmemallocFrom,
  refillFrom,
} from "./options.ts";

/** The three cache classes, by flavour (internal). */
export type Flavour = "cache" | "netdev" | "napi";

const PLAIN = {
  cache: PageFragCache,
  netdev: NetdevFragCache,
  napi: NapiFragCache,
} as const;

/** The instrumented subclass of each flavour, made on first need. */
let instrumented: typeof PLAIN | undefined;

/** The sanitizer the options ask for, or undefined (internal). */
export function sanitizerFrom(o: PageFragOptions): Sanitizer | undefined {
  const so = sanitizerOptionsFrom(o.sanitize);
  return so === undefined ? undefined : new Sanitizer(so);
}

/** The leak detector the options ask for, or undefined (internal). */
export function leakDetectorFrom(o: PageFragOptions): LeakDetector | undefined {
  const lo = leakOptionsFrom(o.leakDetection);
  return lo === undefined ? undefined : new LeakDetector(lo);
}

/**
 * `raw` wrapped for the sanitizer and/or leak detector, or `raw` itself when
 * neither is on (internal).
 */
export function instrument(
  raw: MemoryBackend,
  sanitizer: Sanitizer | undefined,
  leaks: LeakDetector | undefined,
): MemoryBackend {
  if (raw instanceof InstrumentedBackend) return raw;
  if (sanitizer === undefined && leaks === undefined) return raw;
  return new InstrumentedBackend(raw, { sanitizer, leaks });
}

/** A cache state record the backend keeps for recovery, if it has any. */
function recoverableState(backend: MemoryBackend): CacheState | undefined {
  const b = backend as { cacheState?: () => CacheState | undefined };
  return typeof b.cacheState === "function" ? b.cacheState() : undefined;
}

/** Whether other workers can attach to this backend (it has `share()`). */
function isShareable(backend: MemoryBackend): boolean {
  return typeof (backend as { share?: unknown }).share === "function";
}

/**
 * Construct a cache of `flavour` over its parts (internal): the plain class,
 * or its instrumented subclass over an instrumented backend (so nothing
 * changes on the plain hot path). A netdev cache on a backend other workers
 * can attach to keeps its state in shared memory, so they can use this very
 * cache too.
 */
export function assemble(
  flavour: Flavour,
  backend: MemoryBackend,
  alignment: AlignmentPolicy,
  refill: RefillPolicy,
  pfmemalloc: PfmemallocPolicy,
  zero: boolean,
): PageFragCache {
  const classes = backend instanceof InstrumentedBackend
    ? instrumented ??= {
      cache: instrumentCacheClass(PageFragCache),
      netdev: instrumentCacheClass(NetdevFragCache),
      napi: instrumentCacheClass(NapiFragCache),
    }
    : PLAIN;
  const cache = flavour === "netdev"
    ? new classes.netdev(
      backend,
      alignment,
      refill,
      pfmemalloc,
      isShareable(backend)
        ? new SharedArrayBuffer(NetdevFragCache.stateBytes)
        : undefined,
    )
    : new classes[flavour](
      backend,
      alignment,
      refill,
      pfmemalloc,
      // On an arena, a state record in its shared metadata: if this thread
      // dies, the arena's owner can drain the cache and get its page back.
      recoverableState(backend),
    );
  cache.zero = zero;
  return cache;
}

/**
 * A maker of caches of any flavour over one backend, built on first use
 * from `options` (parsed now, so bad options fail here): what
 * `createPageFragCache` and the per-worker default caches use (internal).
 */
export function cacheMaker(
  options: PageFragOptions,
): (flavour: Flavour) => PageFragCache {
  const o = parseOptions(options);
  let backend: MemoryBackend | undefined;
  return (flavour) => {
    backend ??= instrument(
      backendFrom(o),
      sanitizerFrom(o),
      leakDetectorFrom(o),
    );
    return assemble(
      flavour,
      backend,
      alignmentFrom(o),
      refillFrom(o),
      pfmemallocFrom(o),
      o.zero === true,
    );
  };
}

function build(flavour: Flavour, options: PageFragOptions): PageFragCache {
  return cacheMaker(options)(flavour);
}

/**
 * Make a page fragment cache (and, unless you pass one, its own backend):
 * the options are parsed and the cache is built over them directly, with no
 * container (to compose your own plugins with tsyringe, see `pagefrag/di`).
 *
 * @example
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 *
 * const cache = createPageFragCache({ maxBytes: 64 * 1024, align: 64 });
 * const frag = cache.alloc(256);
 * if (frag === null) throw new Error("out of memory");
 * cache.free(frag);
 * ```
 */
// Overloads (types only): the fragments' buffer type follows the backend,
// so heap fragments are Uint8Array<ArrayBuffer> (a BufferSource/BlobPart).
export function createPageFragCache<B extends ArrayBufferLike>(
  options: PageFragOptions & { backend: MemoryBackend<B> },
): PageFragCache<B>;
/**
 * The `"shared"` backend: fragments are `Uint8Array<SharedArrayBuffer>`.
 *
 * @example
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 *
 * const frag: Uint8Array<SharedArrayBuffer> = createPageFragCache({ backend: "shared" }).alloc(8)!;
 * if (!(frag.buffer instanceof SharedArrayBuffer)) throw new Error();
 * ```
 */
export function createPageFragCache(
  options: PageFragOptions & { backend: "shared" },
): PageFragCache<SharedArrayBuffer>;
/**
 * The heap backend (the default): fragments are `Uint8Array<ArrayBuffer>`.
 *
 * @example
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 *
 * const frag: Uint8Array<ArrayBuffer> = createPageFragCache().alloc(8)!;
 * new Blob([frag]); // a BlobPart, as any ArrayBuffer-backed view
 * ```
 */
export function createPageFragCache(
  options?: PageFragOptions & { backend?: "heap" },
): PageFragCache<ArrayBuffer>;
/**
 * Any options: fragments over `ArrayBufferLike` (e.g. `"wasm"`, or a
 * `backend` whose type is not known statically).
 *
 * @example
 * ```ts
 * import { createPageFragCache, type PageFragOptions } from "@pagefrag/pagefrag";
 *
 * const options: PageFragOptions = { backend: "wasm" };
 * const frag: Uint8Array | null = createPageFragCache(options).alloc(8);
 * if (frag === null) throw new Error();
 * ```
 */
export function createPageFragCache(options?: PageFragOptions): PageFragCache;
/**
 * The implementation behind the overloads above (one signature for all).
 *
 * @example
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 *
 * const cache = createPageFragCache({ maxBytes: 1 << 20 });
 * cache.free(cache.alloc(64)!);
 * ```
 */
export function createPageFragCache(
  options: PageFragOptions = {},
): PageFragCache {
  return build("cache", options);
}

/**
 * Make a netdev-flavour cache (usable from any context; see
 * {@linkcode NetdevFragCache}) with the same options as
 * {@linkcode createPageFragCache}.
 *
 * @example
 * ```ts
 * import { createNetdevCache } from "@pagefrag/pagefrag";
 *
 * const netdev = createNetdevCache({ maxBytes: 1 << 20 });
 * netdev.free(netdev.alloc(1500)!);
 * ```
 */
// Overloads (types only): the fragments' buffer type follows the backend,
// so heap fragments are Uint8Array<ArrayBuffer> (a BufferSource/BlobPart).
export function createNetdevCache<B extends ArrayBufferLike>(
  options: PageFragOptions & { backend: MemoryBackend<B> },
): NetdevFragCache<B>;
/**
 * The `"shared"` backend: fragments are `Uint8Array<SharedArrayBuffer>`.
 *
 * @example
 * ```ts
 * import { createNetdevCache } from "@pagefrag/pagefrag";
 *
 * const frag: Uint8Array<SharedArrayBuffer> = createNetdevCache({ backend: "shared" }).alloc(8)!;
 * if (!(frag.buffer instanceof SharedArrayBuffer)) throw new Error();
 * ```
 */
export function createNetdevCache(
  options: PageFragOptions & { backend: "shared" },
): NetdevFragCache<SharedArrayBuffer>;
/**
 * The heap backend (the default): fragments are `Uint8Array<ArrayBuffer>`.
 *
 * @example
 * ```ts
 * import { createNetdevCache } from "@pagefrag/pagefrag";
 *
 * const frag: Uint8Array<ArrayBuffer> = createNetdevCache().alloc(8)!;
 * new Blob([frag]); // a BlobPart, as any ArrayBuffer-backed view
 * ```
 */
export function createNetdevCache(
  options?: PageFragOptions & { backend?: "heap" },
): NetdevFragCache<ArrayBuffer>;
/**
 * Any options: fragments over `ArrayBufferLike` (e.g. `"wasm"`, or a
 * `backend` whose type is not known statically).
 *
 * @example
 * ```ts
 * import { createNetdevCache, type PageFragOptions } from "@pagefrag/pagefrag";
 *
 * const options: PageFragOptions = { backend: "wasm" };
 * const frag: Uint8Array | null = createNetdevCache(options).alloc(8);
 * if (frag === null) throw new Error();
 * ```
 */
export function createNetdevCache(options?: PageFragOptions): NetdevFragCache;
/**
 * The implementation behind the overloads above (one signature for all).
 *
 * @example
 * ```ts
 * import { createNetdevCache } from "@pagefrag/pagefrag";
 *
 * const netdev = createNetdevCache({ maxBytes: 1 << 20 });
 * netdev.free(netdev.alloc(64)!);
 * ```
 */
export function createNetdevCache(
  options: PageFragOptions = {},
): NetdevFragCache {
  return build("netdev", options) as NetdevFragCache;
}

/**
 * Make a napi-flavour cache (usable only inside `poll`; see
 * {@linkcode NapiFragCache}) with the same options as
 * {@linkcode createPageFragCache}.
 *
 * @example
 * ```ts
 * import { createNapiCache } from "@pagefrag/pagefrag";
 *
 * const napi = createNapiCache();
 * napi.poll(() => napi.free(napi.alloc(1500)!));
 * ```
 */
// Overloads (types only): the fragments' buffer type follows the backend,
// so heap fragments are Uint8Array<ArrayBuffer> (a BufferSource/BlobPart).
export function createNapiCache<B extends ArrayBufferLike>(
  options: PageFragOptions & { backend: MemoryBackend<B> },
): NapiFragCache<B>;
/**
 * The `"shared"` backend: fragments are `Uint8Array<SharedArrayBuffer>`.
 *
 * @example
 * ```ts
 * import { createNapiCache } from "@pagefrag/pagefrag";
 *
 * const napi = createNapiCache({ backend: "shared" });
 * const frag: Uint8Array<SharedArrayBuffer> = napi.poll(() => napi.alloc(8))!;
 * if (!(frag.buffer instanceof SharedArrayBuffer)) throw new Error();
 * ```
 */
export function createNapiCache(
  options: PageFragOptions & { backend: "shared" },
): NapiFragCache<SharedArrayBuffer>;
/**
 * The heap backend (the default): fragments are `Uint8Array<ArrayBuffer>`.
 *
 * @example
 * ```ts
 * import { createNapiCache } from "@pagefrag/pagefrag";
 *
 * const napi = createNapiCache();
 * const frag: Uint8Array<ArrayBuffer> = napi.poll(() => napi.alloc(8))!;
 * new Blob([frag]); // a BlobPart, as any ArrayBuffer-backed view
 * ```
 */
export function createNapiCache(
  options?: PageFragOptions & { backend?: "heap" },
): NapiFragCache<ArrayBuffer>;
/**
 * Any options: fragments over `ArrayBufferLike` (e.g. `"wasm"`, or a
 * `backend` whose type is not known statically).
 *
 * @example
 * ```ts
 * import { createNapiCache, type PageFragOptions } from "@pagefrag/pagefrag";
 *
 * const options: PageFragOptions = { backend: "wasm" };
 * const napi = createNapiCache(options);
 * const frag: Uint8Array | null = napi.poll(() => napi.alloc(8));
 * if (frag === null) throw new Error();
 * ```
 */
export function createNapiCache(options?: PageFragOptions): NapiFragCache;
/**
 * The implementation behind the overloads above (one signature for all).
 *
 * @example
 * ```ts
 * import { createNapiCache } from "@pagefrag/pagefrag";
 *
 * const napi = createNapiCache({ maxBytes: 1 << 20 });
 * napi.poll(() => napi.free(napi.alloc(64)!));
 * ```
 */
export function createNapiCache(options: PageFragOptions = {}): NapiFragCache {
  return build("napi", options) as NapiFragCache;
}

// Compile the allocation path now, at import, instead of on the user's first
// call: V8 and JSC compile a function on its first call, and the first
// alloc + free runs some twenty cold functions (refill, page allocation,
// view, free), which costs 0.5-1 ms. A first call that slow makes mitata
// time a user's benchmark call by call and report it several times too
// slow. A throwaway cache over a throwaway heap backend, destroyed at once:
// nothing of it outlives the import.
for (const flavour of ["cache", "netdev", "napi"] as const) {
  const cache = build(flavour, { maxOrder: 0 });
  const run = () => {
    cache.free(cache.alloc(64)!);
    cache.free(cache.allocHandle(64)!);
  };
  if (cache instanceof NapiFragCache) cache.poll(run);
  else run();
  cache.destroy();
}
