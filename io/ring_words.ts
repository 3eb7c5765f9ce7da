/**
 * What the two worker rings (`FragRing`, `MpscFragRing`) share: the layout
 * of their control block, their sleep bounds, and the checks of capacities
 * and descriptors (internal: not exported from an entry point).
 *
 * @module
 */
import { PageFragError } from "../core/errors.ts";
import { show } from "../core/format.ts";

// Int32 indices of the control words, 16 words (64 bytes) apart, so the
// producer's and the consumer's words never share a cache line.
/** Positions pushed (claimed, in the multi-producer ring). */
export const HEAD = 0;
/** Positions popped. */
export const TAIL = 16;
/** 1 while the consumer sleeps. */
export const CONS_WAITING = 32;
/** Producers asleep. */
export const PROD_WAITING = 48;
/** 1 once closed. */
export const CLOSED = 64;
/** Words before the slots: the control block. */
export const HEADER_WORDS = 80;

/** Longest single sleep, in ms; the condition is re-checked after each. */
export const SLEEP_SLICE_MS = 50;
/** Longest poll interval where `Atomics.waitAsync` is missing, in ms. */
export const POLL_MAX_MS = 50;

/** `ESTATE`: `what` on a closed ring. */
export function closedRing(what: string): PageFragError {
  return new PageFragError("ESTATE", `${what}(): the ring was closed`);
}

/** `EINVAL_OPTION` unless `capacity` is a power of two from 2 to `max`. */
export function checkCapacity(
  capacity: unknown,
  max: number,
): asserts capacity is number {
  if (
    typeof capacity !== "number" || !Number.isInteger(capacity) ||
    capacity < 2 || capacity > max || (capacity & (capacity - 1)) !== 0
  ) {
    throw new PageFragError(
      "EINVAL_OPTION",
      `ring capacity must be a power of two from 2 to ${max}, got ${
        show(capacity)
      }`,
    );
  }
}

/**
 * `EINVAL_OPTION` unless `d` is a descriptor of `kind` (from `who.share()`)
 * whose buffer holds its capacity (`bytesFor(capacity)` bytes).
 */
export function checkRingDescriptor(
  d: { kind: string; buffer: unknown; capacity: number },
  kind: string,
  who: string,
  max: number,
  bytesFor: (capacity: number) => number,
): void {
  if (d.kind !== kind || !(d.buffer instanceof SharedArrayBuffer)) {
    throw new PageFragError(
      "EINVAL_OPTION",
      `attach(): want a descriptor from ${who}.share(), got ${show(d)}`,
    );
  }
  checkCapacity(d.capacity, max);
  if (d.buffer.byteLength < bytesFor(d.capacity)) {
    throw new PageFragError(
      "EINVAL_OPTION",
      `attach(): a buffer of ${d.buffer.byteLength} bytes cannot hold ${d.capacity} slots`,
    );
  }
}
