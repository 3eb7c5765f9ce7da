/**
 * A WebAssembly module computing the Internet checksum (RFC 1071) over bytes
 * in an imported memory, written as readable WebAssembly text in
 * {@linkcode ./checksum.wat} and compiled at run time with wabt (see
 * {@linkcode ./wat.ts}). And the same checksum in plain JavaScript, to check
 * it against.
 *
 * @module
 */
import { loadWat, type MemoryLimits } from "./wat.ts";

export type { MemoryLimits } from "./wat.ts";

/** The module's exports once instantiated. */
export interface ChecksumExports {
  /**
   * RFC 1071 checksum of `len` bytes at `ptr`: the complement of the
   * one's-complement sum of big-endian 16-bit words, an odd last byte padded
   * with a zero byte. Reads the memory in place.
   */
  csum(ptr: number, len: number): number;
  /** Store the low 8 bits of `value` at `ptr` (a marker written in place). */
  mark(ptr: number, value: number): void;
}

/**
 * Compile the checksum module of `checksum.wat`: it imports `env.memory`
 * with the given limits (pass the descriptor the memory was made with; a
 * shared memory is imported as shared and needs `maximum`) and exports
 * `csum(ptr: i32, len: i32) -> i32` (the RFC 1071 Internet checksum of
 * `len` bytes at `ptr`, computed in place) and `mark(ptr: i32, value: i32)`
 * (stores one byte at `ptr`).
 *
 * @example
 * ```ts
 * import { buildChecksumModule, internetChecksum } from "./checksum_module.ts";
 *
 * const memory = new WebAssembly.Memory({ initial: 1, maximum: 4, shared: true });
 * const bytes = await buildChecksumModule({ initial: 1, maximum: 4, shared: true });
 * const { instance } = await WebAssembly.instantiate(bytes, { env: { memory } });
 * const csum = instance.exports.csum as (ptr: number, len: number) => number;
 * const data = new Uint8Array(memory.buffer, 100, 5);
 * data.set([0x45, 0x00, 0x00, 0x1c, 0x01]);
 * if (csum(100, 5) !== internetChecksum(data)) throw new Error("mismatch");
 * ```
 */
export async function buildChecksumModule(
  memoryLimits: MemoryLimits,
): Promise<Uint8Array<ArrayBuffer>> {
  return await loadWat(new URL("./checksum.wat", import.meta.url), {
    memory: memoryLimits,
  });
}

/**
 * The Internet checksum of RFC 1071 in plain JavaScript: the one's-complement
 * sum of the bytes taken as big-endian 16-bit words (an odd last byte is
 * padded with a zero byte on its right), carries folded back in, then
 * complemented. Returns a 16-bit number. A buffer that carries its own
 * correct checksum sums to 0.
 *
 * @example
 * ```ts
 * import { internetChecksum } from "./checksum_module.ts";
 *
 * // RFC 1071 section 3's example bytes: 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2
 * if (internetChecksum(Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7)) !== 0x220d) {
 *   throw new Error("RFC 1071 example");
 * }
 * ```
 */
export function internetChecksum(bytes: Uint8Array): number {
  let sum = 0;
  const n = bytes.length;
  let i = 0;
  for (; i + 1 < n; i += 2) {
    sum += (bytes[i] << 8) | bytes[i + 1];
    if (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  }
  if (i < n) {
    sum += bytes[i] << 8;
    if (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  }
  return ~sum & 0xffff;
}
