/**
 * The instrumented backend: a `MemoryBackend` wrapped so the sanitizer and
 * the leak detector see every page and every free, whichever cache, worker
 * code or `pageFragFree` makes it. {@linkcode instrumentationOf} finds it
 * from a cache or a backend.
 *
 * @module
 */
import type { BackendStats, MemoryBackend } from "../core/backend.ts";
import type { PageFragCache } from "../core/cache.ts";
import { PageFragError } from "../core/errors.ts";
import { show } from "../core/format.ts";
import { claimBuffer, ownerOf } from "../core/owner.ts";
import { type Checker, formatSite, type Page } from "./checker.ts";
import type { LeakDetector } from "./leaks.ts";
import { checkerOf, type Sanitizer } from "./sanitizer.ts";
import { SanitizerError } from "./sanitizer_error.ts";
import { ForwardingBackend } from "./forwarding_backend.ts";

/**
 * What {@linkcode InstrumentedBackend} adds: a sanitizer, a leak detector,
 * or both.
 *
 * @example
 * ```ts
 * import { HeapBackend } from "@pagefrag/pagefrag";
 * import { InstrumentedBackend, type Instrumentation, LeakDetector, Sanitizer } from "@pagefrag/pagefrag/debug";
 *
 * const parts: Instrumentation = { sanitizer: new Sanitizer(), leaks: new LeakDetector({ level: "all" }) };
 * const backend = new InstrumentedBackend(new HeapBackend(), parts);
 * if (backend.sanitizer !== parts.sanitizer) throw new Error();
 * ```
 */
export interface Instrumentation {
  /** Poisoning, red zones, double-free detection, sites. */
  sanitizer?: Sanitizer;
  /** Reports of fragment views collected unfreed. */
  leaks?: LeakDetector;
}

/**
 * A backend wrapped so the sanitizer and the leak detector see every page
 * and every free: pages are poisoned when they come and checked when they
 * go, frees are checked for double frees and red-zone overflows and
 * untracked from the leak detector. Views of its pages are tagged with the
 * wrapper, so `pageFragFree(view)` comes here too. Everything else is
 * passed to the wrapped backend (`inner`), whose `stats()` it reports.
 *
 * The composition root wraps the backend when `sanitize` or
 * `leakDetection` is set, and uses instrumented cache classes over it; a
 * cache made by hand over this backend is not instrumented (its fragments
 * are unknown to the sanitizer, which then cannot check them).
 *
 * @example
 * ```ts
 * import { createPageFragCache, HeapBackend } from "@pagefrag/pagefrag";
 * import { InstrumentedBackend, Sanitizer } from "@pagefrag/pagefrag/debug";
 *
 * const backend = new InstrumentedBackend(new HeapBackend(), { sanitizer: new Sanitizer() });
 * const cache = createPageFragCache({ backend, sanitize: true }); // reuses this wrapper
 * const frag = cache.alloc(10)!;
 * frag[10 - 1] = 1;
 * cache.free(frag);
 * if (cache.backend !== backend) throw new Error();
 * ```
 */
export class InstrumentedBackend extends ForwardingBackend {
  /** The sanitizer, when on. */
  readonly sanitizer: Sanitizer | undefined;
  /** The leak detector, when on. */
  readonly leaks: LeakDetector | undefined;
  readonly #st: Checker | undefined;
  readonly #arena: boolean;
  /** Page buffers (heap) -> the page's record, to name a stale view's fragment. */
  readonly #bufferPage = new WeakMap<ArrayBufferLike, Page>();

