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
import { show } from "./options.ts";
import { type AlignmentPolicy, isValidAlign } from "../policies/alignment.ts";
import type { RefillPolicy } from "../policies/refill.ts";
import type { PfmemallocPolicy } from "../policies/pfmemalloc.ts";

/**
 * Per-call options of `alloc`, `allocHandle` and `prepare`.
 *
 * @example
 * ```ts
 * import { createPageFragCache, type AllocOptions } from "@pagefrag/pagefrag";
 *
 * const opts: AllocOptions = { align: 64, memalloc: false };
 * const cache = createPageFragCache();
 * const addr = cache.allocHandle(100, opts)!;
 * if (addr % 64 !== 0) throw new Error();
 * cache.free(addr);
 * ```
 */
export interface AllocOptions {
  /** Start alignment for this fragment: a power of two <= pageSize. Overrides the cache's policy. */
  align?: number;
  /** May a refill for this request use the emergency reserve (`__GFP_MEMALLOC`)? Default false. */
  memalloc?: boolean;
}

/**
 * The answer of `prepare` and `probe`: `size` bytes are available from
 * `addr` to the end of the page. The same object is reused by the next call.
 *
 * @example
 * ```ts
 * import { createPageFragCache, type PreparedFragment } from "@pagefrag/pagefrag";
 *
 * const cache = createPageFragCache();
 * const p: PreparedFragment = cache.prepare(32)!;
 * if (p.size < 32) throw new Error();
 * cache.free(cache.commit(32));
 * ```
 */
export interface PreparedFragment {
  /** Address where the next fragment would start. */
  addr: number;
  /** Bytes available from `addr` to the end of the page (at least the asked minimum). */
  size: number;
}

/**
 * What a cache has decided so far (cumulative counters).
 *
 * @example
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 *
 * const cache = createPageFragCache();
 * cache.free(cache.allocHandle(10)!);
 * const s = cache.stats();
 * if (s.allocs !== 1 || s.refills !== 1) throw new Error();
 * ```
 */
export interface PageFragStats {
  /** Fragments handed out (by alloc, allocHandle or commit). */
  allocs: number;
  /** Allocations (and prepares) that returned `null` for lack of memory. */
  allocFailures: number;
  /** New pages installed from the backend. */
  refills: number;
  /** Exhausted pages whose fragments were all free, reused in place. */
  recycles: number;
  /** Refills where the first step of the refill plan failed and a later one succeeded. */
  fallbacks: number;
  /** Refills that installed a page from the emergency reserve. */
  pfmemallocRefills: number;
  /** `drain()` calls that gave up a page. */
  drains: number;
  /** Fragments taken back by `abort()`. */
  aborts: number;
}

