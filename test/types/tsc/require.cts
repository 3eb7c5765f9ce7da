// Type test (tsc >= 5.8, never run): a CommonJS consumer requires the ESM
// build (require(esm), Node >= 20.19 / 22.12, Bun) with the same types.
import pagefrag = require("pagefrag");
import heap = require("pagefrag/backends/heap");

const cache = pagefrag.createPageFragCache({ backend: new heap.HeapBackend() });
const frag: Uint8Array<ArrayBuffer> = cache.alloc(8)!;
export = frag;