  /**
   * Wrap `inner`. A sanitizer serves one backend: `EINVAL_OPTION` if it
   * already serves another.
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   * import { InstrumentedBackend, LeakDetector } from "@pagefrag/pagefrag/debug";
   *
   * const backend = new InstrumentedBackend(new HeapBackend(), { leaks: new LeakDetector({ level: "all" }) });
   * if (backend.sanitizer !== undefined || backend.pageSize !== 4096) throw new Error();
   * ```
   */
  constructor(inner: MemoryBackend, parts: Instrumentation = {}) {
    super(inner);
    this.sanitizer = parts.sanitizer;
    this.leaks = parts.leaks;
    const st = parts.sanitizer === undefined
      ? undefined
      : checkerOf(parts.sanitizer);
    if (st !== undefined) {
      if (st.backend !== undefined && st.backend !== inner) {
        throw new PageFragError(
          "EINVAL_OPTION",
          "this Sanitizer already serves another backend: make one per backend",
        );
      }
      st.backend = inner;
      st.leaks = parts.leaks;
    }
    this.#st = st;
    // A heap page is its own buffer, dropped when released; arena memory is
    // reused, so a released range is checked again when it comes back.
    this.#arena = typeof (inner as { share?: unknown }).share === "function";
  }

  /**
   * Allocate a page from the inner backend; with the sanitizer, check a
   * reused arena range still holds its poison, then poison the page.
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   * import { InstrumentedBackend, POISON_FREE, Sanitizer } from "@pagefrag/pagefrag/debug";
   *
   * const backend = new InstrumentedBackend(new HeapBackend(), { sanitizer: new Sanitizer() });
   * const page = backend.allocPage(0, false);
   * if (backend.view(page, 1)[0] !== POISON_FREE) throw new Error();
   * backend.free(page);
   * ```
   */
  allocPage(order: number, reserve: boolean): number {
    const page = this.inner.allocPage(order, reserve);
    if (page === 0) return 0;
    const bytes = this.inner.pageBytes(page);
    const mem = this.inner.view(page, bytes);
    claimBuffer(mem.buffer, this);
    const st = this.#st;
    if (st !== undefined) {
      // Reports found here wait for the next fragment call: throwing now
      // would lose the page.
      st.pageAllocated(page, bytes, mem);
      if (!this.#arena) this.#bufferPage.set(mem.buffer, st.pages.get(page)!);
    } else {
      this.leaks?.forgetRange(page, page + bytes);
    }
    return page;
  }

  /**
   * The inner backend's `pageRefAdd` (a bulk add marks the page as held by
   * a cache, for `pinnedPages()`).
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   * import { InstrumentedBackend } from "@pagefrag/pagefrag/debug";
   *
   * const backend = new InstrumentedBackend(new HeapBackend());
   * const page = backend.allocPage(0, false);
   * backend.pageRefAdd(page, 1);
   * backend.free(page);
   * backend.free(page);
   * ```
   */
  pageRefAdd(page: number, n: number): void {
    this.inner.pageRefAdd(page, n);
    const p = this.#st?.pages.get(page);
    if (p !== undefined) {
      p.drained = false;
      if (n >= p.bytes) p.held = p.cached = true;
    }
  }

  /**
   * The inner backend's `pageRefSubAndTest`; with the sanitizer, a page
   * whose count reaches zero is checked and re-poisoned.
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   * import { InstrumentedBackend } from "@pagefrag/pagefrag/debug";
   *
   * const backend = new InstrumentedBackend(new HeapBackend());
   * const page = backend.allocPage(0, false);
   * if (!backend.pageRefSubAndTest(page, 1)) throw new Error();
   * backend.releasePage(page);
   * ```
   */
  pageRefSubAndTest(page: number, n: number): boolean {
    const zero = this.inner.pageRefSubAndTest(page, n);
    const st = this.#st;
    const p = st?.pages.get(page);
    if (p !== undefined) {
      if (n > 1 || zero) p.held = false;
      // Reports wait for the next fragment call: the caller must still
      // recycle or release the page.
      if (zero) st!.pageDrained(p);
    }
    return zero;
  }

  /**
   * The inner backend's `releasePage`.
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   * import { InstrumentedBackend } from "@pagefrag/pagefrag/debug";
   *
   * const backend = new InstrumentedBackend(new HeapBackend());
   * const page = backend.allocPage(0, false);
   * backend.pageRefSubAndTest(page, 1);
   * backend.releasePage(page);
   * if (backend.stats().pagesInUse !== 0) throw new Error();
   * ```
   */
  releasePage(page: number): void {
    this.inner.releasePage(page);
    this.#gone(page);
  }

  /** The page at `page` went back to the inner backend. */
  #gone(page: number): void {
    const st = this.#st;
    const p = st?.pages.get(page);
    if (p === undefined) return;
    st!.depth++;
    try {
      st!.pageReleased(p, this.#arena);
    } finally {
      st!.depth--;
    }
    st!.flush();
  }

  /**
   * Free a fragment (`page_frag_free`). With the sanitizer: a fragment freed
   * twice is `EDOUBLEFREE` (and not freed again); an address inside a live
   * fragment (or its red zone) that is not its first byte is `EFOREIGN`
   * (and nothing is freed: the kernel would drop a reference of the page);
   * a red zone overwritten is `EOVERFLOW` (the fragment is freed); the
   * fragment is poisoned. The leak detector stops tracking it.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import assert from "node:assert/strict";
   *
   * const cache = createPageFragCache({ sanitize: true });
   * const addr = cache.allocHandle(100)!;
   * assert.throws(() => cache.backend.free(addr + 1), { code: "EFOREIGN" }, "not a fragment's start");
   * cache.backend.free(addr);
   * ```
   */
  free(addr: number): void {
    const st = this.#st;
    if (st === undefined) {
      this.inner.free(addr);
      this.leaks?.untrack(addr);
      return;
    }
    const f = typeof addr === "number" ? st.carvedAt(addr) : undefined;
    if (f !== undefined && f.addr !== addr) {
      // Inside a live fragment: the page would take it (page_frag_free
      // only finds the page), but it names no fragment. Nothing is freed.
      const where = addr - f.addr < f.size
        ? `byte ${addr - f.addr} of`
        : `in the red zone of`;
      st.report(
        "EFOREIGN",
        `free(${
          show(addr)
        }): not the start of a fragment: ${where} the live ${f.size}-byte fragment at ${f.addr}`,
        addr,
        f,
      );
      st.flush(); // throws, or hands it over; nothing was freed either way
      return;
    }
    if (f === undefined) {
      // Not live: freed before (in this life of its page), or unknown to us.
      const p = typeof addr === "number" ? st.pageOf(addr) : undefined;
      const old = st.freedAt(addr, p);
      if (old !== undefined) {
        st.report(
          "EDOUBLEFREE",
          `double free: the ${old.size}-byte fragment at ${old.addr} was already freed`,
          addr,
          old,
        );
        st.flush(); // throws, or hands it over; nothing was freed either way
        return;
      }
      if (p === undefined) this.#freeUnknown(st, addr);
      else {
        this.inner.free(addr);
        this.#afterFree(p);
      }
      return;
    }
    const p = st.pageFor(f)!;
    st.depth++;
    try {
      st.freeing(f, p);
      this.leaks?.untrack(f.addr);
      this.inner.free(f.addr);
      this.#afterFree(p);
    } finally {
      st.depth--;
    }
    st.flush();
  }

  /**
   * Free an address on no page we watch: the inner backend decides (and
   * throws `EFOREIGN` / `EDOUBLEFREE` for junk). A double free of a
   * fragment we remember is reported with its sites.
   */
  #freeUnknown(st: Checker, addr: number): void {
    try {
      this.inner.free(addr);
    } catch (e) {
      const old = e instanceof PageFragError && e.code === "EDOUBLEFREE"
        ? st.freed.get(addr)
        : undefined;
      if (old === undefined) throw e;
      throw st.counted(
        new SanitizerError(
          "EDOUBLEFREE",
          `double free: the ${old.size}-byte fragment at ${old.addr} was already freed and its page went back`,
          addr,
          { address: old.addr, size: old.size },
          formatSite(old.alloc),
          formatSite(old.free),
        ),
      );
    }
  }

