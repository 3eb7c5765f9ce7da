/**
 * The error a built-in backend throws from `allocPage` once it was disposed
 * (`[Symbol.dispose]`, e.g. at the end of a `using` block): one message for
 * all of them, so the fix reads the same wherever it shows up.
 *
 * @module
 */
import { PageFragError } from "../core/errors.ts";

/**
 * `ESTATE`: this backend handle was disposed and hands out no more pages.
 *
 * @example
 * ```ts
 * import { disposedError } from "./disposed.ts";
 *
 * if (disposedError().code !== "ESTATE") throw new Error();
 * ```
 */
export function disposedError(): PageFragError {
  return new PageFragError(
    "ESTATE",
    "allocPage(): the backend was disposed ([Symbol.dispose] / `using`); frees still work, make a new backend to allocate",
  );
}