/**
 * A page fragment cache (`struct page_frag_cache`). Not safe for concurrent
 * use from two workers: give each worker its own cache (frees may come from
 * anywhere the backend allows).
 *
 * Make one with {@linkcode createPageFragCache} or resolve `TOKENS.Cache`
 * from a container set up by `registerPageFrag`.
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
export class PageFragCache {
  /** Where this cache's pages come from. */
  readonly backend: MemoryBackend;
  /** Default start alignment of fragments. */
  readonly alignment: AlignmentPolicy;
  /** Page orders tried on refill. */
  readonly refillPolicy: RefillPolicy;
  /** Reserve use and recycling of reserve pages. */
  readonly pfmemallocPolicy: PfmemallocPolicy;

  /** Largest fragment: the largest page. */
  readonly #maxFrag: number;
  /** Bias a fresh or recycled page starts with (PAGE_FRAG_CACHE_MAX_SIZE + 1). */
  readonly #biasMax: number;
  readonly #defaultMask: number;
  readonly #alignFor: ((size: number) => number) | undefined;

  // The state: current page (0 = none), its size, the next free offset,
  // the unused part of the bulk reference, and the page's pfmemalloc flag.
  #page = 0;
  #pageBytes = 0;
  #offset = 0;
  #bias = 0;
  #pfmemalloc = false;
  /** Address of the most recent fragment of this page (for abort), 0 if none. */
  #last = 0;
  /** Address returned by the last prepare/probe, 0 if none pending. */
  #prepAddr = 0;
  readonly #prepared: PreparedFragment = { addr: 0, size: 0 };

  #allocs = 0;
  #allocFailures = 0;
  #refills = 0;
  #recycles = 0;
  #fallbacks = 0;
  #pfmemallocRefills = 0;
  #drains = 0;
  #aborts = 0;

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
    backend: MemoryBackend,
    alignment: AlignmentPolicy,
    refillPolicy: RefillPolicy,
    pfmemallocPolicy: PfmemallocPolicy,
  ) {
    this.backend = backend;
    this.alignment = alignment;
    this.refillPolicy = refillPolicy;
    this.pfmemallocPolicy = pfmemallocPolicy;
    this.#maxFrag = backend.pageSize * 2 ** backend.maxOrder;
    this.#biasMax = this.#maxFrag + 1;
    if (!isValidAlign(alignment.align, backend.pageSize)) {
      throw new PageFragError(
        "EINVAL_ALIGN",
        `alignment policy "${alignment.name}": align must be a power of two from 1 to ${backend.pageSize}, got ${
          show(alignment.align)
        }`,
      );
    }
    this.#defaultMask = alignment.align - 1;
    this.#alignFor = typeof alignment.alignFor === "function"
      ? alignment.alignFor.bind(alignment)
      : undefined;
  }

  // ---------------------------------------------------------------- fast path

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
    let mask = this.#defaultMask;
    let memalloc = false;
    if (opts !== undefined) {
      mask = this.#maskFromOptions(opts, size);
      memalloc = opts.memalloc === true;
    } else if (this.#alignFor !== undefined) {
      mask = this.#maskFromPolicy(size);
    }
    if (!(size >= 1 && size <= this.#maxFrag) || (size | 0) !== size) {
      throw this.#badSize("allocHandle", size);
    }
    const offset = (this.#offset + mask) & ~mask;
    if (offset + size > this.#pageBytes) {
      return this.#allocSlow(size, memalloc);
    }
    const addr = this.#page + offset;
    this.#bias--;
    this.#offset = offset + size;
    this.#last = addr;
    this.#allocs++;
    return addr;
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
  alloc(size: number, opts?: AllocOptions): Uint8Array | null {
    const addr = this.allocHandle(size, opts);
    return addr === null ? null : this.backend.view(addr, size);
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
  allocAlign(size: number, align: number): Uint8Array | null {
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

  // ---------------------------------------------------------------- slow path

  /** The current page cannot hold the fragment: recycle or drop it, refill, carve. */
  #allocSlow(size: number, memalloc: boolean): number | null {
    if (!this.#makeRoom(size, memalloc)) {
      this.#allocFailures++;
      return null;
    }
    // A fresh or recycled page starts at offset 0, aligned for any align <= pageSize.
    const addr = this.#page;
    this.#bias--;
    this.#offset = size;
    this.#last = addr;
    this.#allocs++;
    return addr;
  }

  /**
   * Make the cache hold a page with `size` bytes free at offset 0
   * (`__page_frag_cache_refill` and the reconcile step before it).
   */
  #makeRoom(size: number, memalloc: boolean): boolean {
    const page = this.#page;
    this.#last = 0;
    this.#prepAddr = 0;
    if (page !== 0) {
      // Give back the references we never handed out. If that leaves none,
      // every fragment of this page has been freed already.
      if (this.backend.pageRefSubAndTest(page, this.#bias)) {
        if (
          this.#pageBytes >= size &&
          this.pfmemallocPolicy.mayRecycle(this.#pfmemalloc)
        ) {
          this.backend.pageRefAdd(page, this.#biasMax);
          this.#bias = this.#biasMax;
          this.#offset = 0;
          this.#recycles++;
          return true;
        }
        this.backend.releasePage(page);
      }
      // Otherwise the page now belongs to its outstanding fragments alone.
      this.#forget();
    }
    return this.#refill(size, memalloc);
  }

  #forget(): void {
    this.#page = 0;
    this.#pageBytes = 0;
    this.#offset = 0;
    this.#bias = 0;
    this.#pfmemalloc = false;
    this.#last = 0;
    this.#prepAddr = 0;
  }

  /** Install a new page, trying the refill plan's steps in order. */
  #refill(size: number, memalloc: boolean): boolean {
    const backend = this.backend;
    const maxOrder = backend.maxOrder;
    let minOrder = 0;
    while (backend.pageSize * 2 ** minOrder < size) minOrder++;
    const steps = this.refillPolicy.plan(size, minOrder, maxOrder);
    const reserveAllowed = this.pfmemallocPolicy.mayUseReserve(memalloc);
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i];
      const order = step.order;
      if (!(order >= minOrder && order <= maxOrder) || (order | 0) !== order) {
        continue; // this step cannot hold the fragment
      }
      const page = backend.allocPage(order, step.reserve && reserveAllowed);
      if (page === 0) continue;
      // One reference came with the page; add the rest of the bulk bias.
      backend.pageRefAdd(page, this.#biasMax - 1);
      this.#page = page;
      this.#pageBytes = backend.pageBytes(page);
      this.#offset = 0;
      this.#bias = this.#biasMax;
      this.#pfmemalloc = backend.isPfmemalloc(page);
      this.#refills++;
      if (i > 0) this.#fallbacks++;
      if (this.#pfmemalloc) this.#pfmemallocRefills++;
      return true;
    }
    return false;
  }

  // ---------------------------------------------------- prepare/probe/commit

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
    this.#checkSize("prepare", minSize);
    let offset = (this.#offset + mask) & ~mask;
    if (offset + minSize > this.#pageBytes) {
      if (!this.#makeRoom(minSize, opts?.memalloc === true)) {
        this.#allocFailures++;
        return null;
      }
      offset = 0;
    }
    return this.#setPrepared(offset);
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
    const offset = (this.#offset + mask) & ~mask;
    if (offset + minSize > this.#pageBytes) return null;
    return this.#setPrepared(offset);
  }

  #setPrepared(offset: number): PreparedFragment {
    const p = this.#prepared;
    this.#prepAddr = p.addr = this.#page + offset;
    p.size = this.#pageBytes - offset;
    return p;
  }

  /**
   * Offset of the pending prepared address, after checking that `size` bytes
   * may be committed there.
   */
  #preparedOffset(what: string, size: number): number {
    this.#checkSize(what, size);
    if (this.#prepAddr === 0) {
      throw new PageFragError(
        "ESTATE",
        `${what}() without prepare() or probe()`,
      );
    }
    const offset = this.#prepAddr - this.#page;
    if (offset < this.#offset) {
      throw new PageFragError(
        "ESTATE",
        `${what}(): the prepared bytes were taken by an allocation made since prepare()`,
      );
    }
    if (offset + size > this.#pageBytes) {
      throw new PageFragError(
        "ESTATE",
        `${what}(${size}): only ${
          this.#pageBytes - offset
        } bytes were prepared`,
      );
    }
    return offset;
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
    const offset = this.#preparedOffset("commit", size);
    const addr = this.#page + offset;
    this.#bias--;
    this.#offset = offset + size;
    this.#last = addr;
    this.#prepAddr = 0;
    this.#allocs++;
    return addr;
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
    const offset = this.#preparedOffset("commitNoref", size);
    if (offset !== this.#offset || this.#bias === this.#biasMax) {
      throw new PageFragError(
        "ESTATE",
        "commitNoref(): the prepared bytes do not extend a fragment of this page",
      );
    }
    this.#offset = offset + size;
    this.#prepAddr = 0;
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
    if (this.#last === 0 || addr !== this.#last) {
      throw new PageFragError(
        "ESTATE",
        `abort(): ${show(addr)} is not the most recent fragment of this cache`,
      );
    }
    this.#offset = addr - this.#page;
    this.#bias++;
    this.#last = 0;
    this.#prepAddr = 0;
    this.#aborts++;
  }

  // -------------------------------------------------------------- the rest

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
    const page = this.#page;
    if (page === 0) return;
    if (this.backend.pageRefSubAndTest(page, this.#bias)) {
      this.backend.releasePage(page);
    }
    this.#forget();
    this.#drains++;
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
    return this.#pfmemalloc;
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
      allocs: this.#allocs,
      allocFailures: this.#allocFailures,
      refills: this.#refills,
      recycles: this.#recycles,
      fallbacks: this.#fallbacks,
      pfmemallocRefills: this.#pfmemallocRefills,
      drains: this.#drains,
      aborts: this.#aborts,
    };
  }

  // ------------------------------------------------------------ validation

  #maskFor(size: number, opts: AllocOptions | undefined): number {
    if (opts !== undefined) return this.#maskFromOptions(opts, size);
    if (this.#alignFor !== undefined) return this.#maskFromPolicy(size);
    return this.#defaultMask;
  }

  #maskFromOptions(opts: AllocOptions, size: number): number {
    if (opts === null || typeof opts !== "object") {
      throw new PageFragError(
        "EINVAL_OPTION",
        `allocation options must be an object, got ${show(opts)}`,
      );
    }
    const align = opts.align;
    if (align === undefined) {
      return this.#alignFor !== undefined
        ? this.#maskFromPolicy(size)
        : this.#defaultMask;
    }
    if (!isValidAlign(align, this.backend.pageSize)) {
      throw new PageFragError(
        "EINVAL_ALIGN",
        `align must be a power of two from 1 to ${this.backend.pageSize}, got ${
          show(align)
        }`,
      );
    }
    return align - 1;
  }

  #maskFromPolicy(size: number): number {
    const align = this.#alignFor!(size);
    if (!isValidAlign(align, this.backend.pageSize)) {
      throw new PageFragError(
        "EINVAL_ALIGN",
        `alignment policy "${this.alignment.name}" returned ${
          show(align)
        } for size ${
          show(size)
        }; want a power of two from 1 to ${this.backend.pageSize}`,
      );
    }
    return align - 1;
  }

  #checkSize(what: string, size: number): void {
    if (!(size >= 1 && size <= this.#maxFrag) || (size | 0) !== size) {
      throw this.#badSize(what, size);
    }
  }

  #badSize(what: string, size: unknown): PageFragError {
    return new PageFragError(
      "EINVAL_SIZE",
      `${what}(): size must be an integer from 1 to ${this.#maxFrag} (pageSize << maxOrder), got ${
        show(size)
      }`,
    );
  }
}
