/**
 * Framing: where one message ends in a byte stream. A framing is a small
 * scanner the receiver (`FrameReceiver`) runs over bytes already in page
 * space; it never copies and never allocates.
 *
 * - {@linkcode lengthPrefixed}: a u8/u16/u32 length, big or little endian,
 *   before each payload, with a maximum payload size.
 * - {@linkcode delimited}: payloads ended by a delimiter such as `"\n"` or
 *   `"\r\n"`.
 * - {@linkcode rawChunks}: every read is a fragment of its own.
 *
 * @module
 */
import { PageFragError } from "../core/errors.ts";
import { show } from "../core/format.ts";

/**
 * A framing scanner. `scan` looks at `avail` bytes of `bytes` from `start`
 * (the bytes not yet taken as frames) and answers the byte count of the
 * first complete frame, header and trailer included, or 0 when more bytes
 * are needed. After a 0, `need` is the frame's full size if the scanner
 * already knows it (a length prefix was read), else 0.
 *
 * A scanner keeps the state of the frame it is looking at (e.g. how far a
 * delimiter search got); `reset` forgets it. One scanner serves one stream.
 *
 * @example
 * ```ts
 * import { lengthPrefixed } from "@pagefrag/pagefrag/io";
 * import assert from "node:assert/strict";
 *
 * const f = lengthPrefixed({ width: 2 });
 * assert.equal(f.scan(Uint8Array.of(0, 3, 1, 2, 3), 0, 5), 5, "2-byte header + 3 payload bytes");
 * assert.equal(f.head, 2, "the payload starts after the header");
 * ```
 */
export interface Framing {
  /** `"length"`, `"delimiter"` or `"raw"`. */
  readonly kind: "length" | "delimiter" | "raw";
  /** Header bytes before the payload of the last frame `scan` found. */
  readonly head: number;
  /** Trailer bytes after the payload (the delimiter) of the last frame found. */
  readonly tail: number;
  /** Full size of the frame being scanned when known, else 0. */
  readonly need: number;
  /** Largest frame, header and trailer included. */
  readonly maxTotal: number;
  /**
   * True when that largest frame was asked for (`maxFrame` given): a
   * receiver refuses a cache whose pages cannot hold it, rather than fail
   * on the first big frame.
   */
  readonly strictMax: boolean;
  /** Bytes of the first complete frame at `bytes[start]`, or 0 for "need more". */
  scan(bytes: Uint8Array, start: number, avail: number): number;
  /**
   * The stream ended with `avail` bytes not yet a frame: the size of a last
   * frame made of them (a delimited line without its delimiter), or -1 when
   * they cannot be one (a cut-off length-prefixed frame).
   */
  flush(avail: number): number;
  /** Forget the frame being scanned. */
  reset(): void;
}

/**
 * Options of {@linkcode lengthPrefixed}.
 *
 * @example
 * ```ts
 * import { lengthPrefixed, type LengthPrefixOptions } from "@pagefrag/pagefrag/io";
 * import assert from "node:assert/strict";
 *
 * const o: LengthPrefixOptions = { width: 4, littleEndian: true, maxFrame: 4096 };
 * assert.equal(lengthPrefixed(o).maxTotal, 4100, "header + largest payload");
 * ```
 */
export interface LengthPrefixOptions {
  /** Bytes of the length prefix: 1, 2 or 4. Default 4. */
  width?: 1 | 2 | 4;
  /** Little-endian prefix. Default false (network order). */
  littleEndian?: boolean;
  /**
   * Largest payload accepted; a larger length is `EINVAL_SIZE` (the peer
   * sent garbage or too much). Default: the largest the width can say, cut
   * to what fits a page when the receiver is made.
   */
  maxFrame?: number;
}

class LengthPrefix implements Framing {
  readonly kind = "length" as const;
  readonly head: number;
  readonly tail = 0;
  need = 0;
  readonly maxTotal: number;
  readonly #width: number;
  readonly #le: boolean;
  readonly #maxFrame: number;
  readonly strictMax: boolean;

