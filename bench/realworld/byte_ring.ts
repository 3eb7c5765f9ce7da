/**
 * The "without pagefrag" contender of the pipeline workload: a plain
 * single-producer single-consumer byte ring in a `SharedArrayBuffer`, the
 * kind of ring a user writes by hand. Messages are copied in as
 * (u32 length, bytes) records padded to 4 bytes; a record that would run
 * past the end leaves a wrap marker (length 0xffffffff) and starts again at
 * 0. The consumer reads each record in place and publishes its tail per
 * message; waiting spins a little, then sleeps on a flag-guarded
 * `Atomics.wait`, as FragRing does, so the two differ only in what they carry.
 *
 * @module
 */

const HEAD = 0; // bytes written (free-running, < 2^31 wraps are fine: | 0 math)
const TAIL = 16; // bytes consumed
const CONS_WAITING = 32;
const PROD_WAITING = 48;
const HEADER = 256; // bytes before the data
const WRAP = 0xffffffff;
const SPINS = 2000;
const SLEEP_MS = 20;

/** Bytes of shared memory for a ring of `capacity` data bytes (a power of two). */
export function byteRingBytes(capacity: number): number {
  return HEADER + capacity;
}

/** One side's handle on a byte ring. */
export class ByteRing {
  readonly i32: Int32Array;
  readonly u8: Uint8Array;
  readonly u32: Uint32Array;
  readonly capacity: number;
  #head = 0;
  #tail = 0;

  constructor(buffer: SharedArrayBuffer) {
    this.capacity = buffer.byteLength - HEADER;
    this.i32 = new Int32Array(buffer, 0, HEADER / 4);
    this.u8 = new Uint8Array(buffer, HEADER, this.capacity);
    this.u32 = new Uint32Array(buffer, HEADER, this.capacity / 4);
  }

  /**
   * Reserve room for a record of `length` bytes (waiting while the ring is
   * full) and return the offset of its payload in `u8`; then write the
   * payload and call `publish(length)`.
   */
  reserve(length: number): number {
    const need = 4 + ((length + 3) & ~3);
    const cap = this.capacity;
    let pos = this.#head & (cap - 1);
    if (pos + need > cap) {
      // Not enough contiguous room before the end: mark and wrap.
      this.#waitRoom(cap - pos + need);
      this.u32[pos >>> 2] = WRAP;
      this.#head = (this.#head + (cap - pos)) | 0;
      pos = 0;
    } else this.#waitRoom(need);
    this.u32[pos >>> 2] = length;
    return pos + 4;
  }

  /** Publish the record reserved last. */
  publish(length: number): void {
    this.#head = (this.#head + 4 + ((length + 3) & ~3)) | 0;
    Atomics.store(this.i32, HEAD, this.#head);
    if (Atomics.load(this.i32, CONS_WAITING) !== 0) {
      Atomics.notify(this.i32, HEAD);
    }
  }

  #waitRoom(need: number): void {
    const i32 = this.i32;
    for (let spins = 0;; spins++) {
      const tail = Atomics.load(i32, TAIL);
      if (((this.#head - tail) | 0) + need <= this.capacity) return;
      if (spins < SPINS) continue;
      Atomics.store(i32, PROD_WAITING, 1);
      if (Atomics.load(i32, TAIL) === tail) {
        Atomics.wait(i32, TAIL, tail, SLEEP_MS);
      }
      Atomics.store(i32, PROD_WAITING, 0);
    }
  }

  /**
   * The payload offset of the next record (its length then in
   * `lastLength`), waiting while the ring is empty; -1 after `timeoutMs`.
   */
  next(timeoutMs: number): number {
    const i32 = this.i32;
    const deadline = performance.now() + timeoutMs;
    for (let spins = 0;; spins++) {
      const head = Atomics.load(i32, HEAD);
      if (head !== this.#tail) break;
      if (spins < SPINS) continue;
      if (performance.now() > deadline) return -1;
      Atomics.store(i32, CONS_WAITING, 1);
      if (Atomics.load(i32, HEAD) === head) {
        Atomics.wait(i32, HEAD, head, SLEEP_MS);
      }
      Atomics.store(i32, CONS_WAITING, 0);
    }
    const cap = this.capacity;
    let pos = this.#tail & (cap - 1);
    let length = this.u32[pos >>> 2];
    if (length === WRAP) {
      this.#tail = (this.#tail + (cap - pos)) | 0;
      pos = 0;
      length = this.u32[0];
    }
    this.lastLength = length;
    return pos + 4;
  }

  /** Length of the record `next` returned. */
  lastLength = 0;

  /** Done with the record `next` returned: free its bytes. */
  release(): void {
    this.#tail = (this.#tail + 4 + ((this.lastLength + 3) & ~3)) | 0;
    Atomics.store(this.i32, TAIL, this.#tail);
    if (Atomics.load(this.i32, PROD_WAITING) !== 0) {
      Atomics.notify(this.i32, TAIL);
    }
  }
}
