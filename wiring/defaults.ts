/**
 * Per-worker default caches, the kernel's per-CPU `netdev_alloc_cache` and
 * `napi_alloc_cache`: each worker (each module instance) has its own pair,
 * made on first use from the configuration given to `configurePageFrag`
 * (plain options, or a container set up with `registerPageFrag` from
 * `pagefrag/di`).
 *
 * @module
 */
import type { AllocOptions } from "../core/cache.ts";
import type { NapiFragCache } from "../flavours/napi.ts";
import type { NetdevFragCache } from "../flavours/netdev.ts";
import type { PageFragOptions } from "./options.ts";
import { cacheMaker } from "./create.ts";
import { type PageFragContainer, TOKENS } from "./tokens.ts";

/** Where this worker's default caches come from. */
interface Source {
  make(flavour: "netdev" | "napi"): NetdevFragCache | NapiFragCache;
}

let source: Source | undefined;
let netdev: NetdevFragCache | undefined;
let napi: NapiFragCache | undefined;

/** Both default caches over one backend built from `options`, on first use. */
function fromOptions(options: PageFragOptions): Source {
  const make = cacheMaker(options);
  return {
    make: (flavour) => make(flavour) as NetdevFragCache | NapiFragCache,
  };
}

function fromContainer(c: PageFragContainer): Source {
  return {
    make: (flavour) =>
      c.resolve(flavour === "netdev" ? TOKENS.NetdevCache : TOKENS.NapiCache),
  };
}

function from(): Source {
  return source ??= fromOptions({});
}

/**
 * Configure this worker's default caches: pass options (both caches then
 * share one backend built from them) or your own container already set up
 * with `registerPageFrag` from `pagefrag/di` (its `TOKENS.NetdevCache` and `TOKENS.NapiCache` are
 * resolved). Existing default caches are drained and replaced; fragments
 * they handed out stay valid and are freed as usual.
 *
 * @example
 * ```ts
 * import { configurePageFrag, netdevAllocFrag, pageFragFree } from "@pagefrag/pagefrag";
 *
 * configurePageFrag({ maxBytes: 1 << 20, align: 64 });
 * const frag = netdevAllocFrag(100)!;
 * if (frag.byteOffset % 64 !== 0) throw new Error();
 * pageFragFree(frag);
 * ```
 */
export function configurePageFrag(
  config: PageFragOptions | PageFragContainer = {},
): void {
  const next = typeof (config as PageFragContainer).resolve === "function"
    ? fromContainer(config as PageFragContainer)
    : fromOptions(config as PageFragOptions);
  netdev?.drain();
  napi?.drain();
  netdev = napi = undefined;
  source = next;
}

/**
 * This worker's default netdev cache (made on first use).
 *
 * @example
 * ```ts
 * import { defaultNetdevCache } from "@pagefrag/pagefrag";
 *
 * if (defaultNetdevCache() !== defaultNetdevCache()) throw new Error("one per worker");
 * ```
 */
export function defaultNetdevCache(): NetdevFragCache {
  return netdev ??= from().make("netdev") as NetdevFragCache;
}

/**
 * This worker's default napi cache (made on first use).
 *
 * @example
 * ```ts
 * import { defaultNapiCache, napiPoll } from "@pagefrag/pagefrag";
 *
 * napiPoll(() => {
 *   if (!defaultNapiCache().inPoll()) throw new Error();
 * });
 * ```
 */
export function defaultNapiCache(): NapiFragCache {
  return napi ??= from().make("napi") as NapiFragCache;
}

/**
 * Allocate a fragment from this worker's default netdev cache, from any
 * context (`netdev_alloc_frag`); `null` when memory is exhausted.
 *
 * @example
 * ```ts
 * import { netdevAllocFrag, pageFragFree } from "@pagefrag/pagefrag";
 *
 * const frag = netdevAllocFrag(1500);
 * if (frag === null) throw new Error("out of memory");
 * pageFragFree(frag);
 * ```
 */
export function netdevAllocFrag(
  size: number,
  opts?: AllocOptions,
): Uint8Array | null {
  return (netdev ?? defaultNetdevCache()).alloc(size, opts);
}

/**
 * Allocate a fragment from this worker's default napi cache
 * (`napi_alloc_frag`). Only inside `napiPoll`; `ECONTEXT` outside.
 *
 * @example
 * ```ts
 * import { napiAllocFrag, napiPoll, pageFragFree } from "@pagefrag/pagefrag";
 *
 * const frag = napiPoll(() => napiAllocFrag(256))!;
 * pageFragFree(frag);
 * ```
 */
export function napiAllocFrag(
  size: number,
  opts?: AllocOptions,
): Uint8Array | null {
  return (napi ?? defaultNapiCache()).alloc(size, opts);
}

/**
 * Run `fn` inside the poll scope of this worker's default napi cache (the
 * NAPI softirq) and return its result.
 *
 * @example
 * ```ts
 * import { napiAllocFrag, napiPoll, pageFragFree } from "@pagefrag/pagefrag";
 *
 * napiPoll(() => {
 *   for (let i = 0; i < 64; i++) pageFragFree(napiAllocFrag(128)!);
 * });
 * ```
 */
export function napiPoll<T>(fn: () => T): T {
  return (napi ?? defaultNapiCache()).poll(fn);
}
