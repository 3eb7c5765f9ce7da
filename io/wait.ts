/**
 * Waiting for memory: the kernel's `sk_stream_wait_memory` (`sendmsg`'s
 * `goto wait_for_space`) for a cache whose backend's budget is spent.
 * {@linkcode allocAsync}, {@linkcode allocHandleAsync} and
 * {@linkcode prepareAsync} try at once and, while the answer is `null`,
 * sleep until a page goes back to the backend, then try again.
 *
 * How they sleep depends on the backend:
 *
 * - With a `releaseSignal` over a `SharedArrayBuffer` (the contract in
 *   `MemoryBackend`): `Atomics.waitAsync` on the release counter, so a
 *   `free` in any worker attached to the same memory wakes the waiter. The
 *   counter is read before each attempt, so a release between the failed
 *   attempt and the sleep is never missed. Each sleep is one slice of at
 *   most {@linkcode WAIT_SLICE_MS}, after which the waiter tries again
 *   anyway (a lost wake-up costs one slice, never a hang).
 * - Without one (a backend that does not implement it, a runtime without
 *   `Atomics.waitAsync`, or a counter in a plain `ArrayBuffer`): bounded
 *   polling, one attempt per timer, the interval doubling from 1 ms to
 *   {@linkcode POLL_MAX_MS}. Never a busy loop: between two attempts the
 *   event loop runs.
 *
 * @module
 */
import type { MemoryBackend } from "../core/backend.ts";
import type { AllocOptions, PreparedFragment } from "../core/cache.ts";
import {
  aborted,
  hasWaitAsync,
  sleepOn,
  startWait,
  timedOut,
  type WaitOptions,
} from "./sleep.ts";

/**
 * Longest single sleep on the release counter, in ms: after it the waiter
 * tries again even without a wake-up.
 *
 * @example
 * ```ts
 * import { WAIT_SLICE_MS } from "@pagefrag/pagefrag/io";
 * import assert from "node:assert/strict";
 *
 * assert.ok(WAIT_SLICE_MS >= 50, "slices are long: a wake-up ends them early");
 * ```
 */
export const WAIT_SLICE_MS = 250;

/**
 * Longest interval of the polling fallback, in ms.
 *
 * @example
 * ```ts
 * import { POLL_MAX_MS } from "@pagefrag/pagefrag/io";
 * import assert from "node:assert/strict";
 *
 * assert.ok(POLL_MAX_MS <= 100, "a poll a little often, never a busy loop");
 * ```
 */
export const POLL_MAX_MS = 50;

/**
 * Options of the waits for memory: the cache's per-call allocation options
 * plus `signal` (reject with `EABORTED`) and `timeout` in ms (reject with
 * `ETIMEDOUT`).
 *
 * @example
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { allocHandleAsync, type WaitForMemoryOptions } from "@pagefrag/pagefrag/io";
 * import assert from "node:assert/strict";
 *
 * const opts: WaitForMemoryOptions = { align: 64, timeout: 100 };
 * const cache = createPageFragCache();
 * const addr = await allocHandleAsync(cache, 100, opts);
 * assert.equal(addr % 64, 0, "aligned as asked");
 * cache.free(addr);
 * ```
 */
export interface WaitForMemoryOptions extends AllocOptions, WaitOptions {}

/**
 * What the waits need of a cache: a `PageFragCache` and both flavours fit.
 * (A napi cache may be used only inside its poll loop, which an `await`
 * leaves: give the waits a plain or netdev cache.)
 *
 * @example
 * ```ts
 * import { createNetdevCache } from "@pagefrag/pagefrag";
 * import type { WaitableCache } from "@pagefrag/pagefrag/io";
 * import assert from "node:assert/strict";
 *
 * const cache: WaitableCache = createNetdevCache();
 * assert.ok(cache.backend.pageSize > 0, "a netdev cache can wait");
 * ```
 */
export interface WaitableCache {
  /** Where the cache's pages come from (its `releaseSignal`, if any, is what the waits sleep on). */
  readonly backend: MemoryBackend;
  /** The cache's `allocHandle`. */
  allocHandle(size: number, opts?: AllocOptions): number | null;
  /** The cache's `prepare`. */
  prepare(minSize: number, opts?: AllocOptions): PreparedFragment | null;
}

/**
 * `allocHandle`, waiting while memory is exhausted: resolves with the
 * fragment's address once a `free` (in any worker, on the shared and wasm
 * backends) made room under the budget. Rejects with `ETIMEDOUT` after
 * `timeout` ms, `EABORTED` when `signal` aborts, and with the cache's own
 * error (e.g. `EINVAL_SIZE`) for bad input, leaving the cache as it was.
 *
 * @example A producer that waits for its consumer to free
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { allocHandleAsync } from "@pagefrag/pagefrag/io";
 * import assert from "node:assert/strict";
 *
 * const cache = createPageFragCache({ maxBytes: 4096, maxOrder: 0 });
 * const first = cache.allocHandle(4096)!;             // the whole budget
 * const next = allocHandleAsync(cache, 100, { timeout: 5000 });
 * setTimeout(() => cache.free(first), 10);             // the consumer is done
 * const addr = await next;
 * assert.ok(addr > 0, "room came back");
 * cache.free(addr);
 * ```
 */
