/**
 * The cache state machine: the kernel's `page_frag_cache`, written once for
 * every backend.
 *
 * A cache owns one current page. It carves fragments upward from the start
 * of the page and counts them in a private `bias` instead of touching the
 * page's shared reference count: on install it adds a bulk reference of
 * `maxFrag + 1` to the page at once, each fragment consumes one unit of bias,
 * and each `free` (from anywhere) drops one reference on the page. When the
 * page is exhausted the cache gives back its unused bias: if the count is then
 * zero, every fragment is already free and the page is recycled in place;
 * otherwise the page is left to its outstanding fragments (the last `free`
 * returns it) and the cache refills through its refill policy.
 *
 * @module
 */
import type { MemoryBackend } from "./backend.ts";
import { PageFragError } from "./errors.ts";
import { show } from "./format.ts";
import {
  type AllocOptions,
  checkAllocOptions,
  defaultMask,
  destroyedError,
  policyMask,
  type PreparedFragment,
  preparedOffset,
  sizeError,
} from "./alloc_options.ts";
import {
  ABORTS,
  ALLOC_FAILURES,
  ALLOCS,
  BIAS,
  type CacheState,
  createCacheState,
  DEAD,
  DRAINS,
  FALLBACKS,
  LAST,
  OFFSET,
  PAGE,
  PAGE_BYTES,
  type PageFragStats,
  PFMEMALLOC,
  PFMEMALLOC_REFILLS,
  PREP,
  RECYCLES,
  REFILLS,
} from "./cache_state.ts";
import {
  type AlignmentPolicy,
  isValidAlign,
  type PfmemallocPolicy,
  type RefillPolicy,
} from "./policy.ts";

export {
  CACHE_STATE_BYTES,
  type CacheState,
  createCacheState,
  type PageFragStats,
} from "./cache_state.ts";
export type { AllocOptions, PreparedFragment } from "./alloc_options.ts";

/**
 * A page fragment cache (`struct page_frag_cache`). Not safe for concurrent
 * use from two workers: give each worker its own cache (frees may come from
 * anywhere the backend allows).
 *
 * Make one with {@linkcode createPageFragCache}, or resolve `TOKENS.Cache`
 * from a container set up by `registerPageFrag` (`pagefrag/di`).
 *
 * @example
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 *
 * const cache = createPageFragCache();
 * const frag = cache.alloc(256)!;       // page_frag_alloc
 * frag.set([1, 2, 3]);
 * cache.free(frag);                      // page_frag_free
 * cache.drain();                         // page_frag_cache_drain
 * if (cache.backend.stats().bytesInUse !== 0) throw new Error("leak");
 * ```
 */
export class PageFragCache<
  // The buffer under fragments (see MemoryBackend): ArrayBuffer on the heap backend.
  B extends ArrayBufferLike = ArrayBufferLike,
