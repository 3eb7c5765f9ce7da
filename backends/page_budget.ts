/**
 * Budget, reserve and page counters for a page allocator: whether a page
 * may be had (budget first, then the emergency reserve for reserve-allowed
 * requests) and what happened (pages in use, allocated, freed, refused, the
 * peak, buffers made, pages found detached), assembled as `BackendStats`.
 * Over a `Float64Array`, so an arena can keep it in shared memory under its
 * own lock. Used by `PagedBackend` (`backends/page_table.ts`), which
 * re-exports it.
 *
 * @module
 */
import type { BackendStats } from "../core/backend.ts";
import { PageFragError } from "../core/errors.ts";
import { show } from "../core/format.ts";

/** Float64 words of a {@linkcode PageBudget}, in this order. */
const MAX_BYTES = 0;
const RESERVE_BYTES = 1;
const IN_USE = 2;
const RESERVE_IN_USE = 3;
const PAGES_IN_USE = 4;
const PAGES_ALLOCATED = 5;
const PAGES_FREED = 6;
const PAGE_FAILURES = 7;
const PEAK = 8;
const BUFFERS_CREATED = 9;
const PAGES_DETACHED = 10;

/**
 * Float64 words a {@linkcode PageBudget} keeps. The first nine are laid out
 * as the shared arena's metadata counters (budget, reserve, in use, reserve
 * in use, pages in use, allocated, freed, failures, peak).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PAGE_BUDGET_WORDS, PageBudget } from "@pagefrag/pagefrag/backends/page_table";
 *
 * const words = new Float64Array(new SharedArrayBuffer(PAGE_BUDGET_WORDS * 8));
 * PageBudget.create(1 << 20, 0, words);
 * assert.equal(new PageBudget(words).maxBytes, 1 << 20, "another worker reads the same budget");
 * ```
 */
export const PAGE_BUDGET_WORDS = 11;

/**
 * Budget, reserve and page counters over a `Float64Array` (private memory,
 * or shared memory an arena's lock protects). It decides whether a page may
 * be had and counts what happened; it never allocates.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PageBudget } from "@pagefrag/pagefrag/backends/page_table";
 *
 * const budget = PageBudget.create(4096, 4096);
 * assert.equal(budget.admit(4096, false), 0, "within the budget");
 * budget.charge(4096, false);
 * assert.equal(budget.admit(4096, false), -1, "budget spent, reserve not allowed");
 * assert.equal(budget.admit(4096, true), 1, "from the reserve");
 * budget.discharge(4096, false);
 * assert.equal(budget.stats(0, 0).pageFailures, 1, "the refusal was counted");
 * ```
 */
export class PageBudget {
  /** The counters (see {@linkcode PAGE_BUDGET_WORDS}). */
  readonly words: Float64Array;

  /**
   * A budget over `words`, already set up by {@linkcode PageBudget.create}.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { PageBudget } from "@pagefrag/pagefrag/backends/page_table";
   *
   * const a = PageBudget.create(Infinity, 0);
   * assert.equal(new PageBudget(a.words).maxBytes, Infinity, "same words, same budget");
   * ```
   */
  constructor(words: Float64Array) {
    if (!(words instanceof Float64Array) || words.length < PAGE_BUDGET_WORDS) {
      throw new PageFragError(
        "EINVAL_OPTION",
        `PageBudget needs a Float64Array of ${PAGE_BUDGET_WORDS} words, got ${
          show(words)
        }`,
      );
    }
    this.words = words;
  }

  /**
   * Set up `words` (zeroed) for a budget of `maxBytes` and a reserve of
   * `reserveBytes` (checked by the caller, e.g. with
   * `resolveBackendOptions`).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { PageBudget } from "@pagefrag/pagefrag/backends/page_table";
   *
   * assert.equal(PageBudget.create(8192, 4096).stats(0, 0).bytesTotal, 12288, "budget + reserve");
   * ```
   */
  static create(
    maxBytes: number,
    reserveBytes: number,
    words: Float64Array = new Float64Array(PAGE_BUDGET_WORDS),
  ): PageBudget {
    words[MAX_BYTES] = maxBytes;
    words[RESERVE_BYTES] = reserveBytes;
    return new PageBudget(words);
  }

  /**
   * Budget in bytes for non-reserve pages.
   *
   * @example
   * ```ts
   * import { PageBudget } from "@pagefrag/pagefrag/backends/page_table";
   * import assert from "node:assert/strict";
   *
   * assert.equal(PageBudget.create(4096, 0).maxBytes, 4096, "the budget asked for");
   * ```
   */
  get maxBytes(): number {
    return this.words[MAX_BYTES];
  }
  /**
   * Emergency reserve in bytes.
   *
   * @example
   * ```ts
   * import { PageBudget } from "@pagefrag/pagefrag/backends/page_table";
   * import assert from "node:assert/strict";
   *
   * assert.equal(PageBudget.create(4096, 8192).reserveBytes, 8192, "the reserve asked for");
   * ```
   */
  get reserveBytes(): number {
    return this.words[RESERVE_BYTES];
  }
  /**
   * Bytes of live pages, reserve pages included.
   *
   * @example
   * ```ts
   * import { PageBudget } from "@pagefrag/pagefrag/backends/page_table";
   * import assert from "node:assert/strict";
   *
   * const b = PageBudget.create(8192, 0);
   * b.charge(4096, false);
   * assert.equal(b.bytesInUse, 4096, "one page live");
   * ```
   */
  get bytesInUse(): number {
    return this.words[IN_USE];
  }

