/**
 * The instrumented cache: a mixin that makes, from a cache class (each
 * flavour), the subclass that tells the sanitizer about every fragment it
 * carves, prepares, commits, aborts and drains, and hands every `alloc()`
 * view to the leak detector. Its instances run over an
 * `InstrumentedBackend`, which sees the frees.
 *
 * @module
 */
import type {
  AllocOptions,
  PageFragCache,
  PreparedFragment,
} from "../core/cache.ts";
import { PageFragError } from "../core/errors.ts";
import {
  type Checker,
  firstNot,
  formatSite,
  type Frag,
  POISON_FREE,
  type Span,
} from "./checker.ts";
import { InstrumentedBackend } from "./instrumented_backend.ts";
import type { LeakDetector } from "./leaks.ts";
import { checkerOf } from "./sanitizer.ts";

/** A cache class (one of the flavours, or your subclass). */
// deno-lint-ignore no-explicit-any
type CacheClass = new (...args: any[]) => PageFragCache;

/**
 * Make the instrumented subclass of a cache class (internal: the composition
 * root makes one per flavour). Its instances must be built over an
 * {@linkcode InstrumentedBackend}. When the backend has no sanitizer only
 * `alloc()` and `abort()` differ (views go to the leak detector).
 */
export function instrumentCacheClass<C extends CacheClass>(Base: C): C {
  const Instrumented = class extends Base {
    readonly #st: Checker | undefined;
    readonly #leaks: LeakDetector | undefined;
    readonly #maxFrag: number;
    /** Bytes the pending prepare offered (the caller may have written there). */
    #span: Span | undefined;
    /** The address the last prepare/probe returned. */
    #prepAddr = 0;
    /** The most recent fragment carved (what commitNoref extends). */
    #last: Frag | undefined;

    // deno-lint-ignore no-explicit-any
    constructor(...args: any[]) {
      super(...args);
      const backend = this.backend;
      if (!(backend instanceof InstrumentedBackend)) {
        throw new PageFragError(
          "EINVAL_OPTION",
          "an instrumented cache needs an InstrumentedBackend",
        );
      }
      this.#st = backend.sanitizer === undefined
        ? undefined
        : checkerOf(backend.sanitizer);
      this.#leaks = backend.leaks;
      this.#maxFrag = backend.pageSize * 2 ** backend.maxOrder;
    }

    override allocHandle(size: number, opts?: AllocOptions): number | null {
      const st = this.#st;
      if (st === undefined) return super.allocHandle(size, opts);
      const valid = typeof size === "number" && size >= 1 &&
        size <= this.#maxFrag && (size | 0) === size;
      if (
        !valid ||
        (opts !== undefined && (opts === null || typeof opts !== "object"))
      ) {
        return super.allocHandle(size, opts); // throws what a plain cache throws
      }
      const rz = Math.min(st.redZone, this.#maxFrag - size);
      let align = opts?.align;
      if (align === undefined) {
        align = this.alignment.alignFor !== undefined
          ? this.alignment.alignFor(size)
          : this.alignment.align;
      }
      const zero = opts?.zero === undefined ? this.zero : opts.zero === true;
      const site = st.site();
      let addr: number | null;
      st.depth++;
      try {
        // The red zone is carved with the fragment; zeroing is ours to do,
        // after the poison check.
        addr = super.allocHandle(size + rz, {
          align,
          memalloc: opts?.memalloc === true,
          zero: false,
        });
        this.#settle();
        this.#last = addr === null
          ? undefined
          : st.allocated(addr, size, rz, site, true, zero);
      } finally {
        st.depth--;
      }
      if (addr !== null) this.#undoIfThrowing(addr);
      st.flush();
      return addr;
    }

    override alloc(size: number, opts?: AllocOptions): Uint8Array | null {
      const addr = this.allocHandle(size, opts);
      if (addr === null) return null;
      const view = this.backend.view(addr, size);
      const leaks = this.#leaks;
      if (leaks !== undefined) {
        leaks.track(view, addr, size, siteOf(this.#st, addr));
      }
      return view;
    }

    override prepare(
      minSize: number,
      opts?: AllocOptions,
    ): PreparedFragment | null {
      const st = this.#st;
      if (st === undefined) return super.prepare(minSize, opts);
      let p: PreparedFragment | null;
      st.depth++;
      try {
        p = super.prepare(minSize, opts);
        this.#prepared(p, minSize, true);
      } finally {
        st.depth--;
      }
      st.flush();
      return p;
    }

    override probe(
      minSize: number,
      opts?: { align?: number },
    ): PreparedFragment | null {
      const st = this.#st;
      if (st === undefined) return super.probe(minSize, opts);
      let p: PreparedFragment | null;
      st.depth++;
      try {
        p = super.probe(minSize, opts);
        this.#prepared(p, minSize, false);
      } finally {
        st.depth--;
      }
      st.flush();
      return p;
    }

    /** After prepare/probe: track the offered bytes (a null prepare dropped them). */
    #prepared(
      p: PreparedFragment | null,
      minSize: number,
      refills: boolean,
    ): void {
      const st = this.#st!;
      if (p === null) {
        if (refills) {
          this.#settle(); // the cache gave its page up trying
          this.#prepAddr = 0;
        }
        return;
      }
      this.#prepAddr = p.addr;
      const page = st.pageOf(p.addr);
      if (page === undefined) return;
      const span = this.#span;
      if (
        span !== undefined && span.page === page.base &&
        span.life === page.life && p.addr >= span.start && p.addr < span.end
      ) {
        page.dirtyStart = span.start; // the same offer, continued
        page.dirtyEnd = span.end;
        return;
      }
      this.#settle();
      const off = p.addr - page.base;
      const bad = firstNot(page.mem, off, off + minSize, POISON_FREE);
      if (bad >= 0) {
        st.reportByte(
          page,
          page.base + bad,
          page.mem[bad],
          "when prepare() offered it",
        );
        page.mem.fill(POISON_FREE, off, off + minSize);
      }
      this.#span = {
        page: page.base,
        life: page.life,
        start: p.addr,
        end: p.addr + p.size,
      };
      page.dirtyStart = p.addr;
      page.dirtyEnd = p.addr + p.size;
    }

    /** The pending prepare is over: poison what it offered. */
    #settle(): void {
      const span = this.#span;
      if (span === undefined) return;
      this.#span = undefined;
      this.#st!.settle(span);
    }

    /** commit/commitNoref took the offered bytes [start, end). */
    #consume(start: number, end: number): void {
      this.#prepAddr = 0;
      const span = this.#span;
      if (span === undefined) return;
      const st = this.#st!;
      const page = st.pages.get(span.page);
      if (page === undefined || page.life !== span.life) {
        this.#span = undefined;
        return;
      }
      // Bytes skipped for alignment were offered before: poison them.
      if (start > span.start) {
        page.mem.fill(POISON_FREE, span.start - page.base, start - page.base);
      }
      span.start = end;
      page.dirtyStart = end;
      page.dirtyEnd = span.end;
      if (span.start >= span.end) {
        this.#span = undefined;
        page.dirtyStart = page.dirtyEnd = 0;
      }
    }

    override commit(size: number): number {
      const st = this.#st;
      if (st === undefined) return super.commit(size);
      const site = st.site();
      let addr: number;
      st.depth++;
      try {
        addr = super.commit(size);
        // The caller wrote the bytes before committing: no poison check.
        this.#last = st.allocated(addr, size, 0, site, false, false);
        this.#consume(addr, addr + size);
      } finally {
        st.depth--;
      }
      this.#undoIfThrowing(addr);
      st.flush();
      return addr;
    }

    override commitNoref(size: number): void {
      const st = this.#st;
      if (st === undefined) return super.commitNoref(size);
      st.depth++;
      try {
        const at = this.#prepAddr;
        super.commitNoref(size);
        this.#extend(at, size);
        this.#consume(at, at + size);
      } finally {
        st.depth--;
      }
      st.flush();
    }

    /** commitNoref added `size` bytes at `at` to the fragment ending there. */
    #extend(at: number, size: number): void {
      const st = this.#st!;
      const page = st.pageOf(at);
      if (page === undefined) return;
      let f = this.#last;
      if (
        f === undefined || f.base !== page.base || f.life !== page.life ||
        f.addr + f.size + f.rz !== at
      ) {
        f = undefined;
        for (const g of page.live) if (g.addr + g.size + g.rz === at) f = g;
      }
      if (f === undefined || !f.live) {
        const old = f ?? st.freedAt(at - 1, page);
        if (old !== undefined && old.addr + old.size + old.rz === at) {
          st.report(
            "EUSEAFTERFREE",
            `commitNoref() extends the ${old.size}-byte fragment at ${old.addr}, which was already freed`,
            at,
            old,
          );
        }
        return;
      }
      const off = at - page.base;
      page.mem.fill(POISON_FREE, off - f.rz, off); // the red zone becomes data
      f.size = at + size - f.addr;
      f.rz = 0;
    }

    override abort(fragment: Uint8Array | number): void {
      const st = this.#st;
      if (st === undefined) {
        super.abort(fragment);
        this.#leaks?.untrack(this.#addrOf(fragment));
        return;
      }
      const last = this.#last;
      if (
        last !== undefined && !last.live && this.#addrOf(fragment) === last.addr
      ) {
        // The most recent fragment, already freed: aborting it would give
        // its reference back a second time.
        st.report(
          "EDOUBLEFREE",
          `abort() of the ${last.size}-byte fragment at ${last.addr}, which was already freed`,
          last.addr,
          last,
        );
        st.flush();
        return;
      }
      st.depth++;
      try {
        super.abort(fragment);
        this.#forget(this.#addrOf(fragment));
        this.#settle();
        this.#prepAddr = 0;
      } finally {
        st.depth--;
      }
      st.flush();
    }

    /** The address `abort` means by `fragment` (as the plain cache reads it). */
    #addrOf(fragment: Uint8Array | number): number {
      return typeof fragment === "number"
        ? fragment
        : fragment instanceof Uint8Array
        ? this.backend.addressOf(fragment)
        : NaN;
    }

    /** The fragment at `addr` went back to this cache. */
    #forget(addr: number): void {
      const st = this.#st!;
      const f = st.live.get(addr);
      if (f !== undefined) st.aborted(f);
      if (this.#last === f) this.#last = undefined;
      this.#leaks?.untrack(addr);
    }

    /**
     * Reports are about to be thrown from a call that carved a fragment:
     * take it back first, so the throw loses nothing.
     */
    #undoIfThrowing(addr: number): void {
      const st = this.#st!;
      if (st.depth !== 0 || st.pending.length === 0 || st.onReport) return;
      try {
        super.abort(addr);
        this.#forget(addr);
        this.#prepAddr = 0;
      } catch {
        // Not the most recent fragment any more (re-entry): it stays.
      }
    }

    override drain(): void {
      const st = this.#st;
      if (st === undefined) return super.drain();
      st.depth++;
      try {
        this.#settle();
        this.#last = undefined;
        this.#prepAddr = 0;
        super.drain();
      } finally {
        st.depth--;
      }
      st.flush();
    }
  };
  return Instrumented as unknown as C;
}

/** A lazy allocation-site getter that holds the state and address, not the view. */
function siteOf(
  st: Checker | undefined,
  addr: number,
): (() => string | undefined) | undefined {
  if (st === undefined || !st.sites) return undefined;
  return () => formatSite(st.live.get(addr)?.alloc);
}
