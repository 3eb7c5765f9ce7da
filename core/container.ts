/**
 * The composition root: the one place where backends, policies and the cache
 * are wired together, with tsyringe.
 *
 * Library classes carry no decorators; everything is registered with
 * factories and values, so pagefrag works whatever decorator settings the
 * application compiles with. Override any token in your own container and
 * the caches resolved from it change accordingly.
 *
 * @module
 */
import "reflect-metadata";
import { container as rootContainer } from "tsyringe";
import type { MemoryBackend } from "./backend.ts";
import { PageFragCache } from "./cache.ts";
import { NapiFragCache } from "./napi.ts";
import { NetdevFragCache } from "./netdev.ts";
import { PageFragError } from "./errors.ts";
import {
  checkOptionKeys,
  type PageFragOptions,
  resolveBackendOptions,
  show,
} from "./options.ts";
import { HeapBackend } from "../backends/heap.ts";
import {
  SharedBackend,
  type SharedBackendDescriptor,
} from "../backends/shared.ts";
import { WasmBackend, type WasmBackendDescriptor } from "../backends/wasm.ts";
import {
  instrumentCacheClass,
  InstrumentedBackend,
  Sanitizer,
  sanitizerOptionsFrom,
} from "./sanitizer.ts";
import { LeakDetector, leakOptionsFrom } from "./leaks.ts";
import {
  type AlignmentPolicy,
  fixedAlignment,
  isValidAlign,
  noAlignment,
} from "../policies/alignment.ts";
import {
  kernelRefill,
  order0Refill,
  type RefillPolicy,
} from "../policies/refill.ts";
import {
  denyPfmemalloc,
  kernelPfmemalloc,
  type PfmemallocPolicy,
} from "../policies/pfmemalloc.ts";

/**
 * The injection tokens of pagefrag. Register your own provider for any of
 * them to replace a part.
 *
 * | token                     | resolves to                                  |
 * | ------------------------- | -------------------------------------------- |
 * | `TOKENS.Options`          | the validated `PageFragOptions`              |
 * | `TOKENS.Backend`          | the `MemoryBackend` (one per container)      |
 * | `TOKENS.AlignmentPolicy`  | the `AlignmentPolicy`                        |
 * | `TOKENS.RefillPolicy`     | the `RefillPolicy`                           |
 * | `TOKENS.PfmemallocPolicy` | the `PfmemallocPolicy`                       |
 * | `TOKENS.Cache`            | a new `PageFragCache` on each resolve        |
 * | `TOKENS.NetdevCache`      | a new `NetdevFragCache` on each resolve      |
 * | `TOKENS.NapiCache`        | a new `NapiFragCache` on each resolve        |
 * | `TOKENS.Sanitizer`        | the `Sanitizer`, or `null` when it is off    |
 * | `TOKENS.LeakDetector`     | the `LeakDetector`, or `null` when it is off |
 *
 * When `TOKENS.Sanitizer` or `TOKENS.LeakDetector` resolves to an instance,
 * the caches are instrumented subclasses of their flavour over an
 * `InstrumentedBackend` wrapping `TOKENS.Backend`: register your own
 * `Sanitizer` (say, with an `onReport` of your own) to plug it in.
 *
 * @example
 * ```ts
 * import "reflect-metadata";
 * import { container } from "tsyringe";
 * import { order0Refill, type PageFragCache, registerPageFrag, TOKENS } from "@pagefrag/pagefrag";
 *
 * const app = container.createChildContainer();
 * registerPageFrag(app);
 * app.register(TOKENS.RefillPolicy, { useValue: order0Refill });
 * const cache = app.resolve<PageFragCache>(TOKENS.Cache);
 * if (cache.refillPolicy !== order0Refill) throw new Error();
 * ```
 */
export const TOKENS: {
  readonly Options: symbol;
  readonly Backend: symbol;
  readonly AlignmentPolicy: symbol;
  readonly RefillPolicy: symbol;
  readonly PfmemallocPolicy: symbol;
  readonly Cache: symbol;
  readonly NetdevCache: symbol;
  readonly NapiCache: symbol;
  readonly Sanitizer: symbol;
  readonly LeakDetector: symbol;
} = Object.freeze({
  Options: Symbol.for("pagefrag.Options"),
  Backend: Symbol.for("pagefrag.Backend"),
  AlignmentPolicy: Symbol.for("pagefrag.AlignmentPolicy"),
  RefillPolicy: Symbol.for("pagefrag.RefillPolicy"),
  PfmemallocPolicy: Symbol.for("pagefrag.PfmemallocPolicy"),
  Cache: Symbol.for("pagefrag.Cache"),
  NetdevCache: Symbol.for("pagefrag.NetdevCache"),
  NapiCache: Symbol.for("pagefrag.NapiCache"),
  Sanitizer: Symbol.for("pagefrag.Sanitizer"),
  LeakDetector: Symbol.for("pagefrag.LeakDetector"),
});

