/**
 * The napi flavour (`napi_alloc_cache`): a cache owned by one worker and
 * usable only inside its poll scope, and therefore free of any protection
 * cost. The kernel may call `__napi_alloc_frag` only from the NAPI softirq;
 * here the softirq is `napi.poll(fn)`.
 *
 * @module
 */
import {
  type AllocOptions,
  PageFragCache,
  type PreparedFragment,
} from "../core/cache.ts";
import { PageFragError } from "../core/errors.ts";

function outsidePoll(what: string): PageFragError {
  return new PageFragError(
    "ECONTEXT",
    `${what}: a napi cache may only be used inside napi.poll(fn) (or napiPoll(fn) for the worker's default cache)`,
  );
}

/**
 * A page fragment cache for the receive path of one worker. Allocation
 * (`alloc`, `allocHandle`, `prepare`, `probe`, `commit`, `commitNoref`,
 * `abort`) works only while `poll(fn)` runs; outside it throws `ECONTEXT` and
 * changes nothing. No lock and no atomics: the poll scope is the protection,
 * as the softirq is in the kernel. `free` and `drain` work anywhere.
 *
 * The scope is synchronous: code after an `await` inside `fn` runs outside
 * it, as a softirq never spans a sleep.
 *
 * @example
 * ```ts
 * import { createNapiCache } from "@pagefrag/pagefrag";
 *
 * const napi = createNapiCache();
 * const received = napi.poll(() => {
 *   const frag = napi.alloc(1500)!;   // __napi_alloc_frag
 *   frag[0] = 0x45;
 *   return frag;
 * });
 * napi.free(received);                 // any context
 * ```
 *
 * Its constructor is `PageFragCache`'s: `new NapiFragCache(backend,
 * alignment, refillPolicy, pfmemallocPolicy)`; the DI root calls it.
 */
export class NapiFragCache<B extends ArrayBufferLike = ArrayBufferLike>
  extends PageFragCache<B> {
  #depth = 0;

  /**
   * Run `fn` inside this cache's poll scope and return its result. Polls
   * nest; the scope ends when the outermost `fn` returns or throws.
   *
   * @example
   * ```ts
   * import { createNapiCache } from "@pagefrag/pagefrag";
   *
   * const napi = createNapiCache();
   * const budget = 64;
   * const done = napi.poll(() => {
   *   let n = 0;
   *   for (; n < budget; n++) napi.free(napi.allocHandle(256)!);
   *   return n;
   * });
   * if (done !== 64) throw new Error();
   * ```
   */
  poll<T>(fn: () => T): T {
    this.#depth++;
    try {
      return fn();
    } finally {
      this.#depth--;
    }
  }

  /**
   * Whether the caller is inside `poll` (`in_softirq()` for this cache).
   *
   * @example
   * ```ts
   * import { createNapiCache } from "@pagefrag/pagefrag";
   *
   * const napi = createNapiCache();
   * if (napi.inPoll() || !napi.poll(() => napi.inPoll())) throw new Error();
   * ```
   */
  inPoll(): boolean {
    return this.#depth > 0;
  }

  /**
   * `allocHandle` inside the poll scope; `ECONTEXT` outside (`alloc` and
   * `allocAlign` go through here too).
   *
   * @example
   * ```ts
   * import { createNapiCache } from "@pagefrag/pagefrag";
   *
   * const napi = createNapiCache();
   * napi.poll(() => napi.free(napi.allocHandle(100)!));
   * ```
   */
  override allocHandle(size: number, opts?: AllocOptions): number | null {
    if (this.#depth === 0) throw outsidePoll("allocHandle()");
    return super.allocHandle(size, opts);
  }

  /**
   * `prepare` inside the poll scope; `ECONTEXT` outside.
   *
   * @example
   * ```ts
   * import { createNapiCache } from "@pagefrag/pagefrag";
   *
   * const napi = createNapiCache();
   * napi.poll(() => napi.free(napi.commit(napi.prepare(32)!.size)));
   * ```
   */
  override prepare(
    minSize: number,
    opts?: AllocOptions,
  ): PreparedFragment | null {
    if (this.#depth === 0) throw outsidePoll("prepare()");
    return super.prepare(minSize, opts);
  }

  /**
   * `probe` inside the poll scope; `ECONTEXT` outside.
   *
   * @example
   * ```ts
   * import { createNapiCache } from "@pagefrag/pagefrag";
   *
   * const napi = createNapiCache();
   * if (napi.poll(() => napi.probe(1)) !== null) throw new Error("no page yet");
   * ```
   */
  override probe(
    minSize: number,
    opts?: { align?: number },
  ): PreparedFragment | null {
    if (this.#depth === 0) throw outsidePoll("probe()");
    return super.probe(minSize, opts);
  }

  /**
   * `commit` inside the poll scope; `ECONTEXT` outside.
   *
   * @example
   * ```ts
   * import { createNapiCache } from "@pagefrag/pagefrag";
   *
   * const napi = createNapiCache();
   * const addr = napi.poll(() => {
   *   napi.prepare(16);
   *   return napi.commit(16);
   * });
   * napi.free(addr);
   * ```
   */
  override commit(size: number): number {
    if (this.#depth === 0) throw outsidePoll("commit()");
    return super.commit(size);
  }

  /**
   * `commitNoref` inside the poll scope; `ECONTEXT` outside.
   *
   * @example
   * ```ts
   * import { createNapiCache } from "@pagefrag/pagefrag";
   *
   * const napi = createNapiCache();
   * const addr = napi.poll(() => {
   *   napi.prepare(8);
   *   const a = napi.commit(8);
   *   napi.prepare(8);
   *   napi.commitNoref(8);
   *   return a;
   * });
   * napi.free(addr);
   * ```
   */
  override commitNoref(size: number): void {
    if (this.#depth === 0) throw outsidePoll("commitNoref()");
    super.commitNoref(size);
  }

  /**
   * `abort` inside the poll scope; `ECONTEXT` outside.
   *
   * @example
   * ```ts
   * import { createNapiCache } from "@pagefrag/pagefrag";
   *
   * const napi = createNapiCache();
   * napi.poll(() => napi.abort(napi.allocHandle(10)!));
   * ```
   */
  override abort(fragment: Uint8Array | number): void {
    if (this.#depth === 0) throw outsidePoll("abort()");
    super.abort(fragment);
  }

  /**
   * `using napi = createNapiCache()`: {@linkcode PageFragCache.destroy}. It
   * may run outside `poll` (draining is not an allocation), so a `using`
   * block around the poll loop disposes the cache when the loop ends.
   *
   * @example
   * ```ts
   * import { createNapiCache } from "@pagefrag/pagefrag";
   *
   * const napi = createNapiCache();
   * {
   *   using scoped = napi;
   *   scoped.poll(() => scoped.free(scoped.alloc(64)!));
   * }
   * if (!napi.isDestroyed()) throw new Error("not disposed");
   * ```
   */
  override [Symbol.dispose](): void {
    this.destroy();
  }
}
