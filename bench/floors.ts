/**
 * The two floors of the allocation benchmarks: the least work any refcounted
 * page allocator can do, with no validation at all.
 *
 * - the **handle floor**: a bump pointer into one 32 KiB page plus a per-page
 *   reference count in an `Int32Array` (bulk bias on the page, a decrement on
 *   free, recycle in place when the page is exhausted);
 * - the **view floor**: the same plus `new Uint8Array(buffer, offset, n)`, the
 *   least a view-returning allocator can do. It frees by address, so the gap
 *   between it and pagefrag's `alloc(n)+free` includes finding a view's
 *   address.
 *
 * Used by `bench/contenders.ts` (the suite).
 *
 * @module
 */
import { do_not_optimize } from "mitata";

/** pagefrag's default largest page: 4096 << 3. */
const FLOOR_PAGE_SHIFT = 15;
const FLOOR_PAGE_BYTES = 1 << FLOOR_PAGE_SHIFT;
/** The bulk reference a page gets on install (PAGE_FRAG_CACHE_MAX_SIZE + 1). */
const FLOOR_BIAS = FLOOR_PAGE_BYTES + 1;

/**
 * The floor: one page at address `FLOOR_PAGE_BYTES` (slot 1), a bump
 * pointer, a private bias, and the page's reference count in an
 * `Int32Array`. No size checks, no liveness checks, no second page.
 */
export class FloorAllocator {
  readonly buffer = new ArrayBuffer(FLOOR_PAGE_BYTES);
  readonly refs = new Int32Array(2);
  readonly page = 1 << FLOOR_PAGE_SHIFT;
  offset = 0;
  bias = FLOOR_BIAS;

  constructor() {
    this.refs[1] = FLOOR_BIAS;
  }

  allocHandle(n: number): number {
    if (this.offset + n > FLOOR_PAGE_BYTES) this.recycle();
    const addr = this.page + this.offset;
    this.offset += n;
    this.bias--;
    return addr;
  }

  free(addr: number): void {
    if (--this.refs[addr >>> FLOOR_PAGE_SHIFT] === 0) {
      throw new Error("floor: page released while the allocator holds it");
    }
  }

  /** Give back the unused bias; every fragment is free, so reuse the page. */
  recycle(): void {
    if ((this.refs[1] -= this.bias) !== 0) {
      throw new Error("floor: a fragment outlived its page");
    }
    this.refs[1] = FLOOR_BIAS;
    this.bias = FLOOR_BIAS;
    this.offset = 0;
  }
}

/**
 * Benchmark bodies for both floors at `n` bytes, each over its own
 * allocator (so neither shares a page or a compiled call site with the
 * other): `batch` alloc + free pairs per call (default 1), each result kept
 * alive with `do_not_optimize`.
 */
export function floorBodies(
  n: number,
  batch = 1,
): { handle: () => void; view: () => void } {
  const handleFloor = new FloorAllocator();
  const viewFloor = new FloorAllocator();
  return {
    handle: () => {
      for (let i = 0; i < batch; i++) {
        const addr = handleFloor.allocHandle(n);
        do_not_optimize(addr);
        handleFloor.free(addr);
      }
    },
    view: () => {
      for (let i = 0; i < batch; i++) {
        const addr = viewFloor.allocHandle(n);
        do_not_optimize(
          new Uint8Array(viewFloor.buffer, addr - viewFloor.page, n),
        );
        viewFloor.free(addr);
      }
    },
  };
}
