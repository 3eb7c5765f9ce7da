/**
 * A tiny WebAssembly binary emitter: just enough of the binary format
 * (LEB128 integers, names, vectors, sections, limits, the opcodes we use) to
 * assemble small modules at run time, with no external toolchain.
 *
 * The format is the one of the WebAssembly core specification, chapter 5
 * ("Binary Format"), plus the threads proposal's `shared` limits flag.
 *
 * @module
 */

/** Value types (spec 5.3.1). */
export const I32 = 0x7f;
/** 64-bit integer value type. */
export const I64 = 0x7e;

/** Section ids (spec 5.5.2). */
export const Section = {
  Type: 1,
  Import: 2,
  Function: 3,
  Memory: 5,
  Export: 7,
  Code: 10,
} as const;

/** Import and export descriptor kinds (spec 5.5.5, 5.5.10). */
export const ExternKind = { Func: 0x00, Table: 0x01, Memory: 0x02 } as const;

/**
 * The opcodes the modules of this folder use (spec 5.4). Memory
 * instructions take a `memarg` (alignment exponent, offset) right after.
 */
export const Op = {
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  end: 0x0b,
  br: 0x0c,
  br_if: 0x0d,
  return: 0x0f,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i64Load: 0x29,
  i32Load8U: 0x2d,
  i64Load8U: 0x31,
  i64Load16U: 0x33,
  i64Load32U: 0x35,
  i32Store8: 0x3a,
  i32Const: 0x41,
  i64Const: 0x42,
  i32Eqz: 0x45,
  i32LtU: 0x49,
  i32GeU: 0x4f,
  i64Eqz: 0x50,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32And: 0x71,
  i32Or: 0x72,
  i32Xor: 0x73,
  i32Shl: 0x74,
  i32ShrU: 0x76,
  i64Add: 0x7c,
  i64And: 0x83,
  i64ShrU: 0x88,
  i32WrapI64: 0xa7,
  i64ExtendI32U: 0xad,
} as const;

/** The empty block type (`[] -> []`). */
export const VOID = 0x40;

/** Unsigned LEB128 of a non-negative integer below 2^32. */
export function u32(n: number): number[] {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff_ffff) {
    throw new RangeError(`u32: ${n} is not an unsigned 32-bit integer`);
  }
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 of an integer (BigInt, so 64-bit constants fit too). */
export function sleb(value: number | bigint): number[] {
  let n = BigInt(value);
  const out: number[] = [];
  for (;;) {
    const byte = Number(n & 0x7fn);
    n >>= 7n; // arithmetic shift on BigInt
    const signBit = (byte & 0x40) !== 0;
    if ((n === 0n && !signBit) || (n === -1n && signBit)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

/** A name: its UTF-8 byte length, then the bytes. */
export function name(s: string): number[] {
  const bytes = new TextEncoder().encode(s);
  return [...u32(bytes.length), ...bytes];
}

/** A vector: the element count, then the elements' bytes. */
export function vec(items: number[][]): number[] {
  return [...u32(items.length), ...items.flat()];
}

/** A section: its id, its byte length, then its content. */
export function section(id: number, content: number[]): number[] {
  return [id, ...u32(content.length), ...content];
}

/** A function type `params -> results`. */
export function funcType(params: number[], results: number[]): number[] {
  return [
    0x60,
    ...u32(params.length),
    ...params,
    ...u32(results.length),
    ...results,
  ];
}

/**
 * Limits of a memory, in 64 KiB pages (spec 5.3.7): flag 0x00 (min only),
 * 0x01 (min and max) or, from the threads proposal, 0x03 (shared: a maximum
 * is then required).
 */
export function limits(
  initial: number,
  maximum?: number,
  shared = false,
): number[] {
  if (shared) {
    if (maximum === undefined) {
      throw new RangeError("a shared memory needs a maximum");
    }
    return [0x03, ...u32(initial), ...u32(maximum)];
  }
  return maximum === undefined
    ? [0x00, ...u32(initial)]
    : [0x01, ...u32(initial), ...u32(maximum)];
}

/** A memory argument: alignment exponent (log2 of bytes) and offset. */
export function memarg(alignLog2: number, offset = 0): number[] {
  return [...u32(alignLog2), ...u32(offset)];
}

/** One function body: local declarations (`[count, type]` runs), then code and `end`. */
export function funcBody(locals: [number, number][], code: number[]): number[] {
  const body = [
    ...u32(locals.length),
    ...locals.flatMap(([count, type]) => [...u32(count), type]),
    ...code,
    Op.end,
  ];
  return [...u32(body.length), ...body];
}

/** The module header: `\0asm` and version 1. */
export const HEADER: readonly number[] = [
  0x00,
  0x61,
  0x73,
  0x6d,
  0x01,
  0x00,
  0x00,
  0x00,
];

/** Assemble a module from its sections (already encoded, in id order). */
export function module(sections: number[][]): Uint8Array<ArrayBuffer> {
  return Uint8Array.from([...HEADER, ...sections.flat()]);
}
