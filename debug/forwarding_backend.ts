/**
 * The base of the debugging backends that wrap another one
 * (`InstrumentedBackend`, `TracingBackend`): the geometry and the lookups
 * they pass through unchanged, written once. Subclasses implement the calls
 * they watch (page allocation, references, frees, views).
 *
 * @module
 */
import type { BackendStats, MemoryBackend } from "../core/backend.ts";

/**
 * A {@linkcode MemoryBackend} over `inner` that forwards the page geometry,
 * `pageOf`, `pageBytes`, `isPfmemalloc` and `releaseSignal`; the rest is the
 * subclass's.
 *
 * @example A backend that counts frees
 * ```ts
 * import { HeapBackend } from "@pagefrag/pagefrag";
 * import { ForwardingBackend } from "@pagefrag/pagefrag/debug";
 * import assert from "node:assert/strict";
 *
 * class Counting extends ForwardingBackend<ArrayBuffer> {
 *   frees = 0;
 *   allocPage(order: number, reserve: boolean) { return this.inner.allocPage(order, reserve); }
 *   pageRefAdd(page: number, n: number) { this.inner.pageRefAdd(page, n); }
 *   pageRefSubAndTest(page: number, n: number) { return this.inner.pageRefSubAndTest(page, n); }
 *   releasePage(page: number) { this.inner.releasePage(page); }
 *   free(addr: number) { this.frees++; this.inner.free(addr); }
 *   view(addr: number, size: number) { return this.inner.view(addr, size); }
 *   addressOf(view: Uint8Array) { return this.inner.addressOf(view); }
 *   stats() { return this.inner.stats(); }
 * }
 * const b = new Counting(new HeapBackend());
 * b.free(b.allocPage(0, false));
 * assert.equal(b.frees, 1, "the free went through the wrapper");
 * assert.equal(b.pageSize, 4096, "the geometry is the inner backend's");
 * ```
 */
export abstract class ForwardingBackend<
  B extends ArrayBufferLike = ArrayBufferLike,
