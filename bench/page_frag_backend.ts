/**
 * The shared backend the page_frag bench runs on, in one place: make it,
 * attach to it in a worker, and get one `Uint8Array` over its whole arena (so
 * the hot loops make no view per message).
 *
 * @module
 */
import {
  SharedBackend,
  type SharedBackendDescriptor,
} from "../backends/shared.ts";

export type { SharedBackendDescriptor as Descriptor };

/**
 * A shared backend for the bench: 4 KiB order-0 pages up to order 3 (the
 * kernel's `PAGE_FRAG_CACHE_MAX_SIZE` of 32 KiB), a 64 MiB budget (the ring
 * never holds more than 512 fragments, so a leak shows up as a failure).
 */
export function makeBackend(): SharedBackend {
  return new SharedBackend({ pageSize: 4096, maxOrder: 3, maxBytes: 64 << 20 });
}

/** Attach to the backend that `share()` described, in this worker. */
export function attachBackend(d: SharedBackendDescriptor): SharedBackend {
  return SharedBackend.attach(d);
}

/**
 * The whole arena as bytes, index = address. Over a growable
 * `SharedArrayBuffer` the view tracks the arena's length as it grows.
 */
export function arenaBytes(backend: SharedBackend): Uint8Array {
  return new Uint8Array(backend.arena);
}