/** The instrumented subclass of each flavour (used when the sanitizer or leak detector is on). */
const Instrumented = {
  cache: instrumentCacheClass(PageFragCache),
  napi: instrumentCacheClass(NapiFragCache),
  netdev: instrumentCacheClass(NetdevFragCache),
};

/**
 * The part of a tsyringe `DependencyContainer` pagefrag uses: any tsyringe
 * container (root, child, or your application's) fits.
 *
 * @example
 * ```ts
 * import "reflect-metadata";
 * import { container } from "tsyringe";
 * import { type PageFragContainer, registerPageFrag } from "@pagefrag/pagefrag";
 *
 * const app: PageFragContainer = container.createChildContainer();
 * registerPageFrag(app);
 * ```
 */
export interface PageFragContainer {
  /** Register a factory provider for `token` (tsyringe's `register`). */
  register(
    token: symbol,
    provider: { useFactory: (c: PageFragContainer) => unknown },
  ): unknown;
  /** Resolve `token` (tsyringe's `resolve`). */
  resolve<T>(token: symbol): T;
}

function badOption(message: string): PageFragError {
  return new PageFragError("EINVAL_OPTION", message);
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
        throw badOption(
          `${key} ${show(options[key])} disagrees with the backend's ${
            show(backend[key])
          }; set it on the backend instead`,
        );
      }
    }
    for (const key of ["maxBytes", "reserveBytes"] as const) {
      if (options[key] !== undefined) {
        throw badOption(
          `${key} is a property of the backend; set it on the backend instance instead`,
        );
      }
    }
    return backend;
  }
  throw badOption(
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
  throw badOption(
    `align must be a number or an AlignmentPolicy, got ${show(align)}`,
  );
}