  /**
   * May a page of `bytes` be had? 0: from the budget; 1: from the reserve
   * (only when `reserve`; the page is pfmemalloc); -1: no, and the refusal
   * is counted. Changes nothing else: {@linkcode PageBudget.charge} once
   * the page exists.
   *
   * @example
   * ```ts
   * import { PageBudget } from "@pagefrag/pagefrag/backends/page_table";
   * import assert from "node:assert/strict";
   *
   * const b = PageBudget.create(4096, 0);
   * assert.equal(b.admit(4096, false), 0, "from the budget");
   * b.charge(4096, false);
   * assert.equal(b.admit(4096, false), -1, "spent");
   * ```
   */
  admit(bytes: number, reserve: boolean): number {
    const w = this.words;
    if (w[IN_USE] - w[RESERVE_IN_USE] + bytes <= w[MAX_BYTES]) return 0;
    if (reserve && w[RESERVE_IN_USE] + bytes <= w[RESERVE_BYTES]) return 1;
    w[PAGE_FAILURES]++;
    return -1;
  }

  /**
   * Count a page request refused for another reason (no address space, no memory).
   *
   * @example
   * ```ts
   * import { PageBudget } from "@pagefrag/pagefrag/backends/page_table";
   * import assert from "node:assert/strict";
   *
   * const b = PageBudget.create(4096, 0);
   * b.refuse();
   * assert.equal(b.stats(0, 0).pageFailures, 1, "counted");
   * ```
   */
  refuse(): void {
    this.words[PAGE_FAILURES]++;
  }

  /**
   * A page of `bytes` was handed out (`pfmemalloc`: from the reserve).
   *
   * @example
   * ```ts
   * import { PageBudget } from "@pagefrag/pagefrag/backends/page_table";
   * import assert from "node:assert/strict";
   *
   * const b = PageBudget.create(8192, 0);
   * b.charge(4096, false);
   * assert.equal(b.stats(0, 0).pagesInUse, 1, "one page handed out");
   * ```
   */
  charge(bytes: number, pfmemalloc: boolean): void {
    const w = this.words;
    w[IN_USE] += bytes;
    if (pfmemalloc) w[RESERVE_IN_USE] += bytes;
    w[PAGES_IN_USE]++;
    w[PAGES_ALLOCATED]++;
    if (w[IN_USE] > w[PEAK]) w[PEAK] = w[IN_USE];
  }

  /**
   * A page of `bytes` went back (or was retired).
   *
   * @example
   * ```ts
   * import { PageBudget } from "@pagefrag/pagefrag/backends/page_table";
   * import assert from "node:assert/strict";
   *
   * const b = PageBudget.create(8192, 0);
   * b.charge(4096, false);
   * b.discharge(4096, false);
   * assert.equal(b.bytesInUse, 0, "the page went back");
   * ```
   */
  discharge(bytes: number, pfmemalloc: boolean): void {
    const w = this.words;
    w[IN_USE] -= bytes;
    if (pfmemalloc) w[RESERVE_IN_USE] -= bytes;
    w[PAGES_IN_USE]--;
    w[PAGES_FREED]++;
  }

  /**
   * A new buffer was made for a page.
   *
   * @example
   * ```ts
   * import { PageBudget } from "@pagefrag/pagefrag/backends/page_table";
   * import assert from "node:assert/strict";
   *
   * const b = PageBudget.create(8192, 0);
   * b.bufferCreated();
   * assert.equal(b.stats(0, 0).buffersCreated, 1, "one buffer made");
   * ```
   */
  bufferCreated(): void {
    this.words[BUFFERS_CREATED]++;
  }

  /**
   * A page was found with its buffer transferred away.
   *
   * @example
   * ```ts
   * import { PageBudget } from "@pagefrag/pagefrag/backends/page_table";
   * import assert from "node:assert/strict";
   *
   * const b = PageBudget.create(8192, 0);
   * b.pageDetached();
   * assert.equal(b.stats(0, 0).pagesDetached, 1, "one page retired");
   * ```
   */
  pageDetached(): void {
    this.words[PAGES_DETACHED]++;
  }

  /**
   * The counters as {@linkcode BackendStats}, with the pinned-page figures
   * (and view counters) the caller scanned for.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { PageBudget } from "@pagefrag/pagefrag/backends/page_table";
   *
   * const s = PageBudget.create(Infinity, 0).stats(1, 4096);
   * assert.deepEqual([s.pinnedPages, s.pinnedBytes, s.buffersCreated], [1, 4096, 0], "as given");
   * ```
   */
  stats(
    pinnedPages: number,
    pinnedBytes: number,
    viewHits = 0,
    viewMisses = 0,
  ): BackendStats {
    const w = this.words;
    return {
      bytesTotal: w[MAX_BYTES] + w[RESERVE_BYTES],
      bytesInUse: w[IN_USE],
      pagesInUse: w[PAGES_IN_USE],
      reserveInUse: w[RESERVE_IN_USE],
      pagesAllocated: w[PAGES_ALLOCATED],
      pagesFreed: w[PAGES_FREED],
      pageFailures: w[PAGE_FAILURES],
      peakBytesInUse: w[PEAK],
      pinnedPages,
      pinnedBytes,
      buffersCreated: w[BUFFERS_CREATED],
      pagesDetached: w[PAGES_DETACHED],
      viewHits,
      viewMisses,
    };
  }
}