  constructor(width: number, le: boolean, maxFrame: number, strict: boolean) {
    this.strictMax = strict;
    this.head = this.#width = width;
    this.#le = le;
    this.#maxFrame = maxFrame;
    this.maxTotal = width + maxFrame;
  }

  scan(b: Uint8Array, i: number, avail: number): number {
    if (avail < this.#width) return (this.need = 0);
    let len: number;
    if (this.#width === 1) len = b[i];
    else if (this.#width === 2) {
      len = this.#le ? b[i] | (b[i + 1] << 8) : (b[i] << 8) | b[i + 1];
    } else if (this.#le) {
      len = (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16)) + b[i + 3] * 0x1000000;
    } else {
      len = b[i] * 0x1000000 + ((b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]);
    }
    if (len > this.#maxFrame) {
      throw new PageFragError(
        "EINVAL_SIZE",
        `length prefix says ${show(len)} bytes; maxFrame is ${this.#maxFrame}`,
      );
    }
    const total = this.#width + len;
    if (avail < total) {
      this.need = total;
      return 0;
    }
    this.need = 0;
    return total;
  }

  flush(): number {
    return -1;
  }

  reset(): void {
    this.need = 0;
  }
}

/**
 * Length-prefixed frames: a `width`-byte unsigned length, then that many
 * payload bytes. A frame's fragment holds the prefix too; its payload
 * starts `width` bytes in.
 *
 * @example
 * ```ts
 * import { lengthPrefixed } from "@pagefrag/pagefrag/io";
 * import assert from "node:assert/strict";
 *
 * const f = lengthPrefixed({ width: 2, littleEndian: true, maxFrame: 100 });
 * assert.equal(f.scan(Uint8Array.of(3, 0, 9), 0, 3), 0, "payload not all here yet");
 * assert.equal(f.need, 5, "but its size is known");
 * assert.throws(() => f.scan(Uint8Array.of(200, 0), 0, 2), { code: "EINVAL_SIZE" });
 * ```
 */
export function lengthPrefixed(opts: LengthPrefixOptions = {}): Framing {
  if (opts === null || typeof opts !== "object") {
    throw new PageFragError(
      "EINVAL_OPTION",
      `lengthPrefixed(): options must be an object, got ${show(opts)}`,
    );
  }
  const width = opts.width ?? 4;
  if (width !== 1 && width !== 2 && width !== 4) {
    throw new PageFragError(
      "EINVAL_OPTION",
      `lengthPrefixed(): width must be 1, 2 or 4, got ${show(width)}`,
    );
  }
  const limit = width === 4 ? 0xffffffff : (1 << (8 * width)) - 1;
  const maxFrame = opts.maxFrame ?? limit;
  if (!Number.isInteger(maxFrame) || maxFrame < 1 || maxFrame > limit) {
    throw new PageFragError(
      "EINVAL_OPTION",
      `lengthPrefixed(): maxFrame must be an integer from 1 to ${limit}, got ${
        show(maxFrame)
      }`,
    );
  }
  return new LengthPrefix(
    width,
    opts.littleEndian === true,
    maxFrame,
    opts.maxFrame !== undefined,
  );
}

class Delimiter implements Framing {
  readonly kind = "delimiter" as const;
  readonly head = 0;
  tail: number;
  readonly need = 0;
  readonly maxTotal: number;
  readonly #delim: Uint8Array;
  readonly #maxFrame: number;
  /** Bytes of the current frame already searched (no delimiter starts there). */
  #searched = 0;
  readonly strictMax: boolean;

  constructor(delim: Uint8Array, maxFrame: number, strict: boolean) {
    this.strictMax = strict;
    this.#delim = delim;
    this.tail = delim.length;
    this.#maxFrame = maxFrame;
    this.maxTotal = maxFrame + delim.length;
  }

