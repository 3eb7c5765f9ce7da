/**
 * A WebAssembly module computing the Internet checksum (RFC 1071) over bytes
 * in an imported memory, assembled at run time by {@linkcode ./emit.ts}: no
 * toolchain, no `.wasm` file. And the same checksum in plain JavaScript, to
 * check it against.
 *
 * @module
 */
import {
  ExternKind,
  funcBody,
  funcType,
  I32,
  I64,
  limits,
  memarg,
  module,
  name,
  Op,
  Section,
  section,
  sleb,
  vec,
  VOID,
} from "./emit.ts";

/**
 * Limits of the memory the module imports, in 64 KiB wasm pages: the same
 * shape as a `WebAssembly.MemoryDescriptor`. A shared memory must be
 * imported as shared, with a maximum; an import fits a memory whose current
 * size is at least `initial` and whose own maximum is at most `maximum`.
 */
export interface MemoryLimits {
  /** Smallest size the memory may have, in 64 KiB pages. */
  initial: number;
  /** Largest size the memory may grow to, in 64 KiB pages (required when shared). */
  maximum?: number;
  /** Whether the memory is shared between workers. */
  shared?: boolean;
}

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

const {
  block,
  loop,
  end,
  br,
  br_if,
  localGet,
  localSet,
  i32Const,
  i64Const,
  i32LtU,
  i32GeU,
  i32Add,
  i32Sub,
  i32And,
  i32Or,
  i32Xor,
  i32Shl,
  i32ShrU,
  i64Add,
  i64And,
  i64ShrU,
  i64Eqz,
  i64Load8U,
  i64Load16U,
  i64Load32U,
  i32Store8,
  i32WrapI64,
} = Op;

// csum(ptr, len): locals 0 = ptr, 1 = len, 2 = sum (i64), 3 = folded (i32).
//
// It adds the bytes as little-endian words (wasm loads are little-endian),
// 32 bits at a time into a 64-bit sum, then 16, then 8; folds the carries
// back in; and swaps the two bytes at the end. RFC 1071 section 2(B): the
// one's-complement sum is byte-order independent, so the little-endian sum
// byte-swapped is the big-endian sum, and a 32-bit word is congruent to the
// sum of its two 16-bit halves modulo 0xffff.
const PTR = 0, LEN = 1, SUM = 2, S = 3;

/** `sum += load(ptr)`; `ptr += n`; `len -= n`. */
function take(load: number, alignLog2: number, n: number): number[] {
  return [
    localGet,
    SUM,
    localGet,
    PTR,
    load,
    ...memarg(alignLog2),
    i64Add,
    localSet,
    SUM,
    localGet,
    PTR,
    i32Const,
    ...sleb(n),
    i32Add,
    localSet,
    PTR,
    localGet,
    LEN,
    i32Const,
    ...sleb(n),
    i32Sub,
    localSet,
    LEN,
  ];
}

const CSUM_CODE: number[] = [
  // while (len >= 4) take 32 bits
  block,
  VOID,
  loop,
  VOID,
  localGet,
  LEN,
  i32Const,
  ...sleb(4),
  i32LtU,
  br_if,
  1,
  ...take(i64Load32U, 0, 4),
  br,
  0,
  end,
  end,
  // if (len >= 2) take 16 bits
  localGet,
  LEN,
  i32Const,
  ...sleb(2),
  i32GeU,
  Op.if,
  VOID,
  ...take(i64Load16U, 0, 2),
  end,
  // if (len == 1) take the last byte: the low byte of a little-endian word
  // whose high byte is the zero padding
  localGet,
  LEN,
  Op.if,
  VOID,
  ...take(i64Load8U, 0, 1),
  end,
  // while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16)
  block,
  VOID,
  loop,
  VOID,
  localGet,
  SUM,
  i64Const,
  ...sleb(16),
  i64ShrU,
  i64Eqz,
  br_if,
  1,
  localGet,
  SUM,
  i64Const,
  ...sleb(0xffff),
  i64And,
  localGet,
  SUM,
  i64Const,
  ...sleb(16),
  i64ShrU,
  i64Add,
  localSet,
  SUM,
  br,
  0,
  end,
  end,
  // s = sum; return (((s & 0xff) << 8) | (s >> 8)) ^ 0xffff
  localGet,
  SUM,
  i32WrapI64,
  localSet,
  S,
  localGet,
  S,
  i32Const,
  ...sleb(0xff),
  i32And,
  i32Const,
  ...sleb(8),
  i32Shl,
  localGet,
  S,
  i32Const,
  ...sleb(8),
  i32ShrU,
  i32Or,
  i32Const,
  ...sleb(0xffff),
  i32Xor,
];

// mark(ptr, value): memory[ptr] = value
const MARK_CODE: number[] = [
  localGet,
  0,
  localGet,
  1,
  i32Store8,
  ...memarg(0),
];

/**
 * Assemble the checksum module: it imports `env.memory` with the given
 * limits (pass the descriptor the memory was made with; a shared memory is
 * imported with the threads proposal's shared flag and needs `maximum`) and
 * exports `csum(ptr: i32, len: i32) -> i32` (the RFC 1071 Internet checksum
 * of `len` bytes at `ptr`, computed in place) and `mark(ptr: i32, value: i32)`
 * (stores one byte at `ptr`).
 *
 * @example
 * ```ts
 * import { buildChecksumModule, internetChecksum } from "./checksum_module.ts";
 *
 * const memory = new WebAssembly.Memory({ initial: 1, maximum: 4, shared: true });
 * const bytes = buildChecksumModule({ initial: 1, maximum: 4, shared: true });
 * const { instance } = await WebAssembly.instantiate(bytes, { env: { memory } });
 * const csum = instance.exports.csum as (ptr: number, len: number) => number;
 * const data = new Uint8Array(memory.buffer, 100, 5);
 * data.set([0x45, 0x00, 0x00, 0x1c, 0x01]);
 * if (csum(100, 5) !== internetChecksum(data)) throw new Error("mismatch");
 * ```
 */
export function buildChecksumModule(
  memoryLimits: MemoryLimits,
): Uint8Array<ArrayBuffer> {
  const { initial, maximum, shared = false } = memoryLimits;
  const csumType = funcType([I32, I32], [I32]);
  const markType = funcType([I32, I32], []);
  return module([
    section(Section.Type, vec([csumType, markType])),
    section(
      Section.Import,
      vec([[
        ...name("env"),
        ...name("memory"),
        ExternKind.Memory,
        ...limits(initial, maximum, shared),
      ]]),
    ),
    section(Section.Function, vec([[0], [1]])),
    section(
      Section.Export,
      vec([
        [...name("csum"), ExternKind.Func, 0],
        [...name("mark"), ExternKind.Func, 1],
      ]),
    ),
    section(
      Section.Code,
      vec([
        funcBody([[1, I64], [1, I32]], CSUM_CODE),
        funcBody([], MARK_CODE),
      ]),
    ),
  ]);
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