/** Turn the `refill` option into a refill policy. */
export function refillFrom(options: PageFragOptions): RefillPolicy {
  const refill = options.refill ?? "kernel";
  if (refill === "kernel") return kernelRefill;
  if (refill === "order0") return order0Refill;
  if (isObject(refill) && typeof refill.plan === "function") return refill;
  throw badOption(
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
  throw badOption(
    `pfmemalloc must be "kernel", "deny" or a PfmemallocPolicy, got ${
      show(pf)
    }`,
  );
}

/**
 * Check every option before anything is built, so bad options fail at
 * registration with `EINVAL_OPTION`/`EINVAL_ALIGN` rather than at first use.
 */
function validate(options: PageFragOptions): PageFragOptions {
  checkOptionKeys(options);
  const o = { ...options };
  if (typeof o.backend !== "object" || o.backend === null) {
    resolveBackendOptions(o);
  }
  refillFrom(o);
  pfmemallocFrom(o);
  if (o.zero !== undefined && typeof o.zero !== "boolean") {
    throw badOption(`zero must be a boolean, got ${show(o.zero)}`);
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

/**
 * Register pagefrag's defaults in `container`: the options, a backend built
 * from them (one per container), the three policies, and `TOKENS.Cache`,
 * which makes a new cache over them on every resolve. Register your own
 * provider for a token afterwards to replace that part.
 *
 * @example
 * ```ts
 * import "reflect-metadata";
 * import { container } from "tsyringe";
 * import { type PageFragCache, registerPageFrag, TOKENS } from "@pagefrag/pagefrag";
 *
 * const app = container.createChildContainer();
 * registerPageFrag(app, { maxBytes: 1 << 20, align: 64 });
 * const rx = app.resolve<PageFragCache>(TOKENS.Cache);
 * const tx = app.resolve<PageFragCache>(TOKENS.Cache);
 * if (rx === tx || rx.backend !== tx.backend) throw new Error("two caches, one backend");
 * ```
 */
export function registerPageFrag<C extends PageFragContainer>(
  container: C,
  options: PageFragOptions = {},
): C {
  const o = validate(options);
  const opts = (c: PageFragContainer) =>
    c.resolve<PageFragOptions>(TOKENS.Options);
  // One backend per registration, made on first use (pages are its state).
  let backend: MemoryBackend | undefined;
  container.register(TOKENS.Options, { useFactory: () => o });
  container.register(TOKENS.Backend, {
    useFactory: (c) => backend ??= backendFrom(opts(c)),
  });
  container.register(TOKENS.AlignmentPolicy, {
    useFactory: (c) => alignmentFrom(opts(c)),
  });
  container.register(TOKENS.RefillPolicy, {
    useFactory: (c) => refillFrom(opts(c)),
  });
  container.register(TOKENS.PfmemallocPolicy, {
    useFactory: (c) => pfmemallocFrom(opts(c)),
  });
  // One sanitizer and one leak detector per registration, made on first use.
  let sanitizer: Sanitizer | null | undefined;
  let leaks: LeakDetector | null | undefined;
  container.register(TOKENS.Sanitizer, {
    useFactory: (c) => {
      if (sanitizer !== undefined) return sanitizer;
      const so = sanitizerOptionsFrom(opts(c).sanitize);
      return sanitizer = so === undefined ? null : new Sanitizer(so);
    },
  });
  container.register(TOKENS.LeakDetector, {
    useFactory: (c) => {
      if (leaks !== undefined) return leaks;
      const lo = leakOptionsFrom(opts(c).leakDetection);
      return leaks = lo === undefined ? null : new LeakDetector(lo);
    },
  });
  // The instrumented wrapper of each backend (one per backend).
  const wrappers = new WeakMap<MemoryBackend, InstrumentedBackend>();
  const backendOf = (c: PageFragContainer): MemoryBackend => {
    const raw = c.resolve<MemoryBackend>(TOKENS.Backend);
    if (raw instanceof InstrumentedBackend) return raw;
    const san = c.resolve<Sanitizer | null>(TOKENS.Sanitizer) ?? undefined;
    const leak = c.resolve<LeakDetector | null>(TOKENS.LeakDetector) ??
      undefined;
    if (san === undefined && leak === undefined) return raw;
    let w = wrappers.get(raw);
    if (w === undefined) {
      w = new InstrumentedBackend(raw, { sanitizer: san, leaks: leak });
      wrappers.set(raw, w);
    }
    return w;
  };
  // The three flavours are the same state machine over the same parts.
  const parts = (c: PageFragContainer) =>
    [
      backendOf(c),
      c.resolve<AlignmentPolicy>(TOKENS.AlignmentPolicy),
      c.resolve<RefillPolicy>(TOKENS.RefillPolicy),
      c.resolve<PfmemallocPolicy>(TOKENS.PfmemallocPolicy),
    ] as const;
  const finish = <T extends PageFragCache>(cache: T, c: PageFragContainer) => {
    cache.zero = opts(c).zero === true;
    return cache;
  };
  // Plain classes unless the backend is instrumented: then the instrumented
  // subclass of the same flavour (nothing changes on the plain hot path).
  container.register(TOKENS.Cache, {
    useFactory: (c) => {
      const p = parts(c);
      const C = p[0] instanceof InstrumentedBackend
        ? Instrumented.cache
        : PageFragCache;
      return finish(new C(...p), c);
    },
  });
  container.register(TOKENS.NapiCache, {
    useFactory: (c) => {
      const p = parts(c);
      const C = p[0] instanceof InstrumentedBackend
        ? Instrumented.napi
        : NapiFragCache;
      return finish(new C(...p), c);
    },
  });
  container.register(TOKENS.NetdevCache, {
    useFactory: (c) => {
      const p = parts(c);
      // On a backend whose pages other workers can free, keep the state in
      // shared memory so other workers can use this very cache too. (An
      // instrumented backend has no share(): its caches stay private.)
      const shared = isShareable(p[0])
        ? new SharedArrayBuffer(NetdevFragCache.stateBytes)
        : undefined;
      const C = p[0] instanceof InstrumentedBackend
        ? Instrumented.netdev
        : NetdevFragCache;
      return finish(new C(...p, shared), c);
    },
  });
  return container;
}

/** Whether other workers can attach to this backend (it has `share()`). */
function isShareable(backend: MemoryBackend): boolean {
  return typeof (backend as { share?: unknown }).share === "function";
}

/**
 * What another worker needs to use the same netdev cache: its shared state
 * and its backend's descriptor. Structured-cloneable; send it with
 * `postMessage` or `workerData`.
 *
 * @example
 * ```ts
 * import { createNetdevCache, type NetdevCacheDescriptor, shareNetdevCache } from "@pagefrag/pagefrag";
 *
 * const d: NetdevCacheDescriptor = shareNetdevCache(createNetdevCache({ backend: "shared" }));
 * if (d.kind !== "pagefrag.netdev") throw new Error();
 * ```
 */
export interface NetdevCacheDescriptor {
  /** Always `"pagefrag.netdev"`. */
  readonly kind: "pagefrag.netdev";
  /** Layout version. */
  readonly version: 1;
  /** The cache's state and lock. */
  readonly state: SharedArrayBuffer;
  /** The backend's `share()` descriptor. */
  readonly backend: SharedBackendDescriptor | WasmBackendDescriptor;
}

/**
 * Describe a netdev cache whose state is shared (one made on a shared or
 * shared-wasm backend) so another worker can attach to it with
 * {@linkcode attachNetdevCache}. `EINVAL_OPTION` for a cache with private state.
 *
 * @example
 * ```ts
 * import { attachNetdevCache, createNetdevCache, shareNetdevCache } from "@pagefrag/pagefrag";
 *
 * const netdev = createNetdevCache({ backend: "shared" });
 * const same = attachNetdevCache(shareNetdevCache(netdev)); // normally in another worker
 * const a = same.allocHandle(100)!;
 * if (netdev.allocHandle(100) !== a + 100) throw new Error("one cache");
 * ```
 */
export function shareNetdevCache(
  netdev: NetdevFragCache,
): NetdevCacheDescriptor {
  const state = netdev.sharedState;
  const backend = netdev.backend as Partial<SharedBackend | WasmBackend>;
  if (state === undefined || typeof backend.share !== "function") {
    throw badOption(
      "shareNetdevCache(): this netdev cache keeps its state private; make it on a shared or wasm backend",
    );
  }
  return {
    kind: "pagefrag.netdev",
    version: 1,
    state,
    backend: backend.share(),
  };
}

/**
 * Use, in this worker, the netdev cache another worker described with
 * {@linkcode shareNetdevCache}: the backend is attached and the cache's state
 * is the same memory. Policies are this worker's (`options`, default the
 * kernel's); give every worker the same ones.
 *
 * @example
 * ```ts
 * import { attachNetdevCache, createNetdevCache, shareNetdevCache } from "@pagefrag/pagefrag";
 *
 * const d = shareNetdevCache(createNetdevCache({ backend: "shared" }));
 * const netdev = attachNetdevCache(d);
 * netdev.free(netdev.allocHandle(64)!);
 * ```
 */
export function attachNetdevCache(
  descriptor: NetdevCacheDescriptor,
  options: Pick<PageFragOptions, "align" | "refill" | "pfmemalloc"> = {},
): NetdevFragCache {
  const d = descriptor as Partial<NetdevCacheDescriptor> | null;
  if (
    typeof d !== "object" || d === null || d.kind !== "pagefrag.netdev" ||
    d.version !== 1 || !(d.state instanceof SharedArrayBuffer) ||
    typeof d.backend !== "object" || d.backend === null
  ) {
    throw badOption(
      "attachNetdevCache(): not a descriptor made by shareNetdevCache()",
    );
  }
  const backend = d.backend.kind === "pagefrag.wasm"
    ? WasmBackend.attach(d.backend as WasmBackendDescriptor)
    : SharedBackend.attach(d.backend as SharedBackendDescriptor);
  const o = validate({ ...options, backend });
  return new NetdevFragCache(
    backend,
    alignmentFrom(o),
    refillFrom(o),
    pfmemallocFrom(o),
    d.state,
  );
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
export function createNetdevCache(
  options: PageFragOptions = {},
): NetdevFragCache {
  const child = registerPageFrag(rootContainer.createChildContainer(), options);
  return child.resolve<NetdevFragCache>(TOKENS.NetdevCache);
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
export function createNapiCache(options: PageFragOptions = {}): NapiFragCache {
  const child = registerPageFrag(rootContainer.createChildContainer(), options);
  return child.resolve<NapiFragCache>(TOKENS.NapiCache);
}

/**
 * Make a page fragment cache (and, unless you pass one, its own backend):
 * the options are registered in a fresh child of tsyringe's root container
 * and `TOKENS.Cache` is resolved from it.
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
export function createPageFragCache(
  options: PageFragOptions = {},
): PageFragCache {
  const child = registerPageFrag(rootContainer.createChildContainer(), options);
  return child.resolve<PageFragCache>(TOKENS.Cache);
}
