/**
 * Bounded sleeping on a shared word, for the async waits of `pagefrag/io`
 * (the ring's async push and pop, waiting for memory): option checks, the
 * `EABORTED`/`ETIMEDOUT` errors, and one sleep slice that ends on a change
 * of the word (`Atomics.waitAsync`), on abort or after a timeout.
 *
 * Internal to `io/`: not exported from the entry point.
 *
 * @module
 */
import { PageFragError } from "../core/errors.ts";
import { show } from "../core/format.ts";
import type { AbortSignalOf } from "./web_types.ts";

/**
 * `signal` and `timeout` of an async wait of `pagefrag/io`: the ring's
 * `pushAsync`/`popAsync` and the waits for memory (`allocAsync`, ...).
 *
 * @example
 * ```ts
 * import { FragRing, type WaitOptions } from "@pagefrag/pagefrag/io";
 * import assert from "node:assert/strict";
 *
 * const opts: WaitOptions = { timeout: 1 };
 * await assert.rejects(new FragRing(2).popAsync(opts), { code: "ETIMEDOUT" }, "nothing was pushed");
 * ```
 */
export interface WaitOptions {
  /** Give up with `EABORTED` when this signal aborts. */
  signal?: AbortSignalOf;
  /** Give up with `ETIMEDOUT` after this many ms (default: wait as long as it takes). */
  timeout?: number;
}

/**
 * Whether this runtime has `Atomics.waitAsync` (Deno, Bun and Node >= 16
 * do). Asked on each wait, not once at load, so a test can take it away.
 */
export function hasWaitAsync(): boolean {
  return typeof (Atomics as { waitAsync?: unknown }).waitAsync === "function";
}

/**
 * Sleep until `i32[index]` is no longer `value`, `ms` passed or `signal`
 * aborted (then resolve: the caller re-checks). With `Atomics.waitAsync`
 * the whole slice is one futex wait; without it, one timer of `pollMs`.
 */
export function sleepOn(
  i32: Int32Array,
  index: number,
  value: number,
  ms: number,
  pollMs: number,
  signal: AbortSignalOf | undefined,
  useWait: boolean = hasWaitAsync(),
): Promise<void> {
  return new Promise<void>((resolve) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", finish);
      resolve();
    };
    signal?.addEventListener("abort", finish);
    if (!useWait) {
      timer = setTimeout(finish, pollMs);
      return;
    }
    // The timer bounds the slice and keeps the event loop alive.
    timer = setTimeout(finish, ms + 5);
    const r = Atomics.waitAsync(i32, index, value, ms);
    if (r.async) void r.value.then(finish);
    else finish();
  });
}

/** A deadline from the options (validated), after checking the signal. */
export function startWait(opts: WaitOptions | undefined): number {
  if (opts === undefined) return Infinity;
  if (opts === null || typeof opts !== "object") {
    throw new PageFragError(
      "EINVAL_OPTION",
      `wait options must be an object, got ${show(opts)}`,
    );
  }
  const signal = opts.signal;
  if (
    signal !== undefined &&
    (signal === null || typeof signal.aborted !== "boolean" ||
      typeof signal.addEventListener !== "function")
  ) {
    throw new PageFragError(
      "EINVAL_OPTION",
      `signal must be an AbortSignal, got ${show(signal)}`,
    );
  }
  if (signal?.aborted) throw aborted(signal);
  return opts.timeout === undefined
    ? Infinity
    : performance.now() + checkTimeout(opts.timeout);
}

export function checkTimeout(ms: unknown): number {
  if (typeof ms !== "number" || !(ms >= 0)) {
    throw new PageFragError(
      "EINVAL_OPTION",
      `timeout must be a number of ms >= 0, got ${show(ms)}`,
    );
  }
  return ms;
}

export function aborted(signal: AbortSignalOf): PageFragError {
  const reason = signal.reason;
  return new PageFragError(
    "EABORTED",
    `the wait was aborted${
      reason instanceof Error ? `: ${reason.message}` : ""
    }`,
  );
}

export function timedOut(ms: number | undefined): PageFragError {
  return new PageFragError("ETIMEDOUT", `nothing happened within ${ms} ms`);
}