> implements MemoryBackend<B> {
  /** The backend that does the work. */
  readonly inner: MemoryBackend<B>;

  /**
   * Wrap `inner`.
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   * import { TracingBackend } from "@pagefrag/pagefrag/debug";
   *
   * const t = new TracingBackend(new HeapBackend());
   * if (t.inner.pageSize !== 4096) throw new Error();
   * ```
   */
  constructor(inner: MemoryBackend<B>) {
    this.inner = inner;
  }

  /**
   * Bytes in an order-0 page (the inner backend's).
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   * import { TracingBackend } from "@pagefrag/pagefrag/debug";
   *
   * const t = new TracingBackend(new HeapBackend());
   * if (t.pageSize !== t.inner.pageSize) throw new Error();
   * ```
   */
  get pageSize(): number {
    return this.inner.pageSize;
  }

  /**
   * Highest page order (the inner backend's).
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   * import { TracingBackend } from "@pagefrag/pagefrag/debug";
   *
   * const t = new TracingBackend(new HeapBackend());
   * if (t.maxOrder !== t.inner.maxOrder) throw new Error();
   * ```
   */
  get maxOrder(): number {
    return this.inner.maxOrder;
  }

  /**
   * The inner backend's release signal, if any (waiters watch it).
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   * import { TracingBackend } from "@pagefrag/pagefrag/debug";
   *
   * const t = new TracingBackend(new HeapBackend());
   * if (t.releaseSignal !== t.inner.releaseSignal) throw new Error();
   * ```
   */
  get releaseSignal(): Int32Array | undefined {
    return this.inner.releaseSignal;
  }

  /**
   * The inner backend's `pageOf`.
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   * import { InstrumentedBackend } from "@pagefrag/pagefrag/debug";
   *
   * const backend = new InstrumentedBackend(new HeapBackend());
   * const page = backend.allocPage(1, false);
   * if (backend.pageOf(page + 5000) !== page) throw new Error();
   * backend.free(page);
   * ```
   */
  pageOf(addr: number): number {
    return this.inner.pageOf(addr);
  }

  /**
   * The inner backend's `pageBytes`.
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   * import { TracingBackend } from "@pagefrag/pagefrag/debug";
   *
   * const t = new TracingBackend(new HeapBackend());
   * const page = t.allocPage(1, false);
   * if (t.pageBytes(page) !== 8192) throw new Error();
   * t.free(page);
   * ```
   */
  pageBytes(page: number): number {
    return this.inner.pageBytes(page);
  }

  /**
   * The inner backend's `isPfmemalloc`.
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   * import { InstrumentedBackend } from "@pagefrag/pagefrag/debug";
   *
   * const backend = new InstrumentedBackend(new HeapBackend({ maxBytes: 0, reserveBytes: 4096 }));
   * const page = backend.allocPage(0, true);
   * if (!backend.isPfmemalloc(page)) throw new Error();
   * backend.free(page);
   * ```
   */
  isPfmemalloc(addr: number): boolean {
    return this.inner.isPfmemalloc(addr);
  }

  /**
   * Allocate a page (`alloc_pages`), watched.
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   * import { TracingBackend } from "@pagefrag/pagefrag/debug";
   *
   * const b = new TracingBackend(new HeapBackend());
   * const page = b.allocPage(0, false);
   * if (page === 0) throw new Error();
   * b.free(page);
   * ```
   */
  abstract allocPage(order: number, reserve: boolean): number;
  /**
   * Add references to a page, watched.
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   * import { TracingBackend } from "@pagefrag/pagefrag/debug";
   *
   * const b = new TracingBackend(new HeapBackend());
   * const page = b.allocPage(0, false);
   * b.pageRefAdd(page, 1);
   * b.free(page);
   * b.free(page);
   * ```
   */
  abstract pageRefAdd(page: number, n: number): void;
  /**
   * Drop references; true at zero, watched.
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   * import { TracingBackend } from "@pagefrag/pagefrag/debug";
   *
   * const b = new TracingBackend(new HeapBackend());
   * const page = b.allocPage(0, false);
   * if (b.pageRefSubAndTest(page, 1)) b.releasePage(page);
   * ```
   */
  abstract pageRefSubAndTest(page: number, n: number): boolean;
  /**
   * Return a page whose count is zero, watched.
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   * import { TracingBackend } from "@pagefrag/pagefrag/debug";
   *
   * const b = new TracingBackend(new HeapBackend());
   * const page = b.allocPage(0, false);
   * if (b.pageRefSubAndTest(page, 1)) b.releasePage(page);
   * ```
   */
  abstract releasePage(page: number): void;
  /**
   * Free a fragment by address, watched.
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   * import { TracingBackend } from "@pagefrag/pagefrag/debug";
   *
   * const b = new TracingBackend(new HeapBackend());
   * b.free(b.allocPage(0, false));
   * ```
   */
  abstract free(addr: number): void;
  /**
   * A view of a fragment's bytes.
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   * import { TracingBackend } from "@pagefrag/pagefrag/debug";
   *
   * const b = new TracingBackend(new HeapBackend());
   * const page = b.allocPage(0, false);
   * if (b.view(page, 8).length !== 8) throw new Error();
   * b.free(page);
   * ```
   */
  abstract view(addr: number, size: number): Uint8Array<B>;
  /**
   * The address of a view this backend handed out.
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   * import { TracingBackend } from "@pagefrag/pagefrag/debug";
   *
   * const b = new TracingBackend(new HeapBackend());
   * const page = b.allocPage(0, false);
   * if (b.addressOf(b.view(page, 8)) !== page) throw new Error();
   * b.free(page);
   * ```
   */
  abstract addressOf(view: Uint8Array): number;
  /**
   * The page counters.
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   * import { TracingBackend } from "@pagefrag/pagefrag/debug";
   *
   * const b = new TracingBackend(new HeapBackend());
   * if (b.stats().bytesInUse !== 0) throw new Error();
   * ```
   */
  abstract stats(): BackendStats;
}
