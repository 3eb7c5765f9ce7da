// Type test for `deno check` (never run): the same promises against the
// sources, through the JSR names.
import { createPageFragCache, HeapBackend } from "@pagefrag/pagefrag";
import { WasmBackend } from "@pagefrag/pagefrag/backends/wasm";

const frag: Uint8Array<ArrayBuffer> = createPageFragCache().alloc(8)!;
const digest: Promise<ArrayBuffer> = crypto.subtle.digest("SHA-256", frag);
const blob = new Blob([frag]);
const response = new Response(frag);
const shared: Uint8Array<SharedArrayBuffer> = createPageFragCache({
  backend: "shared",
}).alloc(8)!;
// @ts-expect-error a shared fragment is not an ArrayBuffer-backed view
const wrong: Uint8Array<ArrayBuffer> = shared;
const memory: WebAssembly.Memory = new WasmBackend().memory;
function scoped(): number {
  using backend = new HeapBackend();
  using cache = createPageFragCache({ backend });
  return cache.stats().allocs;
}

export { blob, digest, memory, response, scoped, wrong };
