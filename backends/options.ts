/**
 * The options every built-in backend takes (page geometry, budget, reserve)
 * and their one validator, shared by the heap, shared and wasm backends and
 * by the wiring that builds them from cache options.
 *
 * @module
 */
import { PageFragError } from "../core/errors.ts";
import { show } from "../core/format.ts";

function bad(message: string): PageFragError {
  return new PageFragError("EINVAL_OPTION", message);
}

function isPow2(n: number): boolean {
  return (n | 0) === n && n > 0 && (n & (n - 1)) === 0;
}

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
 * Backend options with every default filled in and every value checked.
 *
 * @example
 * ```ts
 * import { resolveBackendOptions } from "@pagefrag/pagefrag/backends/options";
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

/**
 * Fill in defaults and validate page geometry, budget and reserve.
 * Throws `EINVAL_OPTION` naming the first bad value.
 *
 * @example
 * ```ts
 * import { resolveBackendOptions } from "@pagefrag/pagefrag/backends/options";
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
