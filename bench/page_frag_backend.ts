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
 * The arena as bytes, index = address, as long as the arena is now. A view
 * with a fixed length, not one that tracks a growable `SharedArrayBuffer`'s
 * length: engines read and write length-tracking views several times more
 * slowly (V8: 10x for element reads). Call again when an address lies beyond
 * the view's end (the arena grew).
 */
export function arenaBytes(backend: SharedBackend): Uint8Array {
  return new Uint8Array(backend.arena, 0, backend.arena.byteLength);
}