  /** Did that free return the page? Then check it and let it go. */
  #afterFree(p: Page): void {
    let live: boolean;
    try {
      live = this.inner.pageOf(p.base) === p.base;
    } catch {
      live = false;
    }
    if (!live) this.#gone(p.base);
  }

  /**
   * A new view of the `size` bytes at `addr`, every call: the inner
   * backend's view is copied, never handed out, because a backend may hand
   * the same view object out again for a later fragment over the same bytes
   * (view recycling), and a stale view that is the very object of a live
   * fragment can be neither told apart nor garbage-collected (the leak
   * detector's signal). Its buffer is tagged so `pageFragFree` routes it
   * here.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { ownerOf } from "@pagefrag/pagefrag/core";
   * import assert from "node:assert/strict";
   *
   * const cache = createPageFragCache({ sanitize: true });
   * const addr = cache.allocHandle(16)!;
   * const view = cache.backend.view(addr, 16);
   * assert.equal(ownerOf(view), cache.backend, "pageFragFree(view) comes here");
   * assert.notEqual(cache.backend.view(addr, 16), view, "a new view every call");
   * cache.free(addr);
   * ```
   */
  view(addr: number, size: number): Uint8Array {
    const raw = this.inner.view(addr, size);
    const v = new Uint8Array(raw.buffer, raw.byteOffset, raw.length);
    if (ownerOf(v) !== this) claimBuffer(v.buffer, this);
    return v;
  }

  /**
   * The inner backend's `addressOf`. A view whose page already went back is
   * `EDOUBLEFREE`, naming the fragment when the sanitizer remembers it.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   *
   * const cache = createPageFragCache({ sanitize: true });
   * const frag = cache.alloc(32)!;
   * if (cache.backend.view(cache.backend.addressOf(frag), 1).byteOffset !== frag.byteOffset) throw new Error();
   * cache.free(frag);
   * ```
   */
  addressOf(view: Uint8Array): number {
    try {
      return this.inner.addressOf(view);
    } catch (e) {
      if (
        !(e instanceof PageFragError) || e.code !== "EFOREIGN" ||
        ownerOf(view) !== this
      ) throw e;
    }
    // One of our heap pages' views, its page gone: a free of it is a double free.
    const st = this.#st;
    const p = st === undefined ? undefined : this.#bufferPage.get(view.buffer);
    const addr = p === undefined ? NaN : p.base + view.byteOffset;
    const old = p === undefined ? undefined : st!.freedAt(addr, p);
    const e = new SanitizerError(
      "EDOUBLEFREE",
      old === undefined
        ? "addressOf(): the view's page is no longer live (freed twice?)"
        : `double free: the ${old.size}-byte fragment at ${old.addr} was already freed and its page went back`,
      addr,
      old === undefined ? undefined : { address: old.addr, size: old.size },
      formatSite(old?.alloc),
      formatSite(old?.free),
    );
    throw st === undefined ? e : st.counted(e);
  }

  /**
   * The inner backend's stats.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   *
   * const cache = createPageFragCache({ sanitize: true });
   * cache.allocHandle(8);
   * if (cache.backend.stats().pagesInUse !== 1) throw new Error();
   * ```
   */
  stats(): BackendStats {
    return this.inner.stats();
  }
}

/**
 * The instrumentation of a cache or backend: the {@linkcode InstrumentedBackend}
 * it runs on (with `.sanitizer` and `.leaks`), or undefined when neither the
 * sanitizer nor the leak detector is on.
 *
 * @example
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { instrumentationOf } from "@pagefrag/pagefrag/debug";
 *
 * if (instrumentationOf(createPageFragCache()) !== undefined) throw new Error("off by default");
 * const cache = createPageFragCache({ sanitize: true, leakDetection: "all" });
 * const { sanitizer, leaks } = instrumentationOf(cache)!;
 * if (sanitizer === undefined || leaks === undefined) throw new Error();
 * ```
 */
export function instrumentationOf(
  of: PageFragCache | MemoryBackend,
): InstrumentedBackend | undefined {
  const b = of instanceof InstrumentedBackend
    ? of
    : (of as { backend?: unknown } | null)?.backend;
  return b instanceof InstrumentedBackend ? b : undefined;
}

// --------------------------------------------------------------- caches