  scan(b: Uint8Array, start: number, avail: number): number {
    const d = this.#delim;
    const first = d[0];
    const end = start + avail;
    let i = start + this.#searched;
    for (;;) {
      i = b.indexOf(first, i);
      if (i < 0 || i + d.length > end) break;
      let k = 1;
      while (k < d.length && b[i + k] === d[k]) k++;
      if (k === d.length) {
        this.#searched = 0;
        this.tail = d.length;
        if (i - start > this.#maxFrame) throw this.#tooLong(i - start);
        return i - start + d.length;
      }
      i++;
    }
    // Keep the last delimiter-1 bytes for the next search: a delimiter may
    // straddle two reads.
    this.#searched = Math.max(0, avail - d.length + 1);
    if (this.#searched > this.#maxFrame) throw this.#tooLong(this.#searched);
    return 0;
  }

  #tooLong(n: number): PageFragError {
    return new PageFragError(
      "EINVAL_SIZE",
      `no delimiter within maxFrame (${this.#maxFrame}) bytes; ${
        show(n)
      } bytes seen`,
    );
  }

  flush(avail: number): number {
    this.#searched = 0;
    this.tail = 0;
    return avail;
  }

  reset(): void {
    this.#searched = 0;
  }
}

/**
 * Options of {@linkcode delimited}.
 *
 * @example
 * ```ts
 * import { delimited, type DelimiterOptions } from "@pagefrag/pagefrag/io";
 * import assert from "node:assert/strict";
 *
 * const o: DelimiterOptions = { maxFrame: 1000 };
 * assert.equal(delimited("\r\n", o).maxTotal, 1002);
 * ```
 */
export interface DelimiterOptions {
  /** Longest payload (delimiter excluded); longer is `EINVAL_SIZE`. Default: what fits a page. */
  maxFrame?: number;
}

/**
 * Frames ended by `delimiter` (a string is UTF-8 encoded). A frame's
 * fragment holds the delimiter; the payload does not. At the end of the
 * stream, bytes after the last delimiter are one last frame.
 *
 * @example
 * ```ts
 * import { delimited } from "@pagefrag/pagefrag/io";
 * import assert from "node:assert/strict";
 *
 * const f = delimited("\r\n");
 * const b = new TextEncoder().encode("hi\r\nyo");
 * assert.equal(f.scan(b, 0, b.length), 4, "'hi' and its delimiter");
 * assert.equal(f.scan(b, 4, 2), 0, "'yo' has no delimiter yet");
 * ```
 */
export function delimited(
  delimiter: string | Uint8Array = "\n",
  opts: DelimiterOptions = {},
): Framing {
  const d = typeof delimiter === "string"
    ? new TextEncoder().encode(delimiter)
    : delimiter instanceof Uint8Array
    ? delimiter.slice()
    : undefined;
  if (d === undefined || d.length === 0) {
    throw new PageFragError(
      "EINVAL_OPTION",
      `delimited(): the delimiter must be a non-empty string or Uint8Array, got ${
        show(delimiter)
      }`,
    );
  }
  const maxFrame = opts?.maxFrame ?? 0xffffffff;
  if (!Number.isInteger(maxFrame) || maxFrame < 1) {
    throw new PageFragError(
      "EINVAL_OPTION",
      `delimited(): maxFrame must be a positive integer, got ${show(maxFrame)}`,
    );
  }
  return new Delimiter(d, maxFrame, opts?.maxFrame !== undefined);
}

class Raw implements Framing {
  readonly kind = "raw" as const;
  readonly head = 0;
  readonly tail = 0;
  readonly need = 0;
  readonly maxTotal = 0xffffffff;
  readonly strictMax = false;
  scan(_b: Uint8Array, _start: number, avail: number): number {
    return avail;
  }
  flush(avail: number): number {
    return avail;
  }
  reset(): void {}
}

/**
 * No framing: each read (each chunk) becomes one fragment of the bytes it
 * brought.
 *
 * @example
 * ```ts
 * import { rawChunks } from "@pagefrag/pagefrag/io";
 * import assert from "node:assert/strict";
 *
 * assert.equal(rawChunks().scan(new Uint8Array(10), 0, 7), 7, "all that was read");
 * ```
 */
export function rawChunks(): Framing {
  return new Raw();
}
