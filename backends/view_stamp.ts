/**
 * Views that remember their buffer and address, so that `addressOf` (every
 * `free` of a view) need not ask the view for `buffer` and `byteOffset`.
 *
 * V8 does not inline the `buffer` getter of a typed array: reading it costs
 * 11 ns on Deno 2.9 (V8 15) and 20 ns on Node 20 (V8 11.3), where
 * `byteOffset` costs another 12 ns; together as much as the rest of an
 * alloc + free. A backend stamps each view it makes with its buffer and its
 * address in private fields (the class-field "return override" idiom: the
 * fields live on the view itself, invisible to reflection, `console.log` and
 * `structuredClone`, and no one else can set them); reading them back is an
 * ordinary field load. Stamping costs 4 to 8 ns per view on V8, less than it
 * saves. On Bun (JavaScriptCore) `buffer` is cheap next to the 15 ns a stamp
 * costs there, so views made once per use are not stamped
 * ({@linkcode STAMP_VIEWS} is false); recycled views (`backends/view_table.ts`)
 * are stamped on every engine, since one stamp serves many uses
 * (`addressOf` of a stamped view: 4 ns on Bun, against 13-20 ns through
 * `buffer`).
 *
 * A view the backend did not make itself (a `subarray`, a view the user made
 * over a page's buffer) has no stamp: the backend then reads `view.buffer`
 * as before.
 *
 * @module
 */

/** Whether backends stamp the views they make once per use (not on JavaScriptCore). */
export const STAMP_VIEWS: boolean = !("Bun" in globalThis);

/** Returns the object it is given: its subclass's fields land on that object. */
class ReturnOverride {
  constructor(target: object) {
    return target as ReturnOverride;
  }
}

class ViewStamp extends ReturnOverride {
  #buffer: ArrayBufferLike;
  #address: number;

  constructor(view: Uint8Array, buffer: ArrayBufferLike, address: number) {
    super(view);
    this.#buffer = buffer;
    this.#address = address;
  }

  static buffer(view: unknown): ArrayBufferLike | undefined {
    return typeof view === "object" && view !== null && #buffer in view
      ? (view as ViewStamp).#buffer
      : undefined;
  }

  static address(view: object): number {
    return (view as ViewStamp).#address;
  }

  static addressOr(view: unknown, none: number): number {
    return typeof view === "object" && view !== null && #address in view
      ? (view as ViewStamp).#address
      : none;
  }

  static bufferOf(view: object): ArrayBufferLike {
    return (view as ViewStamp).#buffer;
  }
}

/**
 * Stamp `view` (just made, never stamped) with `buffer`, the buffer it is a
 * view of, and `address`, the backend's address of its first byte. Call
 * only when {@linkcode STAMP_VIEWS} is true.
 */
export function stampView(
  view: Uint8Array,
  buffer: ArrayBufferLike,
  address: number,
): void {
  new ViewStamp(view, buffer, address);
}

/** The buffer `view` was stamped with, or `undefined` (not stamped, not a view). */
export function stampedBuffer(view: unknown): ArrayBufferLike | undefined {
  return ViewStamp.buffer(view);
}

/** The address `view` was stamped with (only for a view {@linkcode stampedBuffer} knows). */
export function stampedAddress(view: Uint8Array): number {
  return ViewStamp.address(view);
}

/**
 * The address `view` was stamped with, or -1 when it has no stamp (one brand
 * check: the fast way into `addressOf`).
 */
export function stampedAddressOr(view: unknown): number {
  return ViewStamp.addressOr(view, -1);
}

/** The buffer of a view {@linkcode stampedAddressOr} answered for. */
export function stampedBufferOf(view: Uint8Array): ArrayBufferLike {
  return ViewStamp.bufferOf(view);
}
