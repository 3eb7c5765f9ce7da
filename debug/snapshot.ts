/**
 * What a cache and its backend hold right now, as plain data: the counters
 * of both, and (over a {@linkcode TracingBackend}) every page with its
 * fragments and their states. The browser picture (`examples/browser/`)
 * draws exactly this; a test or a log line can read it without a browser.
 *
 * A backend does not see a cache carve fragments (that is the point of the
 * allocator: carving touches no shared state), so the page view needs a
 * `TracingBackend` under the cache. It forwards every call and remembers
 * what it saw: pages handed out and released, reference counts, the view
 * of each fragment `alloc()` made, each `free`, and recycling (a page whose
 * count reached zero and was taken again without going back). Fragments
 * from `allocHandle` show up once freed (the backend learns their address
 * then, not their size). Debug use: the tracer costs a `Map` operation per
 * call.
 *
 * @module
 */
import type { BackendStats, MemoryBackend } from "../core/backend.ts";
import type { PageFragCache, PageFragStats } from "../core/cache.ts";
import { ForwardingBackend } from "./forwarding_backend.ts";

/**
 * A fragment's state in a {@linkcode PageSnapshot}: `live` (handed out, not
 * freed), `freed`, or `recycled` (carved before the page was last recycled
 * in place: those bytes are being carved again).
 *
 * @example
 * ```ts
 * import type { FragmentState } from "@pagefrag/pagefrag/debug";
 *
 * const s: FragmentState = "live";
 * if (s !== "live") throw new Error();
 * ```
 */
export type FragmentState = "live" | "freed" | "recycled";

/**
 * One fragment of a traced page: its offset in the page, size and state.
 *
 * @example
 * ```ts
 * import type { FragmentSnapshot } from "@pagefrag/pagefrag/debug";
 *
 * const f: FragmentSnapshot = { offset: 0, size: 64, state: "live" };
 * if (f.size !== 64) throw new Error();
 * ```
 */
export interface FragmentSnapshot {
  /** Bytes from the page's start. */
  offset: number;
  /** Bytes (0 when only the address is known: an `allocHandle` fragment freed). */
  size: number;
  /** See {@linkcode FragmentState}. */
  state: FragmentState;
}

/**
 * One live page of a traced backend.
 *
 * @example
 * ```ts
 * import type { PageSnapshot } from "@pagefrag/pagefrag/debug";
 *
 * const p: PageSnapshot = {
 *   base: 4096, bytes: 4096, refs: 1, pfmemalloc: false, held: true,
 *   pinned: false, recycles: 0, fragments: [],
 * };
 * if (!p.held) throw new Error();
 * ```
 */
export interface PageSnapshot {
  /** The page's base address. */
  base: number;
  /** Its size (`pageSize << order`). */
  bytes: number;
  /** Its reference count (a cache's bulk bias included). */
  refs: number;
  /** Taken from the emergency reserve: never recycled, marks its fragments. */
  pfmemalloc: boolean;
  /** Some cache holds it as its current page. */
  held: boolean;
  /** No cache holds it, yet live fragments keep it: the classic page_frag cost. */
  pinned: boolean;
  /** Times it was recycled in place. */
  recycles: number;
  /** Its fragments, by offset. */
  fragments: FragmentSnapshot[];
}

/**
 * What {@linkcode snapshot} returns.
 *
 * @example
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { snapshot, type Snapshot } from "@pagefrag/pagefrag/debug";
 *
 * const s: Snapshot = snapshot(createPageFragCache());
 * if (s.pages !== undefined) throw new Error("not traced");
 * ```
 */
export interface Snapshot {
  /** The cache's counters (`cache.stats()`). */
  cache: PageFragStats;
  /** The backend's counters (`cache.backend.stats()`). */
  backend: BackendStats;
  /** Live pages, by address, when the backend is a {@linkcode TracingBackend}; else undefined. */
  pages: PageSnapshot[] | undefined;
  /** Fragments by state over the traced pages (zeros when untraced). */
  fragments: { live: number; freed: number; recycled: number };
}

interface TracedPage {
  base: number;
  bytes: number;
  refs: number;
  pfmemalloc: boolean;
  held: boolean;
  recycles: number;
  /** offset -> [size, state] */
  frags: Map<number, [number, FragmentState]>;
  /** The count reached zero in pageRefSubAndTest: the next pageRefAdd is a recycle. */
  zero: boolean;
}

