/** What the cross-worker model test and its worker agree on. */
import type { SharedBackendDescriptor } from "../../backends/shared.ts";

/** Int32 indices of the control block. */
export const CTL = {
  /** Which backend the current run uses. */
  BACKEND: 0,
  /** The worker frees at random once it holds more than this many fragments. */
  POOL: 1,
  /** Seed of the worker's free order for the current run. */
  SEED: 2,
  /** Sync requests (main) and acknowledgements (worker). */
  SYNC_REQ: 3,
  SYNC_ACK: 4,
  /** 1: finish and exit. */
  STOP: 5,
  /** Fragments freed, fragments whose tag was wrong, frees that threw. */
  FREED: 6,
  CORRUPT: 7,
  ERRORS: 8,
  /** Bumped (and notified) by the main thread on every send, sync and stop: the worker sleeps on it. */
  BELL: 9,
  /** Ring indices: consumer (worker), producer (main). */
  HEAD: 16,
  TAIL: 17,
} as const;

/** Int32 index where the ring's entries ([addr, size, tag] each) start. */
export const RING_BASE = 32;

export function ctlBytes(cap: number): number {
  return (RING_BASE + cap * 3) * 4;
}

export interface CrossData {
  descriptors: SharedBackendDescriptor[];
  ctl: SharedArrayBuffer;
  cap: number;
}

export interface CrossResult {
  freed: number;
  corrupt: number;
  errors: number;
  firstError: string;
}
