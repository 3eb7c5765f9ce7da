/**
 * Whether this runtime can share memory, and the error that says how to get
 * it when it cannot.
 *
 * A browser exposes `SharedArrayBuffer` (and shared `WebAssembly.Memory`)
 * only to a cross-origin isolated page: one served with
 * `Cross-Origin-Opener-Policy: same-origin` and
 * `Cross-Origin-Embedder-Policy: require-corp` (or `credentialless`). Without
 * them the global is simply missing and the shared and wasm backends would
 * die with a bare `ReferenceError`; this module turns that into a
 * `PageFragError("EUNSUPPORTED")` naming the headers. Deno, Bun and Node
 * always have shared memory.
 *
 * @module
 */
import { PageFragError } from "../core/errors.ts";

/**
 * Throw `EUNSUPPORTED` unless `SharedArrayBuffer` exists (and, for `wasm`,
 * `WebAssembly.Memory`). `who` names the backend in the message.
 *
 * @example
 * ```ts
 * import { requireSharedMemory } from "./isolation.ts";
 *
 * requireSharedMemory("SharedBackend"); // Deno, Bun and Node: never throws
 * ```
 */
export function requireSharedMemory(who: string, wasm = false): void {
  const g = globalThis as {
    SharedArrayBuffer?: unknown;
    WebAssembly?: { Memory?: unknown };
    crossOriginIsolated?: boolean;
  };
  if (wasm && typeof g.WebAssembly?.Memory !== "function") {
    throw new PageFragError(
      "EUNSUPPORTED",
      `${who} needs WebAssembly.Memory, which this runtime does not provide; use the "heap" or "shared" backend`,
    );
  }
  if (typeof g.SharedArrayBuffer === "function") return;
  const page = g.crossOriginIsolated === false
    ? " (this page reports crossOriginIsolated === false)"
    : "";
  throw new PageFragError(
    "EUNSUPPORTED",
    `${who} needs SharedArrayBuffer${
      wasm ? " (shared WebAssembly.Memory)" : ""
    }, which this runtime does not provide${page}. In a browser it exists only on a cross-origin isolated page: serve the page with the headers "Cross-Origin-Opener-Policy: same-origin" and "Cross-Origin-Embedder-Policy: require-corp" (COOP/COEP). Or use the "heap" backend, which needs neither`,
  );
}
