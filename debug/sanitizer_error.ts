/**
 * The sanitizer's report: a `PageFragError` that says where the bad byte
 * is, which fragment it concerns, and where that fragment was allocated
 * and freed. A file of its own because the checker makes reports and the
 * `Sanitizer` facade hands them out: neither owns the other.
 *
 * @module
 */
import { PageFragError, type PageFragErrorCode } from "../core/errors.ts";

/**
 * A finding of the sanitizer: a `PageFragError` with code `EUSEAFTERFREE`,
 * `EOVERFLOW`, `EDOUBLEFREE` or `EFOREIGN` (a free of an address inside a
 * fragment), and where it happened.
 *
 * @example
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { SanitizerError } from "@pagefrag/pagefrag/debug";
 *
 * const cache = createPageFragCache({ sanitize: true });
 * const frag = cache.alloc(16)!;
 * cache.free(frag);
 * try {
 *   cache.free(frag);
 * } catch (e) {
 *   if (!(e instanceof SanitizerError) || e.code !== "EDOUBLEFREE") throw e;
 *   console.log(e.fragment, e.allocatedAt, e.freedAt);
 * }
 * ```
 */
export class SanitizerError extends PageFragError {
  /** The first bad byte (or the address freed twice). */
  readonly address: number;
  /** The fragment concerned (freed, overflowed or freed twice), when known. */
  readonly fragment:
    | { readonly address: number; readonly size: number }
    | undefined;
  /** Where that fragment was allocated (a stack trace), when sites are recorded. */
  readonly allocatedAt: string | undefined;
  /** Where it was freed, when it was and sites are recorded. */
  readonly freedAt: string | undefined;

  /**
   * Make a report (the sanitizer does; you need not).
   *
   * @example
   * ```ts
   * import { SanitizerError } from "@pagefrag/pagefrag/debug";
   *
   * const e = new SanitizerError("EOVERFLOW", "red zone overwritten", 4200, { address: 4096, size: 100 });
   * if (e.code !== "EOVERFLOW" || e.fragment?.size !== 100) throw new Error();
   * ```
   */
  constructor(
    code: PageFragErrorCode,
    message: string,
    address: number,
    fragment?: { address: number; size: number },
    allocatedAt?: string,
    freedAt?: string,
  ) {
    let text = message;
    if (allocatedAt !== undefined) text += `\n  allocated at:\n${allocatedAt}`;
    if (freedAt !== undefined) text += `\n  freed at:\n${freedAt}`;
    super(code, text);
    this.name = "SanitizerError";
    this.address = address;
    this.fragment = fragment;
    this.allocatedAt = allocatedAt;
    this.freedAt = freedAt;
  }
}
