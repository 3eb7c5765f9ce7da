/**
 * Worker sharing of netdev caches: describe one whose state lives in shared
 * memory, and use it from another worker.
 *
 * @module
 */
import { PageFragError } from "../core/errors.ts";
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
    throw bad(
      "attachNetdevCache(): not a descriptor made by shareNetdevCache()",
    );
  }
  const backend = d.backend.kind === "pagefrag.wasm"
    ? WasmBackend.attach(d.backend as WasmBackendDescriptor)
    : SharedBackend.attach(d.backend as SharedBackendDescriptor);
  const o = parseOptions({ ...options, backend });
  return new NetdevFragCache(
    backend,
    alignmentFrom(o),
    refillFrom(o),
    pfmemallocFrom(o),
    d.state,
  );
}