/**
 * A {@linkcode MemoryBackend} that forwards to `inner` and remembers pages
 * and fragments for {@linkcode snapshot}. Give it to a cache as its
 * backend; free through the cache (or this backend), not `pageFragFree`,
 * which goes to `inner` directly.
 *
 * @example
 * ```ts
 * import { createPageFragCache, HeapBackend } from "@pagefrag/pagefrag";
 * import { snapshot, TracingBackend } from "@pagefrag/pagefrag/debug";
 *
 * const cache = createPageFragCache({ backend: new TracingBackend(new HeapBackend({ maxOrder: 0 })) });
 * const a = cache.alloc(100)!;
 * cache.free(cache.alloc(200)!);
 * const [page] = snapshot(cache).pages!;
 * if (page.fragments.map((f) => f.state).join() !== "live,freed") throw new Error();
 * cache.free(a);
 * ```
 */
export class TracingBackend<B extends ArrayBufferLike = ArrayBufferLike>
  extends ForwardingBackend<B> {
  readonly #pages = new Map<number, TracedPage>();
  /** Recent page events, oldest first (at most `eventLimit`): the demo's timeline. */
  readonly events: {
    kind: "refill" | "recycle" | "release";
    page: number;
    time: number;
  }[] = [];
  /** How many events to keep. */
  eventLimit = 500;
  #clock = 0;

  /**
   * Wrap `inner`.
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   * import { TracingBackend } from "@pagefrag/pagefrag/debug";
   *
   * const t = new TracingBackend(new HeapBackend());
   * if (t.pageSize !== 4096) throw new Error();
   * ```
   */
  constructor(inner: MemoryBackend<B>) {
    super(inner);
  }

  #event(kind: "refill" | "recycle" | "release", page: number): void {
    this.events.push({ kind, page, time: this.#clock++ });
    if (this.events.length > this.eventLimit) this.events.shift();
  }

  #page(addr: number): TracedPage | undefined {
    return this.#pages.get(this.inner.pageOf(addr));
  }

  /**
   * Forwarded; records the page.
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   * import { TracingBackend } from "@pagefrag/pagefrag/debug";
   *
   * const t = new TracingBackend(new HeapBackend());
   * const page = t.allocPage(0, false);
   * if (t.pages()[0].base !== page) throw new Error();
   * t.free(page);
   * ```
   */
  allocPage(order: number, reserve: boolean): number {
    const base = this.inner.allocPage(order, reserve);
    if (base !== 0) {
      this.#pages.set(base, {
        base,
        bytes: this.inner.pageBytes(base),
        refs: 1,
        pfmemalloc: this.inner.isPfmemalloc(base),
        held: false,
        recycles: 0,
        frags: new Map(),
        zero: false,
      });
      this.#event("refill", base);
    }
    return base;
  }
  /**
   * Forwarded; a bulk add marks the page held, after a zero count a recycle.
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   * import { TracingBackend } from "@pagefrag/pagefrag/debug";
   *
   * const t = new TracingBackend(new HeapBackend());
   * const page = t.allocPage(0, false);
   * t.pageRefAdd(page, 100);
   * if (!t.pages()[0].held) throw new Error();
   * if (t.pageRefSubAndTest(page, 101)) t.releasePage(page);
   * ```
   */
  pageRefAdd(page: number, n: number): void {
    this.inner.pageRefAdd(page, n);
    const p = this.#pages.get(page);
    if (p === undefined) return;
    p.refs += n;
    if (n > 1) p.held = true;
    if (p.zero) {
      p.zero = false;
      p.recycles++;
      for (const f of p.frags.values()) f[1] = "recycled";
      this.#event("recycle", page);
    }
  }
  /**
   * Forwarded; a bulk drop means the cache let go of the page.
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   * import { TracingBackend } from "@pagefrag/pagefrag/debug";
   *
   * const t = new TracingBackend(new HeapBackend());
   * const page = t.allocPage(0, false);
   * if (!t.pageRefSubAndTest(page, 1)) throw new Error();
   * t.releasePage(page);
   * ```
   */
  pageRefSubAndTest(page: number, n: number): boolean {
    const zero = this.inner.pageRefSubAndTest(page, n);
    const p = this.#pages.get(page);
    if (p !== undefined) {
      p.refs -= n;
      if (n > 1) p.held = false;
      p.zero = zero;
    }
    return zero;
  }
  /**
   * Forwarded; forgets the page.
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   * import { TracingBackend } from "@pagefrag/pagefrag/debug";
   *
   * const t = new TracingBackend(new HeapBackend());
   * const page = t.allocPage(0, false);
   * if (t.pageRefSubAndTest(page, 1)) t.releasePage(page);
   * if (t.pages().length !== 0) throw new Error();
   * ```
   */
  releasePage(page: number): void {
    this.inner.releasePage(page);
    if (this.#pages.delete(page)) this.#event("release", page);
  }
  /**
   * Forwarded; marks the fragment freed (and the page gone if it was the last).
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   * import { TracingBackend } from "@pagefrag/pagefrag/debug";
   *
   * const t = new TracingBackend(new HeapBackend());
   * const page = t.allocPage(0, false);
   * t.free(page);
   * if (t.stats().pagesInUse !== 0) throw new Error();
   * ```
   */
  free(addr: number): void {
    const p = this.#page(addr);
    this.inner.free(addr);
    if (p === undefined) return;
    const off = addr - p.base;
    const f = p.frags.get(off);
    if (f !== undefined) f[1] = "freed";
    else p.frags.set(off, [0, "freed"]);
    if (--p.refs === 0 && this.#pages.delete(p.base)) {
      this.#event("release", p.base);
    }
  }
  /**
   * Forwarded; a view of a new offset records a live fragment.
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   * import { TracingBackend } from "@pagefrag/pagefrag/debug";
   *
   * const t = new TracingBackend(new HeapBackend());
   * const page = t.allocPage(0, false);
   * t.view(page, 16);
   * if (t.pages()[0].fragments[0].state !== "live") throw new Error();
   * t.free(page);
   * ```
   */
  view(addr: number, size: number): Uint8Array<B> {
    const v = this.inner.view(addr, size);
    const p = this.#page(addr);
    if (p !== undefined) {
      const off = addr - p.base;
      const f = p.frags.get(off);
      if (f === undefined || f[1] !== "live") p.frags.set(off, [size, "live"]);
      else if (size > f[0]) f[0] = size; // commitNoref grew the fragment
    }
    return v;
  }
  /**
   * Forwarded.
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   * import { TracingBackend } from "@pagefrag/pagefrag/debug";
   *
   * const t = new TracingBackend(new HeapBackend());
   * const page = t.allocPage(0, false);
   * if (t.addressOf(t.view(page, 8)) !== page) throw new Error();
   * t.free(page);
   * ```
   */
  addressOf(view: Uint8Array): number {
    return this.inner.addressOf(view);
  }
  /**
   * Forwarded.
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   * import { TracingBackend } from "@pagefrag/pagefrag/debug";
   *
   * const t = new TracingBackend(new HeapBackend());
   * if (t.stats().pagesInUse !== 0) throw new Error();
   * ```
   */
  stats(): BackendStats {
    return this.inner.stats();
  }

  /**
   * The traced pages, as {@linkcode snapshot} reports them.
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   * import { TracingBackend } from "@pagefrag/pagefrag/debug";
   *
   * const t = new TracingBackend(new HeapBackend());
   * t.free(t.allocPage(0, false));
   * if (t.pages().length !== 0) throw new Error();
   * ```
   */
  pages(): PageSnapshot[] {
    const out: PageSnapshot[] = [];
    for (const p of [...this.#pages.values()].sort((a, b) => a.base - b.base)) {
      const fragments = [...p.frags.entries()]
        .sort((a, b) => a[0] - b[0])
        .map(([offset, [size, state]]) => ({ offset, size, state }));
      const live = fragments.some((f) => f.state === "live");
      out.push({
        base: p.base,
        bytes: p.bytes,
        refs: p.refs,
        pfmemalloc: p.pfmemalloc,
        held: p.held,
        pinned: !p.held && live,
        recycles: p.recycles,
        fragments,
      });
    }
    return out;
  }
}

/**
 * Counters of `cache` and its backend and, when the backend is a
 * {@linkcode TracingBackend}, its pages with their fragments and states.
 *
 * @example
 * ```ts
 * import { createPageFragCache, HeapBackend } from "@pagefrag/pagefrag";
 * import { snapshot, TracingBackend } from "@pagefrag/pagefrag/debug";
 *
 * const cache = createPageFragCache({ backend: new TracingBackend(new HeapBackend({ maxOrder: 0 })) });
 * const pinned = cache.alloc(16)!;
 * cache.drain();                      // the cache moves on; one fragment keeps the page
 * const s = snapshot(cache);
 * if (!s.pages![0].pinned || s.fragments.live !== 1 || s.backend.pagesInUse !== 1) throw new Error();
 * cache.free(pinned);
 * if (snapshot(cache).pages!.length !== 0) throw new Error("the page went back");
 * ```
 */
export function snapshot(cache: PageFragCache): Snapshot {
  const b = cache.backend;
  const pages = b instanceof TracingBackend ? b.pages() : undefined;
  const fragments = { live: 0, freed: 0, recycled: 0 };
  for (const p of pages ?? []) {
    for (const f of p.fragments) fragments[f.state]++;
  }
  return { cache: cache.stats(), backend: b.stats(), pages, fragments };
}
