/**
 * What the cross-worker tests and their workers agree on: the data each
 * worker gets, what it reports, and for the ring test the shared-memory
 * layout and the data pattern.
 */
import { prng } from "../../testing/prng.ts";

/** What the test hands each ring worker. */
export interface RingData {
  /** The backend's `share()` descriptor. */
  descriptor: { kind: string };
  /** Control block: the barrier and both rings (see `ringBase`). */
  ctl: SharedArrayBuffer;
  /** This worker: 0 or 1. It writes ring `id` and reads ring `1 - id`. */
  id: number;
  /** Fragments each worker allocates and sends. */
  count: number;
  /** Entries per ring, a power of two. */
  cap: number;
  /** Sequence number of one fragment to corrupt on purpose (-1: none). */
  sabotage: number;
}

/** What a ring worker reports. */
export interface RingResult {
  sent: number;
  received: number;
  /** Sequence numbers (of the sender) of fragments whose pattern was wrong (at most 100). */
  corrupt: number[];
  nulls: number;
  ms: number;
}

/** Int32 index of the start barrier. */
export const READY = 0;
/** Offsets inside a ring: consumer index, producer index (own cache lines), entries. */
export const RING_HEAD = 0;
export const RING_TAIL = 16;
export const RING_ENTRIES = 32;

/** Int32 index where ring `r` starts. */
export function ringBase(r: number, cap: number): number {
  return 32 + r * (RING_ENTRIES + cap);
}

/** Bytes of the control block for rings of `cap` entries. */
export function ctlBytes(cap: number): number {
  return ringBase(2, cap) * 4;
}

/** 4 KiB of pseudo-random bytes: fragment at `addr` holds PATTERN[(addr & 2047) + i]. */
export const PATTERN: Uint8Array = (() => {
  const p = new Uint8Array(4096);
  const rand = prng(7);
  for (let i = 0; i < p.length; i++) p[i] = rand.u32() >>> 24;
  return p;
})();

/** Size (1..2048) of the `seq`-th fragment worker `id` sends: both sides can compute it. */
export function sizeOf(id: number, seq: number): number {
  const h = Math.imul(seq ^ Math.imul(id + 1, 0x9e3779b9), 0x85ebca6b);
  return 1 + ((h ^ (h >>> 13)) >>> 21);
}

/** What the test hands each pages worker. */
export interface PagesData {
  descriptor: { kind: string };
  /** Int32 per order-0 slot of the arena: 0 free, else the owning worker's id. Index 0: barrier. */
  owners: SharedArrayBuffer;
  id: number;
  ops: number;
  seed: number;
}

/** What a pages worker reports. */
export interface PagesResult {
  allocs: number;
  failures: number;
  reserveAllocs: number;
  doubleHandouts: number;
  misaligned: number;
  stampErrors: number;
  budgetViolations: number;
}