> {
  /** Where this cache's pages come from. */
  readonly backend: MemoryBackend<B>;
  /** Default start alignment of fragments. */
  readonly alignment: AlignmentPolicy;
  /** Page orders tried on refill. */
  readonly refillPolicy: RefillPolicy;
  /** Reserve use and recycling of reserve pages. */
  readonly pfmemallocPolicy: PfmemallocPolicy;

  /** Largest fragment: the largest page. */
  readonly #maxFrag: number;
  readonly #pageSize: number;
  /** Bias a fresh or recycled page starts with (PAGE_FRAG_CACHE_MAX_SIZE + 1). */
  readonly #biasMax: number;
  readonly #defaultMask: number;
  readonly #alignFor: ((size: number) => number) | undefined;
  #zero = false;
  /** A per-size alignment policy or `zero` is on: one flag for the fast path to test. */
  #general: boolean;

  /** The state (see `S`), in an Int32Array so it can live in shared memory. */
  readonly #s: Int32Array;
  /** The counters (see `C`), in a Float64Array so they never wrap. */
  readonly #c: Float64Array;
  readonly #prepared: PreparedFragment = { addr: 0, size: 0 };

  /**
   * Assemble a cache from its collaborators. Most code uses
   * {@linkcode createPageFragCache} instead; this is the constructor the DI
   * root calls.
   *
   * @example
   * ```ts
   * import { HeapBackend, kernelPfmemalloc, kernelRefill, noAlignment, PageFragCache } from "@pagefrag/pagefrag";
   *
   * const cache = new PageFragCache(new HeapBackend(), noAlignment, kernelRefill, kernelPfmemalloc);
   * cache.free(cache.allocHandle(8)!);
   * ```
   */
  constructor(
    backend: MemoryBackend<B>,
    alignment: AlignmentPolicy,
    refillPolicy: RefillPolicy,
    pfmemallocPolicy: PfmemallocPolicy,
    state: CacheState = createCacheState(),
  ) {
    this.#s = state.words;
    this.#c = state.counters;
    this.backend = backend;
    this.alignment = alignment;
    this.refillPolicy = refillPolicy;
    this.pfmemallocPolicy = pfmemallocPolicy;
    this.#pageSize = backend.pageSize;
    this.#maxFrag = backend.pageSize * 2 ** backend.maxOrder;
    this.#biasMax = this.#maxFrag + 1;
    this.#defaultMask = defaultMask(alignment, backend.pageSize);
    this.#alignFor = typeof alignment.alignFor === "function"
      ? alignment.alignFor.bind(alignment)
      : undefined;
    this.#general = this.#alignFor !== undefined;
  }

  /**
   * Clear every fragment `alloc`/`allocHandle` hands out (`__GFP_ZERO` for
   * all calls). Off by default: like `Buffer.allocUnsafe`, a fragment from a
   * recycled page holds whatever was written there before. `prepare` /
   * `commit` never clear: the caller writes before committing.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import assert from "node:assert/strict";
   *
   * const cache = createPageFragCache({ maxOrder: 0 });
   * cache.free(cache.alloc(4096)!.fill(7));   // the page now holds old bytes
   * cache.zero = true;
   * assert.deepEqual(cache.alloc(4)!, new Uint8Array(4), "zeroed, not old bytes");
   * ```
   */
  get zero(): boolean {
    return this.#zero;
  }
  /**
   * Turn `zero` on or off (a boolean, else `EINVAL_OPTION`).
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * createPageFragCache().zero = true;
   * ```
   */
  set zero(on: boolean) {
    if (typeof on !== "boolean") {
      throw new PageFragError(
        "EINVAL_OPTION",
        `zero must be a boolean, got ${show(on)}`,
      );
    }
    this.#zero = on;
    this.#general = on || this.#alignFor !== undefined;
  }

  /**
   * Allocate `size` bytes and return the fragment's address, or `null` when
   * memory is exhausted (`page_frag_alloc_va` without the view). Creates no
   * JS object: the address is a small integer.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   *
   * const cache = createPageFragCache();
   * const addr = cache.allocHandle(1500);
   * if (addr === null) throw new Error("out of memory");
   * cache.backend.view(addr, 1500).fill(0xff);
   * cache.free(addr);
   * ```
   */
  allocHandle(size: number, opts?: AllocOptions): number | null {
    if (opts !== undefined || this.#general) {
      return this.#allocGeneral(size, opts);
    }
    const s = this.#s;
    const offset = (s[OFFSET] + this.#defaultMask) & ~this.#defaultMask;
    // typeof first: a BigInt or Symbol must not reach the arithmetic below.
    if (
      typeof size !== "number" || !(size >= 1 && size <= this.#maxFrag) ||
      (size | 0) !== size
    ) {
      throw sizeError("allocHandle", size, this.#maxFrag);
    }
    if (offset + size > s[PAGE_BYTES]) {
      return this.#allocSlow(size, this.#defaultMask, false, false);
    }
    return this.#carve(offset, size);
  }

  /**
   * Allocate `size` bytes and return them as a `Uint8Array` over the page,
   * or `null` when memory is exhausted (`page_frag_alloc`,
   * `page_frag_alloc_align` with `{ align }`).
   *
   * Bytes of a recycled page are not cleared: like `Buffer.allocUnsafe`,
   * a fragment may hold old data until you write it.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   *
   * const cache = createPageFragCache();
   * const frag = cache.alloc(64, { align: 64 })!;
   * if (frag.length !== 64 || frag.byteOffset % 64 !== 0) throw new Error();
   * cache.free(frag);
   * ```
   */
  alloc(size: number, opts?: AllocOptions): Uint8Array<B> | null {
    const addr = this.allocHandle(size, opts);
    return addr === null ? null : this.#viewOf(addr, size);
  }

  /**
   * The view of a fragment just carved. If the backend finds the page's
   * buffer was transferred away (`EDETACHED`), the fragment never reached
   * the caller: take it back and give the dead page up, so the next call
   * refills instead of carving the dead page again.
   */
  #viewOf(addr: number, size: number): Uint8Array<B> {
    try {
      return this.backend.view(addr, size);
    } catch (e) {
      if (e instanceof PageFragError && e.code === "EDETACHED") {
        const s = this.#s; // LAST !== 0: a page is installed
        if (s[LAST] === addr) {
          s[OFFSET] = addr - s[PAGE];
          s[BIAS]++;
          s[LAST] = 0;
        }
        this.drain();
      }
      throw e;
    }
  }

  /**
   * Allocate `size` bytes starting at a multiple of `align`
   * (`page_frag_alloc_align`).
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   *
   * const cache = createPageFragCache();
   * cache.alloc(3);
   * const frag = cache.allocAlign(100, 32)!;
   * if (frag.byteOffset % 32 !== 0) throw new Error();
   * ```
   */
  allocAlign(size: number, align: number): Uint8Array<B> | null {
    return this.alloc(size, { align });
  }

  /**
   * Free a fragment by view or address (`page_frag_free`). Any cache of the
   * same backend (or the backend itself) may free it; a page goes back when
   * its last fragment is freed and no cache holds it.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   *
   * const cache = createPageFragCache();
   * const view = cache.alloc(10)!;
   * const addr = cache.allocHandle(10)!;
   * cache.free(view);
   * cache.free(addr);
   * ```
   */
  free(fragment: Uint8Array | number): void {
    // addressOf() rejects anything that is not one of its views (EFOREIGN),
    // so no type test of our own is needed on this path.
    if (typeof fragment === "number") this.backend.free(fragment);
    else this.backend.free(this.backend.addressOf(fragment));
  }

  /**
   * Take `size` bytes at `offset` of the current page as a fragment: the one
   * carve step (`page_frag_alloc_align`'s tail) every allocating call ends
   * in. One unit of the private bias, no touch of the page's shared count.
   */
  #carve(offset: number, size: number): number {
    const s = this.#s;
    const addr = s[PAGE] + offset;
    s[BIAS]--;
    s[OFFSET] = offset + size;
    s[LAST] = addr;
    return addr;
  }

  /** allocHandle with per-call options, a per-size alignment policy or `zero`. */
  #allocGeneral(size: number, opts: AllocOptions | undefined): number | null {
    const mask = this.#maskFor(size, opts); // validates opts too
    let memalloc = false;
    let zero = this.#zero;
    if (opts !== undefined) {
      memalloc = Object.hasOwn(opts, "memalloc") && opts.memalloc === true;
      if (Object.hasOwn(opts, "zero") && opts.zero !== undefined) {
        zero = opts.zero;
      }
    }
    this.#checkSize("allocHandle", size);
    return this.#allocSlow(size, mask, memalloc, zero);
  }

  /** The current page cannot hold the fragment (or it must be zeroed): recycle or drop it, refill, carve. */
  #allocSlow(
    size: number,
    mask: number,
    memalloc: boolean,
    zero: boolean,
  ): number | null {
    const s = this.#s;
    for (;;) {
      // On entry for a zeroed fragment that fits, and after a refill: a
      // policy or backend callback may have allocated from this cache
      // meanwhile (re-entry), so check as the fast path would.
      const offset = (s[OFFSET] + mask) & ~mask;
      if (offset + size <= s[PAGE_BYTES]) {
        const addr = this.#carve(offset, size);
        if (zero) this.#viewOf(addr, size).fill(0);
        return addr;
      }
      if (s[DEAD] === 1) throw destroyedError("allocHandle");
      if (!this.#makeRoom(size, memalloc)) {
        this.#c[ALLOC_FAILURES]++;
        return null;
      }
    }
  }

  /**
   * Make the cache hold a page with room for `size` bytes
   * (`__page_frag_cache_refill` and the reconcile step before it). Returns
   * false when no page can be had.
   *
   * Callbacks (policies, the backend) may re-enter the cache. The state is
   * consistent before each callback, and after each one we return early if
   * the page changed under us; the caller then re-checks for room.
   */
  #makeRoom(size: number, memalloc: boolean): boolean {
    const s = this.#s;
    const page = s[PAGE];
    s[LAST] = 0;
    s[PREP] = 0;
    if (page !== 0) {
      const recyclable = s[PAGE_BYTES] >= size &&
        this.pfmemallocPolicy.mayRecycle(s[PFMEMALLOC] === 1);
      if (s[PAGE] !== page) return true; // re-entered: look again
      // Give back the references we never handed out. If that leaves none,
      // every fragment of this page has been freed already.
      const bias = s[BIAS];
      this.#forget();
      if (this.backend.pageRefSubAndTest(page, bias)) {
        if (recyclable) {
          this.backend.pageRefAdd(page, this.#biasMax);
          this.#install(page);
          this.#c[RECYCLES]++;
          return true;
        }
        this.backend.releasePage(page);
      }
      // Otherwise the page now belongs to its outstanding fragments alone.
    }
    return this.#refill(size, memalloc);
  }

  /** Take `page` (holding `biasMax` references) as the current page. */
  #install(page: number): void {
    const s = this.#s;
    s[PAGE_BYTES] = this.backend.pageBytes(page);
    s[PFMEMALLOC] = this.backend.isPfmemalloc(page) ? 1 : 0;
    s[OFFSET] = 0;
    s[BIAS] = this.#biasMax;
    s[PAGE] = page;
  }

  #forget(): void {
    const s = this.#s; // DEAD stays as it is
    // Fold the page's fragments into the counter before its bias goes.
    if (s[PAGE] !== 0) this.#c[ALLOCS] += this.#biasMax - s[BIAS];
    s[PAGE] = 0;
    s[PAGE_BYTES] = 0;
    s[OFFSET] = 0;
    s[BIAS] = 0;
    s[PFMEMALLOC] = 0;
    s[LAST] = 0;
    s[PREP] = 0;
  }

  /** Install a new page, trying the refill plan's steps in order. */
  #refill(size: number, memalloc: boolean): boolean {
    const backend = this.backend;
    const s = this.#s;
    const maxOrder = backend.maxOrder;
    let minOrder = 0;
    while (backend.pageSize * 2 ** minOrder < size) minOrder++;
    const steps = this.refillPolicy.plan(size, minOrder, maxOrder);
    if (steps === null || typeof steps !== "object" || !(steps.length >= 0)) {
      throw new PageFragError(
        "EINVAL_OPTION",
        `refill policy "${this.refillPolicy.name}" returned ${
          show(steps)
        } from plan(); want an array of { order, reserve } steps`,
      );
    }
    const reserveAllowed = this.pfmemallocPolicy.mayUseReserve(memalloc);
    if (s[PAGE] !== 0) return true; // re-entered: a page is installed
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i];
      const order = step?.order;
      if (!(order >= minOrder && order <= maxOrder) || (order | 0) !== order) {
        continue; // this step cannot hold the fragment
      }
      const page = backend.allocPage(
        order,
        step.reserve === true && reserveAllowed,
      );
      if (page === 0) continue;
      if (s[PAGE] !== 0) {
        // Re-entered during allocPage and a page was installed: keep that
        // one, hand ours straight back.
        if (backend.pageRefSubAndTest(page, 1)) backend.releasePage(page);
        return true;
      }
      // One reference came with the page; add the rest of the bulk bias.
      backend.pageRefAdd(page, this.#biasMax - 1);
      this.#install(page);
      this.#c[REFILLS]++;
      if (i > 0) this.#c[FALLBACKS]++;
      if (s[PFMEMALLOC] === 1) this.#c[PFMEMALLOC_REFILLS]++;
      return true;
    }
    return false;
  }

  /**
   * Ask for at least `minSize` bytes without taking them
   * (`page_frag_alloc_prepare`): may refill. Returns where they start and how
   * many bytes are really available to the end of the page, or `null` when
   * memory is exhausted. Follow with `commit`, `commitNoref`, or nothing.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   *
   * const cache = createPageFragCache();
   * const p = cache.prepare(32)!;
   * const used = Math.min(p.size, 1000);
   * cache.backend.view(p.addr, used).fill(1);
   * const addr = cache.commit(used);
   * cache.free(addr);
   * ```
   */
  prepare(minSize: number, opts?: AllocOptions): PreparedFragment | null {
    const mask = this.#maskFor(minSize, opts);
    const memalloc = opts !== undefined && Object.hasOwn(opts, "memalloc") &&
      opts.memalloc === true;
    this.#checkSize("prepare", minSize);
    const s = this.#s;
    for (;;) {
      const offset = (s[OFFSET] + mask) & ~mask;
      if (offset + minSize <= s[PAGE_BYTES]) return this.#setPrepared(offset);
      if (s[DEAD] === 1) throw destroyedError("prepare");
      if (!this.#makeRoom(minSize, memalloc)) {
        this.#c[ALLOC_FAILURES]++;
        return null;
      }
    }
  }

  /**
   * Like `prepare` but never refills (`page_frag_alloc_probe`): `null` when
   * the current page has fewer than `minSize` bytes left.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   *
   * const cache = createPageFragCache();
   * if (cache.probe(1) !== null) throw new Error("no page yet");
   * cache.free(cache.allocHandle(1)!);
   * if (cache.probe(100) === null) throw new Error("page has room");
   * ```
   */
  probe(minSize: number, opts?: { align?: number }): PreparedFragment | null {
    const mask = this.#maskFor(minSize, opts);
    this.#checkSize("probe", minSize);
    const offset = (this.#s[OFFSET] + mask) & ~mask;
    if (this.#s[DEAD] === 1) throw destroyedError("probe");
    if (offset + minSize > this.#s[PAGE_BYTES]) return null;
    return this.#setPrepared(offset);
  }

  #setPrepared(offset: number): PreparedFragment {
    const p = this.#prepared;
    this.#s[PREP] = p.addr = this.#s[PAGE] + offset;
    p.size = this.#s[PAGE_BYTES] - offset;
    return p;
  }

  /**
   * Take `size` bytes at the prepared address as a fragment with its own
   * reference (`page_frag_alloc_commit`); returns its address.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   *
   * const cache = createPageFragCache();
   * const p = cache.prepare(100)!;
   * const addr = cache.commit(100);
   * if (addr !== p.addr) throw new Error();
   * cache.free(addr);
   * ```
   */
  commit(size: number): number {
    this.#checkSize("commit", size);
    const offset = preparedOffset(this.#s, "commit", size);
    this.#s[PREP] = 0;
    return this.#carve(offset, size);
  }

  /**
   * Take `size` bytes at the prepared address without a new reference
   * (`page_frag_alloc_commit_noref`): they extend the fragment that ends
   * exactly there, which is freed once for both. The prepared address must
   * be the end of this page's most recent fragment, else `ESTATE`.
   *
   * @example Coalescing, as TCP's sendmsg does
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   *
   * const cache = createPageFragCache();
   * cache.prepare(10);
   * const addr = cache.commit(10);
   * const p = cache.prepare(10)!;
   * if (p.addr !== addr + 10) throw new Error();
   * cache.commitNoref(10);                 // the fragment is now 20 bytes
   * cache.free(addr);                      // one free for both parts
   * ```
   */
  commitNoref(size: number): void {
    this.#checkSize("commitNoref", size);
    const offset = preparedOffset(this.#s, "commitNoref", size);
    if (offset !== this.#s[OFFSET] || this.#s[BIAS] === this.#biasMax) {
      throw new PageFragError(
        "ESTATE",
        "commitNoref(): the prepared bytes do not extend a fragment of this page",
      );
    }
    this.#s[OFFSET] = offset + size;
    this.#s[PREP] = 0;
  }

  /**
   * Undo the most recent allocation or commit of this cache
   * (`page_frag_alloc_abort`): its bytes and reference go back to the cache.
   * Anything but the most recent fragment is `ESTATE`. Do not free the
   * fragment as well.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   *
   * const cache = createPageFragCache();
   * const a = cache.allocHandle(100)!;
   * cache.abort(a);
   * if (cache.allocHandle(100) !== a) throw new Error("same bytes again");
   * ```
   */
  abort(fragment: Uint8Array | number): void {
    const addr = typeof fragment === "number"
      ? fragment
      : fragment instanceof Uint8Array
      ? this.backend.addressOf(fragment)
      : NaN;
    if (this.#s[LAST] === 0 || addr !== this.#s[LAST]) {
      throw new PageFragError(
        "ESTATE",
        `abort(): ${show(addr)} is not the most recent fragment of this cache`,
      );
    }
    this.#s[OFFSET] = addr - this.#s[PAGE];
    this.#s[BIAS]++;
    this.#s[LAST] = 0;
    this.#s[PREP] = 0;
    this.#c[ABORTS]++;
  }

  /**
   * Give up the current page (`page_frag_cache_drain`). The page goes back
   * now if all its fragments are free, else when the last one is freed.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   *
   * const cache = createPageFragCache();
   * const frag = cache.alloc(100)!;
   * cache.drain();
   * if (cache.backend.stats().pagesInUse !== 1) throw new Error("fragment still live");
   * cache.free(frag);
   * if (cache.backend.stats().pagesInUse !== 0) throw new Error();
   * ```
   */
  drain(): void {
    const page = this.#s[PAGE];
    if (page === 0) return;
    const bias = this.#s[BIAS];
    this.#forget();
    this.#c[DRAINS]++;
    if (this.backend.pageRefSubAndTest(page, bias)) {
      this.backend.releasePage(page);
    }
  }

  /**
   * Drain the cache and retire it: every later allocating call (`alloc`,
   * `allocHandle`, `prepare`, `probe`, `commit`, `commitNoref`, `abort`)
   * throws `ESTATE`. Fragments it handed out stay valid and are freed as
   * usual. Destroying twice is harmless.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   *
   * const cache = createPageFragCache();
   * const frag = cache.alloc(100)!;
   * cache.destroy();
   * cache.free(frag);                                  // still fine
   * try {
   *   cache.alloc(100);
   *   throw new Error("unreachable");
   * } catch (e) {
   *   if ((e as { code?: string }).code !== "ESTATE") throw e;
   * }
   * ```
   */
  destroy(): void {
    this.drain();
    this.#s[DEAD] = 1;
  }

  /**
   * Whether destroy() was called.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   *
   * const cache = createPageFragCache();
   * cache.destroy();
   * if (!cache.isDestroyed()) throw new Error();
   * ```
   */
  isDestroyed(): boolean {
    return this.#s[DEAD] === 1;
  }

  /**
   * Whether the current page came from the emergency reserve
   * (`page_frag_cache_is_pfmemalloc`). Ask right after allocating to mark
   * the buffer, as the kernel does with `skb->pfmemalloc`.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   *
   * const cache = createPageFragCache({ maxBytes: 0, reserveBytes: 32768 });
   * const frag = cache.alloc(100, { memalloc: true })!;
   * if (!cache.isPfmemalloc()) throw new Error();
   * cache.free(frag);
   * ```
   */
  isPfmemalloc(): boolean {
    return this.#s[PFMEMALLOC] === 1;
  }

  /**
   * A snapshot of this cache's counters.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   *
   * const cache = createPageFragCache({ maxBytes: 0 });
   * if (cache.alloc(10) !== null || cache.stats().allocFailures !== 1) throw new Error();
   * ```
   */
  stats(): PageFragStats {
    return {
      allocs: this.#c[ALLOCS] + this.#c[ABORTS] +
        (this.#s[PAGE] === 0 ? 0 : this.#biasMax - this.#s[BIAS]),
      allocFailures: this.#c[ALLOC_FAILURES],
      refills: this.#c[REFILLS],
      recycles: this.#c[RECYCLES],
      fallbacks: this.#c[FALLBACKS],
      pfmemallocRefills: this.#c[PFMEMALLOC_REFILLS],
      drains: this.#c[DRAINS],
      aborts: this.#c[ABORTS],
    };
  }

  /** The start-alignment mask for this call: its `align`, else the policy's. */
  #maskFor(size: number, opts: AllocOptions | undefined): number {
    let align: number | undefined;
    if (opts !== undefined) {
      checkAllocOptions(opts);
      align = Object.hasOwn(opts, "align") ? opts.align : undefined;
    }
    if (align === undefined) {
      return this.#alignFor === undefined
        ? this.#defaultMask
        : policyMask(this.alignment, this.#alignFor, size, this.#pageSize);
    }
    if (!isValidAlign(align, this.#pageSize)) {
      throw new PageFragError(
        "EINVAL_ALIGN",
        `align must be a power of two from 1 to ${this.#pageSize}, got ${
          show(align)
        }`,
      );
    }
    return align - 1;
  }

  #checkSize(what: string, size: number): void {
    if (
      typeof size !== "number" || !(size >= 1 && size <= this.#maxFrag) ||
      (size | 0) !== size
    ) {
      throw sizeError(what, size, this.#maxFrag);
    }
  }

  /**
   * `using cache = createPageFragCache()`: the same as
   * {@linkcode PageFragCache.destroy} (drain the current page, refuse later
   * allocations with `ESTATE`). Fragments already handed out stay valid and
   * are freed as usual, so disposing never invalidates live data.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   *
   * const backend = (() => {
   *   using cache = createPageFragCache();
   *   cache.free(cache.alloc(100)!);
   *   return cache.backend;
   * })();
   * if (backend.stats().pagesInUse !== 0) throw new Error("disposed cache kept its page");
   * ```
   */
  [Symbol.dispose](): void {
    this.destroy();
  }
}
