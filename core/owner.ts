/**
 * Which backend owns a buffer, so a view can be freed without naming its
 * cache (`pageFragFree`). Backends tag each buffer they hand views of with a
 * registry-wide symbol property: one monomorphic property load on free, no
 * `Map` lookup, and copies of pagefrag loaded twice still agree.
 *
 * @module
 */
import type { MemoryBackend } from "./backend.ts";
import { PageFragError } from "./errors.ts";

const OWNER: unique symbol = Symbol.for("pagefrag.owner") as never;

interface Tagged {
  [OWNER]?: MemoryBackend;
}

/**
 * Owners of buffers that cannot take a property: a `WebAssembly.Memory`'s
 * buffers are frozen. Registry-wide for the same reason as the symbol.
 */
const FROZEN: WeakMap<object, MemoryBackend> =
  ((globalThis as Record<symbol, unknown>)[
    Symbol.for("pagefrag.frozenOwners")
  ] ??= new WeakMap()) as WeakMap<object, MemoryBackend>;

/**
 * Mark `buffer` as holding fragments of `backend`, so that
 * {@linkcode pageFragFree} can route a view of it home. Call it from your own
 * backend for every buffer it makes views of.
 *
 * @example
 * ```ts
 * import { claimBuffer, ownerOf } from "@pagefrag/pagefrag/core";
 * import { HeapBackend } from "@pagefrag/pagefrag";
 *
 * const backend = new HeapBackend();
 * const buffer = new ArrayBuffer(4096);
 * claimBuffer(buffer, backend);
 * if (ownerOf(new Uint8Array(buffer, 8, 8)) !== backend) throw new Error();
 * ```
 */
export function claimBuffer(
  buffer: ArrayBufferLike,
  backend: MemoryBackend,
): void {
  if (Object.isExtensible(buffer)) (buffer as Tagged)[OWNER] = backend;
  else FROZEN.set(buffer, backend);
}

/**
 * The backend that handed out `view`, or `undefined` if none did.
 *
 * @example
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { ownerOf } from "@pagefrag/pagefrag/core";
 *
 * const cache = createPageFragCache();
 * const frag = cache.alloc(64)!;
 * if (ownerOf(frag) !== cache.backend || ownerOf(new Uint8Array(8)) !== undefined) throw new Error();
 * cache.free(frag);
 * ```
 */
export function ownerOf(view: Uint8Array): MemoryBackend | undefined {
  const buffer = view?.buffer as Tagged | undefined;
  if (buffer === undefined || buffer === null) return undefined;
  return buffer[OWNER] ?? FROZEN.get(buffer);
}

/**
 * Free a fragment view without naming its cache (`page_frag_free`). Works
 * for every backend, in the worker that made the view.
 *
 * @example
 * ```ts
 * import { createPageFragCache, pageFragFree } from "@pagefrag/pagefrag";
 *
 * const cache = createPageFragCache();
 * const frag = cache.alloc(256)!;
 * pageFragFree(frag);
 * ```
 */
export function pageFragFree(fragment: Uint8Array): void {
  const owner = fragment instanceof Uint8Array ? ownerOf(fragment) : undefined;
  if (owner === undefined) {
    throw new PageFragError(
      "EFOREIGN",
      "pageFragFree(): not a Uint8Array handed out by pagefrag",
    );
  }
  owner.free(owner.addressOf(fragment));
}
