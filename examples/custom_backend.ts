/**
 * A third-party backend in about 200 lines, written against the exported
 * `MemoryBackend` interface only: every page is its own `ArrayBuffer`, and
 * pages are found by address in a `Map`. Simple rather than fast (pagefrag's
 * `HeapBackend` finds a page with one typed-array load), but complete: it
 * passes the core contract suite (`examples/custom_backend_test.ts`).
 *
 * ```sh
 * deno run -A examples/custom_backend.ts
 * npx bun examples/custom_backend.ts
 * npx tsx examples/custom_backend.ts
 * ```
 *
 * What a backend must do (the kernel's `struct page` + buddy allocator):
 *
 * - `allocPage(order, reserve)`: a page of `pageSize << order` bytes with a
 *   reference count of 1, at a *naturally aligned* address (a multiple of
 *   its size) that is never 0; within the budget `maxBytes`, or from the
 *   reserve `reserveBytes` when `reserve` is true (the page is then
 *   pfmemalloc); 0 when there is no room. Never throw for lack of memory.
 * - reference counting: `pageRefAdd`, `pageRefSubAndTest`, `releasePage`,
 *   and `free(addr)` (drop one reference; the last one returns the page).
 * - `pageOf(addr)` for any address inside a live page; `view(addr, size)`
 *   and its inverse `addressOf(view)`; tag every buffer you make views of
 *   with `claimBuffer(buffer, this)` so `pageFragFree(view)` finds you.
 * - errors with stable codes: an address you never handed out is
 *   `EFOREIGN`, one whose page went back is `EDOUBLEFREE`, a view past the
 *   end of its page is `EINVAL_SIZE`.
 * - `stats()`.
 *
 * In your own code import from `"pagefrag"` (npm) or `"@pagefrag/pagefrag"`
 * (JSR); this example imports the sources of this repository.
 *
 * @module
 */
import "reflect-metadata";
import process from "node:process";
import { pathToFileURL } from "node:url";
import { container } from "tsyringe";
import {
  type BackendOptions,
  type BackendStats,
  createPageFragCache,
  type MemoryBackend,
  type PageFragCache,
  PageFragError,
  pageFragFree,
} from "../mod.ts";
import { claimBuffer } from "../core/mod.ts";
import { registerPageFrag, TOKENS } from "../di/mod.ts";
import { resolveBackendOptions } from "../backends/options.ts";

interface Page {
  base: number;
  bytes: number;
  order: number;
  refs: number;
  pfmemalloc: boolean;
  buffer: ArrayBuffer;
}

/** Addresses stay below 2^30: small integers on every engine. */
const ADDRESS_LIMIT = 2 ** 30;
/** A page held by this many references or fewer, and by no cache, is "pinned". */
const PINNED_REFS = 2;

/** Pages as separate `ArrayBuffer`s, found by address in a `Map`. */
export class MapBackend implements MemoryBackend {
  readonly pageSize: number;
  readonly maxOrder: number;
  readonly maxBytes: number;
  readonly reserveBytes: number;

  /** Live pages by base address. */
  readonly #live = new Map<number, Page>();
  /** Base address of every buffer this backend made (for `addressOf`). */
  readonly #bases = new WeakMap<ArrayBufferLike, number>();
  /** Base addresses of released pages, per order, to reuse. */
  readonly #released: number[][] = [];
  /** The next address never handed out. */
  #next: number;
  #bytesInUse = 0;
  #reserveInUse = 0;
  #pagesAllocated = 0;
  #pagesFreed = 0;
  #pageFailures = 0;
  #peak = 0;

  constructor(options: BackendOptions = {}) {
    // Defaults and validation (EINVAL_OPTION) exactly as the built-ins do.
    const o = resolveBackendOptions(options);
    this.pageSize = o.pageSize;
    this.maxOrder = o.maxOrder;
    this.maxBytes = o.maxBytes;
    this.reserveBytes = o.reserveBytes;
    this.#next = o.pageSize; // never 0
    for (let k = 0; k <= o.maxOrder; k++) this.#released.push([]);
  }

  allocPage(order: number, reserve: boolean): number {
    if (!Number.isInteger(order) || order < 0 || order > this.maxOrder) {
      throw new PageFragError(
        "EINVAL_OPTION",
        `allocPage(): order must be an integer from 0 to ${this.maxOrder}, got ${order}`,
      );
    }
    const bytes = this.pageSize * 2 ** order;
    // Budget first; past it, only a reserve request may use the reserve.
    let pfmemalloc = false;
    if (this.#bytesInUse - this.#reserveInUse + bytes > this.maxBytes) {
      if (!reserve || this.#reserveInUse + bytes > this.reserveBytes) {
        this.#pageFailures++;
        return 0;
      }
      pfmemalloc = true;
    }
    let base = this.#released[order].pop();
    if (base === undefined) {
      base = Math.ceil(this.#next / bytes) * bytes; // naturally aligned
      if (base + bytes > ADDRESS_LIMIT) {
        this.#pageFailures++;
        return 0;
      }
      this.#next = base + bytes;
    }
    const buffer = new ArrayBuffer(bytes);
    claimBuffer(buffer, this); // pageFragFree(view) finds this backend
    this.#bases.set(buffer, base);
    this.#live.set(base, { base, bytes, order, refs: 1, pfmemalloc, buffer });
    this.#bytesInUse += bytes;
    if (pfmemalloc) this.#reserveInUse += bytes;
    this.#pagesAllocated++;
    this.#peak = Math.max(this.#peak, this.#bytesInUse);
    return base;
  }

  /** The live page holding `addr`, or the right error. */
  #find(addr: number, what: string): Page {
    if (!Number.isInteger(addr) || addr <= 0 || addr >= this.#next) {
      throw new PageFragError(
        "EFOREIGN",
        `${what}: address ${String(addr)} was not handed out by this backend`,
      );
    }
    for (let order = 0; order <= this.maxOrder; order++) {
      const bytes = this.pageSize * 2 ** order;
      const page = this.#live.get(addr - (addr % bytes));
      if (page !== undefined && page.order === order) return page;
    }
    throw new PageFragError(
      "EDOUBLEFREE",
      `${what}: the page of address ${addr} is no longer live (freed twice?)`,
    );
  }

