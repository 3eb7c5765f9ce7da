/**
 * The stable error codes of pagefrag. Each names one kind of misuse; the
 * allocator is left exactly as it was when one is thrown.
 *
 * | code            | meaning                                                        |
 * | --------------- | -------------------------------------------------------------- |
 * | `EINVAL_SIZE`   | size is not an integer in `1 .. pageSize << maxOrder`          |
 * | `EINVAL_ALIGN`  | alignment is not a power of two in `1 .. pageSize`             |
 * | `EINVAL_OPTION` | an option is unknown, of the wrong type or out of range        |
 * | `EFOREIGN`      | a view or address this allocator did not hand out             |
 * | `EDOUBLEFREE`   | a fragment whose page is no longer live; with the sanitizer, any fragment freed twice |
 * | `ESTATE`        | commit without prepare, commit past the prepared size, abort of anything but the latest fragment |
 * | `ECONTEXT`      | a napi cache used outside its poll scope                       |
 * | `EUSEAFTERFREE` | sanitizer: a write into a freed fragment or a page that went back (its poison changed) |
 * | `EOVERFLOW`     | sanitizer: a write past the end of a fragment (its red zone, or bytes no fragment owns) |
 * | `EDETACHED`     | a page's buffer was transferred away (`postMessage` transfer, `structuredClone`, a BYOB read): the page is retired |
 * | `ETIMEDOUT`     | a lock (or a wait for memory) was not had within its limit; the message names the holder |
 * | `EOWNERDEAD`    | a lock's holder is known to be dead; recover the shared state before going on |
 * | `EDEADLK`       | a thread would wait on a lock it holds itself (re-entry through another handle) |
 * | `EABORTED`      | an async wait was cancelled by its `AbortSignal` |
 * | `EUNSUPPORTED`  | the runtime lacks what this needs (e.g. `SharedArrayBuffer` without cross-origin isolation: COOP/COEP headers) |
 *
 * @example Switch on a code
 * ```ts
 * import { createPageFragCache, PageFragError, type PageFragErrorCode } from "@pagefrag/pagefrag";
 *
 * const cache = createPageFragCache();
 * let code: PageFragErrorCode | undefined;
 * try {
 *   cache.alloc(0);
 * } catch (e) {
 *   if (e instanceof PageFragError) code = e.code;
 * }
 * if (code !== "EINVAL_SIZE") throw new Error("expected EINVAL_SIZE");
 * ```
 */
export type PageFragErrorCode =
  | "EINVAL_SIZE"
  | "EINVAL_ALIGN"
  | "EINVAL_OPTION"
  | "EFOREIGN"
  | "EDOUBLEFREE"
  | "ESTATE"
  | "ECONTEXT"
  | "EUSEAFTERFREE"
  | "EOVERFLOW"
  | "EDETACHED"
  | "ETIMEDOUT"
  | "EOWNERDEAD"
  | "EDEADLK"
  | "EABORTED"
  | "EUNSUPPORTED";

/**
 * The one error type pagefrag throws for misuse. `code` is stable across
 * versions; the message is for humans and may change.
 *
 * Running out of memory is not an error: allocation returns `null`, as the
 * kernel's `page_frag_alloc` returns `NULL`.
 *
 * @example
 * ```ts
 * import { createPageFragCache, PageFragError } from "@pagefrag/pagefrag";
 *
 * const cache = createPageFragCache();
 * try {
 *   cache.alloc(1.5);
 * } catch (e) {
 *   if (!(e instanceof PageFragError) || e.code !== "EINVAL_SIZE") throw e;
 * }
 * ```
 */
export class PageFragError extends Error {
  /** The stable, machine-readable reason: one of {@linkcode PageFragErrorCode}. */
  readonly code: PageFragErrorCode;

  /**
   * Make an error with a stable code and a message that says what was wrong.
   *
   * @example
   * ```ts
   * import { PageFragError } from "@pagefrag/pagefrag";
   *
   * const e = new PageFragError("ESTATE", "commit() without prepare()");
   * if (e.code !== "ESTATE" || e.name !== "PageFragError") throw new Error();
   * ```
   */
  constructor(code: PageFragErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = "PageFragError";
    this.code = code;
  }
}
