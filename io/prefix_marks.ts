/**
 * The length prefixes a `FragWriter` record reserved and fills in later:
 * where each one sits (its page's DataView and offset), its width and
 * byte order, and how long the record was right after it. Kept in arrays
 * reused from record to record, so reserving allocates nothing.
 *
 * @module
 */
import { PageFragError } from "../core/errors.ts";
import { show } from "../core/format.ts";

/**
 * The reserved prefixes of one open record.
 *
 * @example
 * ```ts
 * import { PrefixMarks } from "./prefix_marks.ts";
 * import assert from "node:assert/strict";
 *
 * const dv = new DataView(new ArrayBuffer(8));
 * const marks = new PrefixMarks();
 * const m = marks.add(dv, 2, 2, false, 4);
 * marks.patch(m, 0x0102);
 * assert.equal(dv.getUint16(2), 0x0102);
 * assert.equal(marks.after(m), 4);
 * ```
 */
export class PrefixMarks {
  /** Marks in use. */
  count = 0;
  readonly #dv: DataView[] = [];
  readonly #off: number[] = [];
  readonly #width: number[] = [];
  readonly #le: boolean[] = [];
  readonly #after: number[] = [];

  /** Record a prefix of `width` bytes at `dv[off]`; `after` is the record's length just past it. */
  add(
    dv: DataView,
    off: number,
    width: number,
    le: boolean,
    after: number,
  ): number {
    const m = this.count++;
    this.#dv[m] = dv;
    this.#off[m] = off;
    this.#width[m] = width;
    this.#le[m] = le;
    this.#after[m] = after;
    return m;
  }

  /** The record's length right after prefix `mark`. */
  after(mark: number): number {
    return this.#after[mark] ?? 0;
  }

  /** Write `value` into prefix `mark`: `ESTATE` for a bad mark, `EINVAL_SIZE` when it does not fit. */
  patch(mark: number, value: number): void {
    if (!(mark >= 0 && mark < this.count) || (mark | 0) !== mark) {
      throw new PageFragError(
        "ESTATE",
        `patch(): ${show(mark)} is not a mark of the open record`,
      );
    }
    const width = this.#width[mark];
    const max = width === 4 ? 0xffffffff : (1 << (8 * width)) - 1;
    if (!(value >= 0 && value <= max) || Math.floor(value) !== value) {
      throw new PageFragError(
        "EINVAL_SIZE",
        `patch(): ${show(value)} does not fit a ${width}-byte prefix`,
      );
    }
    const dv = this.#dv[mark], off = this.#off[mark];
    if (width === 1) dv.setUint8(off, value);
    else if (width === 2) dv.setUint16(off, value, this.#le[mark]);
    else dv.setUint32(off, value, this.#le[mark]);
  }
}