  #release(page: Page): void {
    this.#live.delete(page.base);
    this.#released[page.order].push(page.base);
    this.#bytesInUse -= page.bytes;
    if (page.pfmemalloc) this.#reserveInUse -= page.bytes;
    this.#pagesFreed++;
  }

  pageOf(addr: number): number {
    return this.#find(addr, "pageOf()").base;
  }

  pageBytes(page: number): number {
    return this.#find(page, "pageBytes()").bytes;
  }

  isPfmemalloc(addr: number): boolean {
    return this.#find(addr, "isPfmemalloc()").pfmemalloc;
  }

  pageRefAdd(page: number, n: number): void {
    this.#find(page, "pageRefAdd()").refs += n;
  }

  pageRefSubAndTest(page: number, n: number): boolean {
    const p = this.#find(page, "pageRefSubAndTest()");
    if (p.refs < n) {
      throw new PageFragError(
        "EDOUBLEFREE",
        `pageRefSubAndTest(): page ${page} has fewer than ${n} references`,
      );
    }
    p.refs -= n;
    return p.refs === 0;
  }

  releasePage(page: number): void {
    const p = this.#find(page, "releasePage()");
    if (p.refs !== 0) {
      throw new PageFragError(
        "ESTATE",
        `releasePage(): page ${page} still has ${p.refs} references`,
      );
    }
    this.#release(p);
  }

  free(addr: number): void {
    const p = this.#find(addr, "free()");
    if (--p.refs === 0) this.#release(p);
  }

  view(addr: number, size: number): Uint8Array {
    const p = this.#find(addr, "view()");
    if (
      !(Number.isInteger(size) && size >= 0 && addr + size <= p.base + p.bytes)
    ) {
      throw new PageFragError(
        "EINVAL_SIZE",
        `view(): ${String(size)} bytes at ${addr} do not fit in the page`,
      );
    }
    return new Uint8Array(p.buffer, addr - p.base, size);
  }

  addressOf(view: Uint8Array): number {
    const base = view instanceof Uint8Array
      ? this.#bases.get(view.buffer)
      : undefined;
    if (base === undefined) {
      throw new PageFragError(
        "EFOREIGN",
        "addressOf(): the view was not handed out by this backend",
      );
    }
    if (this.#live.get(base)?.buffer !== view.buffer) {
      throw new PageFragError(
        "EDOUBLEFREE",
        "addressOf(): the view's page is no longer live (freed twice?)",
      );
    }
    return base + view.byteOffset;
  }

  stats(): BackendStats {
    let pinnedPages = 0;
    let pinnedBytes = 0;
    for (const p of this.#live.values()) {
      if (p.refs <= PINNED_REFS) {
        pinnedPages++;
        pinnedBytes += p.bytes;
      }
    }
    const stats = {
      bytesTotal: this.maxBytes + this.reserveBytes,
      bytesInUse: this.#bytesInUse,
      pagesInUse: this.#live.size,
      reserveInUse: this.#reserveInUse,
      pagesAllocated: this.#pagesAllocated,
      pagesFreed: this.#pagesFreed,
      pageFailures: this.#pageFailures,
      peakBytesInUse: this.#peak,
      pinnedPages,
      pinnedBytes,
    };
    return stats;
  }
}

// --------------------------------------------------------------- the demo

function isMain(): boolean {
  const meta = import.meta as ImportMeta & { main?: boolean };
  if (typeof meta.main === "boolean") return meta.main; // Deno, Bun
  const arg = process.argv[1]; // Node
  return arg !== undefined && pathToFileURL(arg).href === import.meta.url;
}

function main(): void {
  console.log("== a third-party backend ==\n");
  const backend = new MapBackend({ maxBytes: 1 << 20 });

  // Hand it to a cache as an option...
  const cache = createPageFragCache({ backend });
  const frag = cache.alloc(256)!;
  frag.set([1, 2, 3]);
  const addr = cache.allocHandle(1500)!;
  cache.backend.view(addr, 1500).fill(0xab);
  pageFragFree(frag); // found through claimBuffer
  cache.free(addr);

  // ...or register it in an application container: every cache resolved
  // there shares it.
  const app = registerPageFrag(container.createChildContainer());
  app.register(TOKENS.Backend, { useValue: backend });
  const rx = app.resolve<PageFragCache>(TOKENS.Cache);
  const tx = app.resolve<PageFragCache>(TOKENS.Cache);
  for (let i = 0; i < 10_000; i++) {
    rx.free(rx.allocHandle(200)!);
    tx.free(tx.alloc(1000)!);
  }
  for (const c of [cache, rx, tx]) c.drain();

  console.log("three caches over one MapBackend, 20,002 fragments:");
  console.log("rx.stats():", rx.stats());
  console.log("backend.stats():", backend.stats());
  if (backend.stats().bytesInUse !== 0) throw new Error("leak");
}

if (isMain()) main();