export function allocHandleAsync(
  cache: WaitableCache,
  size: number,
  opts?: WaitForMemoryOptions,
): Promise<number> {
  const allocOpts = allocOptions(opts);
  return waitFor(cache, opts, () => cache.allocHandle(size, allocOpts));
}

/**
 * `alloc`, waiting while memory is exhausted: like
 * {@linkcode allocHandleAsync}, resolving with a `Uint8Array` over the
 * fragment.
 *
 * @example
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { allocAsync } from "@pagefrag/pagefrag/io";
 * import assert from "node:assert/strict";
 *
 * const cache = createPageFragCache({ maxBytes: 4096, maxOrder: 0 });
 * const full = cache.alloc(4096)!;
 * const ctl = new AbortController();
 * const waiting = allocAsync(cache, 10, { signal: ctl.signal });
 * ctl.abort();
 * await assert.rejects(waiting, { code: "EABORTED" }, "the caller gave up");
 * cache.free(full);
 * const frag = await allocAsync(cache, 10);
 * assert.equal(frag.length, 10, "room again: resolves at once");
 * cache.free(frag);
 * ```
 */
export async function allocAsync(
  cache: WaitableCache,
  size: number,
  opts?: WaitForMemoryOptions,
): Promise<Uint8Array> {
  const addr = await allocHandleAsync(cache, size, opts);
  return cache.backend.view(addr, size);
}

/**
 * `prepare`, waiting while memory is exhausted: resolves with the
 * cache's prepared fragment (at least `minSize` bytes), to be committed
 * with `commit` before any other call on the cache. Same errors as
 * {@linkcode allocHandleAsync}.
 *
 * @example
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { prepareAsync } from "@pagefrag/pagefrag/io";
 * import assert from "node:assert/strict";
 *
 * const cache = createPageFragCache({ maxBytes: 4096, maxOrder: 0 });
 * const full = cache.allocHandle(4096)!;
 * await assert.rejects(prepareAsync(cache, 64, { timeout: 20 }), { code: "ETIMEDOUT" }, "nothing was freed");
 * cache.free(full);
 * const p = await prepareAsync(cache, 64);
 * assert.ok(p.size >= 64, "room for at least what was asked");
 * cache.free(cache.commit(64));
 * ```
 */
export function prepareAsync(
  cache: WaitableCache,
  minSize: number,
  opts?: WaitForMemoryOptions,
): Promise<PreparedFragment> {
  const allocOpts = allocOptions(opts);
  return waitFor(cache, opts, () => cache.prepare(minSize, allocOpts));
}

/** A word nobody changes, for a polling sleep. */
const NO_WORD = new Int32Array(1);

/**
 * Only the allocation options, so the cache never sees `signal`/`timeout`
 * (and one object serves every attempt).
 */
function allocOptions(
  opts: WaitForMemoryOptions | undefined,
): AllocOptions | undefined {
  if (opts === undefined || opts === null || typeof opts !== "object") {
    return opts; // undefined, or bad input startWait() reports
  }
  const a: AllocOptions = {};
  if (opts.align !== undefined) a.align = opts.align;
  if (opts.memalloc !== undefined) a.memalloc = opts.memalloc;
  if (opts.zero !== undefined) a.zero = opts.zero;
  return a;
}

/** Try `attempt` until it is not null, sleeping between tries (see the module doc). */
async function waitFor<T>(
  cache: WaitableCache,
  opts: WaitForMemoryOptions | undefined,
  attempt: () => T | null,
): Promise<T> {
  const deadline = startWait(opts);
  const signal = opts?.signal;
  const word = cache.backend.releaseSignal;
  const canSleep = hasWaitAsync() && word instanceof Int32Array &&
    word.buffer instanceof SharedArrayBuffer;
  for (let poll = 1;; poll = Math.min(poll * 2, POLL_MAX_MS)) {
    // Read the counter before the attempt: a release after a failed
    // attempt then changes it, and the sleep below returns at once.
    const seen = canSleep ? Atomics.load(word, 0) : 0;
    const got = attempt();
    if (got !== null) return got;
    const left = deadline - performance.now();
    if (left <= 0) throw timedOut(opts?.timeout);
    if (canSleep) {
      await sleepOn(word, 0, seen, Math.min(left, WAIT_SLICE_MS), 0, signal);
    } else {
      await sleepOn(NO_WORD, 0, 0, 0, Math.min(left, poll), signal, false);
    }
    if (signal?.aborted) throw aborted(signal);
  }
}
