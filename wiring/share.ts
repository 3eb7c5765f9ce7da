/**
 * Worker sharing of netdev caches: describe one whose state lives in shared
 * memory, and use it from another worker.
 *
 * @module
 */
import { PageFragError } from "../core/errors.ts";
import { show } from "../core/format.ts";
import { NetdevFragCache } from "../flavours/netdev.ts";
import {
  SharedBackend,
  type SharedBackendDescriptor,
} from "../backends/shared.ts";
import { WasmBackend, type WasmBackendDescriptor } from "../backends/wasm.ts";
import {
  alignmentFrom,
  type PageFragOptions,
  parseOptions,
  pfmemallocFrom,
  refillFrom,
} from "./options.ts";

function bad(message: string): PageFragError {
  return new PageFragError("EINVAL_OPTION", message);
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
  /**
   * Whether the cache zeroes its fragments (`zero`): every handle attached
   * from this descriptor does (the shared state records it too, so a
   * descriptor edited to `false` changes nothing).
   */
  readonly zero: boolean;
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
    throw bad(
      "shareNetdevCache(): this netdev cache keeps its state private; make it on a shared or wasm backend",
    );
  }
  netdev.locked(() => {}); // takes up (or publishes) the shared zero setting
  return {
    kind: "pagefrag.netdev",
    version: 1,
    state,
    backend: backend.share(),
    zero: netdev.zero,
  };
}

/**
 * Options of {@linkcode attachNetdevCache}: this worker's policies, and
 * `zero` and `lockTimeoutMs` for this handle.
 *
 * @example
 * ```ts
 * import { attachNetdevCache, createNetdevCache, shareNetdevCache } from "@pagefrag/pagefrag";
 * import assert from "node:assert/strict";
 *
 * const d = shareNetdevCache(createNetdevCache({ backend: "shared" }));
 * const nd = attachNetdevCache(d, { zero: true, lockTimeoutMs: 500, refill: "order0" });
 * assert.equal(nd.zero, true, "zeroing on, for every handle");
 * ```
 */
export interface AttachNetdevOptions
  extends Pick<PageFragOptions, "align" | "refill" | "pfmemalloc"> {
  /**
   * `true` turns zeroing on for the shared cache (for every handle: pages
   * recycle between handles, so zero means zero for all). `false` on a
   * cache that zeroes is `EINVAL_OPTION`: it cannot be turned off through a
   * handle. Default: the cache's own setting.
   */
  zero?: boolean;
  /** Bound on lock waits for this worker's attachment (default: the arena's). */
  lockTimeoutMs?: number;
}

const ATTACH_KEYS = new Set([
  "align",
  "refill",
  "pfmemalloc",
  "zero",
  "lockTimeoutMs",
]);

/**
 * Use, in this worker, the netdev cache another worker described with
 * {@linkcode shareNetdevCache}: the backend is attached and the cache's state
 * is the same memory. Policies are this worker's (`options`, default the
 * kernel's); give every worker the same ones. The descriptor's parts must
 * come from one cache: a state and a backend of two different caches is
 * `EINVAL_OPTION`. The cache's `zero` setting is carried over.
 *
 * @example
 * ```ts
 * import { attachNetdevCache, createNetdevCache, shareNetdevCache } from "@pagefrag/pagefrag";
 * import assert from "node:assert/strict";
 *
 * const d = shareNetdevCache(createNetdevCache({ backend: "shared", zero: true }));
 * const netdev = attachNetdevCache(d);
 * assert.equal(netdev.zero, true, "zero means zero through every handle");
 * netdev.free(netdev.allocHandle(64)!);
 * ```
 */
export function attachNetdevCache(
  descriptor: NetdevCacheDescriptor,
  options: AttachNetdevOptions = {},
): NetdevFragCache {
  if (
    typeof descriptor !== "object" || descriptor === null
  ) {
    throw bad(
      `attachNetdevCache(): not a descriptor made by shareNetdevCache(), got ${
        show(descriptor)
      }`,
    );
  }
  // Own properties only: a property on Object.prototype configures nothing.
  const d: Partial<NetdevCacheDescriptor> = Object.assign(
    Object.create(null),
    descriptor,
  );
  if (
    d.kind !== "pagefrag.netdev" || d.version !== 1 ||
    typeof SharedArrayBuffer === "undefined" ||
    !(d.state instanceof SharedArrayBuffer) ||
    typeof d.backend !== "object" || d.backend === null ||
    (d.zero !== undefined && typeof d.zero !== "boolean")
  ) {
    throw bad(
      "attachNetdevCache(): not a descriptor made by shareNetdevCache()",
    );
  }
  if (options === null || typeof options !== "object") {
    throw bad(
      `attachNetdevCache(): options must be an object, got ${show(options)}`,
    );
  }
  const own: AttachNetdevOptions = Object.assign(Object.create(null), options);
  for (const key of Object.keys(own)) {
    if (!ATTACH_KEYS.has(key)) {
      throw bad(
        `attachNetdevCache(): unknown option ${show(key)} (known: ${
          [...ATTACH_KEYS].join(", ")
        })`,
      );
    }
  }
  if (own.zero !== undefined && typeof own.zero !== "boolean") {
    throw bad(`zero must be a boolean, got ${show(own.zero)}`);
  }
  const o = parseOptions({
    align: own.align,
    refill: own.refill,
    pfmemalloc: own.pfmemalloc,
  });
  const attach = own.lockTimeoutMs === undefined
    ? undefined
    : { lockTimeoutMs: own.lockTimeoutMs };
  const b: { kind?: unknown } = d.backend;
  const backend = b.kind === "pagefrag.wasm"
    ? WasmBackend.attach(d.backend as WasmBackendDescriptor, attach)
    : SharedBackend.attach(d.backend as SharedBackendDescriptor, attach);
  let netdev: NetdevFragCache;
  try {
    // The state checks it belongs to this backend's arena (EINVAL_OPTION).
    netdev = new NetdevFragCache(
      backend,
      alignmentFrom(o),
      refillFrom(o),
      pfmemallocFrom(o),
      d.state,
    );
    if (own.zero === false && (netdev.zero || d.zero === true)) {
      throw bad(
        "attachNetdevCache(): zero: this shared netdev cache zeroes its fragments for every handle; it cannot be turned off",
      );
    }
    if (d.zero === true || own.zero === true) {
      netdev.zero = true;
      netdev.locked(() => {}); // publish it to every handle now
    }
  } catch (e) {
    backend.detach();
    throw e;
  }
  return netdev;
}
