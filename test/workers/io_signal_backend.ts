/**
 * A test stand-in for a backend with a `releaseSignal` (the optional
 * `MemoryBackend` contract the waits for memory sleep on): it wraps any
 * backend and counts page releases in a shared word, as the built-in
 * backends do once they implement the contract. Workers attached to the
 * same memory wrap their own backend over the same word, so a release in
 * any of them wakes a waiter in any other.
 *
 * A release is seen from the wrapped backend's `pagesFreed` counter around
 * each `free` (one `stats()` call a free: slow, fine for tests).
 */
import type { BackendStats, MemoryBackend } from "../../core/backend.ts";

/** A backend with a release counter in shared memory. */
export class SignalBackend implements MemoryBackend {
  readonly pageSize: number;
  readonly maxOrder: number;
  readonly releaseSignal: Int32Array;
  /** Releases this handle signalled. */
  signalled = 0;

  constructor(
    readonly inner: MemoryBackend,
    word: SharedArrayBuffer = new SharedArrayBuffer(4),
  ) {
    this.pageSize = inner.pageSize;
    this.maxOrder = inner.maxOrder;
    this.releaseSignal = new Int32Array(word, 0, 1);
  }

  #signal(): void {
    this.signalled++;
    Atomics.add(this.releaseSignal, 0, 1);
    Atomics.notify(this.releaseSignal, 0);
  }

  allocPage(order: number, reserve: boolean): number {
    return this.inner.allocPage(order, reserve);
  }
  pageOf(addr: number): number {
    return this.inner.pageOf(addr);
  }
  pageBytes(page: number): number {
    return this.inner.pageBytes(page);
  }
  isPfmemalloc(addr: number): boolean {
    return this.inner.isPfmemalloc(addr);
  }
  pageRefAdd(page: number, n: number): void {
    this.inner.pageRefAdd(page, n);
  }
  pageRefSubAndTest(page: number, n: number): boolean {
    return this.inner.pageRefSubAndTest(page, n);
  }
  releasePage(page: number): void {
    this.inner.releasePage(page);
    this.#signal();
  }
  free(addr: number): void {
    const before = this.inner.stats().pagesFreed;
    this.inner.free(addr);
    if (this.inner.stats().pagesFreed !== before) this.#signal();
  }
  view(addr: number, size: number): Uint8Array {
    return this.inner.view(addr, size);
  }
  addressOf(view: Uint8Array): number {
    return this.inner.addressOf(view);
  }
  stats(): BackendStats {
    return this.inner.stats();
  }
}
