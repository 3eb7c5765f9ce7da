// Type test (tsc, never run), lib es2024 + DOM: heap fragments are
// BufferSource, BlobPart and BodyInit; the wasm memory is a WebAssembly.Memory.
import { createPageFragCache, type PageFragCache } from "pagefrag";
import { WasmBackend } from "pagefrag/backends/wasm";

const cache = createPageFragCache();
const frag = cache.alloc(64)!;
const digest: Promise<ArrayBuffer> = crypto.subtle.digest("SHA-256", frag);
const blob = new Blob([frag]);
const response = new Response(frag);
const decoded: string = new TextDecoder().decode(frag);
const memory: WebAssembly.Memory = new WasmBackend().memory;
const imports: WebAssembly.Imports = { env: { memory } };
// A fragment of unknown backend could be shared: code that needs a BlobPart
// narrows it first (TypeScript >= 5.9's DOM lib insists; 5.7's does not).
const unknown: PageFragCache = cache;
const some = unknown.alloc(8)!;
const notBlob = some.buffer instanceof ArrayBuffer
  ? new Blob([some as Uint8Array<ArrayBuffer>])
  : undefined;

export { blob, decoded, digest, imports, notBlob, response };
