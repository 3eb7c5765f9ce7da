/**
 * UTF-8 encoding by hand, for short strings: `TextEncoder.encodeInto`
 * returns a fresh result object per call, which is the garbage a hot
 * encoder must not make.
 *
 * @module
 */

/**
 * Encode `s` as UTF-8 into `b` from the cursor `at` = [next UTF-16 unit,
 * next byte], stopping before a character that might not fit before `end`
 * (fewer than 4 bytes left) or at the end of the string; `at` is advanced.
 * Lone surrogates become U+FFFD, as `TextEncoder` does.
 *
 * @example
 * ```ts
 * import { utf8Into } from "./utf8.ts";
 * import assert from "node:assert/strict";
 *
 * const b = new Uint8Array(16);
 * const at = Int32Array.of(0, 0);
 * utf8Into(b, b.length, "a€", at);
 * assert.deepEqual([...b.subarray(0, at[1])], [0x61, 0xe2, 0x82, 0xac]);
 * ```
 */
export function utf8Into(
  b: Uint8Array,
  end: number,
  s: string,
  at: Int32Array,
): void {
  const len = s.length;
  let i = at[0], pos = at[1];
  for (; i < len && end - pos >= 4; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      b[pos++] = c;
      continue;
    }
    if (c < 0x800) {
      b[pos++] = 0xc0 | (c >> 6);
      b[pos++] = 0x80 | (c & 63);
      continue;
    }
    if (c >= 0xd800 && c < 0xe000) {
      const d = i + 1 < len ? s.charCodeAt(i + 1) : 0;
      if (c < 0xdc00 && d >= 0xdc00 && d < 0xe000) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
        b[pos++] = 0xf0 | (c >> 18);
        b[pos++] = 0x80 | ((c >> 12) & 63);
        b[pos++] = 0x80 | ((c >> 6) & 63);
        b[pos++] = 0x80 | (c & 63);
        continue;
      }
      c = 0xfffd;
    }
    b[pos++] = 0xe0 | (c >> 12);
    b[pos++] = 0x80 | ((c >> 6) & 63);
    b[pos++] = 0x80 | (c & 63);
  }
  at[0] = i;
  at[1] = pos;
}
