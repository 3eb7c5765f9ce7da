/**
 * The heap backend: every page is its own ordinary `ArrayBuffer`. A released
 * page waits in a bounded pool (same buffer, same address, same recycled
 * views) to be handed out again before a new buffer is made; pages beyond
 * the pool are dropped and the garbage collector reclaims them.
 *
 * The page table, budget, pool, view table and transfer detection are the
 * shared {@linkcode PagedBackend} (`backends/page_table.ts`); this file says
 * only how a page is made.
 *
 * @module
 */
import { PagedBackend, type PagedBackendOptions } from "./page_table.ts";

export type { PagedBackendOptions } from "./page_table.ts";

/**
 * Pages of order `0 .. maxOrder` over ordinary `ArrayBuffer`s, with a byte
 * budget (`maxBytes`), an emergency reserve (`reserveBytes`) that only
 * reserve-allowed requests may use, a pool of released pages (`poolBytes`,
 * default 1 MiB) and recycled views (`viewsPerPage`, default 128). The
 * default backend.
 *
 * A fresh page is zeroed (a new `ArrayBuffer`); a page from the pool holds
 * the bytes it was left with, like `Buffer.allocUnsafe`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createPageFragCache, HeapBackend } from "@pagefrag/pagefrag";
 *
 * const backend = new HeapBackend({ pageSize: 4096, maxOrder: 3, maxBytes: 1 << 20 });
 * const cache = createPageFragCache({ backend });
 * const frag = cache.alloc(256)!;
 * frag.fill(7);
 * cache.free(frag);
 * cache.drain();
 * assert.equal(backend.stats().bytesInUse, 0, "no leak");
 * ```
 */
export class HeapBackend extends PagedBackend<ArrayBuffer> {
  /**
   * Make a heap backend. Throws `EINVAL_OPTION` for a bad option.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { HeapBackend } from "@pagefrag/pagefrag";
   *
   * const backend = new HeapBackend({ pageSize: 16384, maxOrder: 0, poolBytes: 65536 });
   * assert.equal(backend.pageSize, 16384, "the page size asked for");
   * assert.equal(backend.poolBytes, 65536, "the pool size asked for");
   * ```
   */
  constructor(options: PagedBackendOptions = {}) {
    super(options);
  }

  /**
   * A new zeroed `ArrayBuffer` of `bytes` bytes.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { HeapBackend } from "@pagefrag/pagefrag";
   *
   * const backend = new HeapBackend();
   * const page = backend.allocPage(0, false);
   * assert.ok(backend.view(page, 16).buffer instanceof ArrayBuffer, "an ordinary ArrayBuffer");
   * backend.free(page);
   * ```
   */
  protected makePage(bytes: number): ArrayBuffer | null {
    return new ArrayBuffer(bytes);
  }
}
