// Type test (tsc, never run): every entry point but `pagefrag/testing`
// (which needs @types/node for node:test) type-checks with `lib: ["es2024"]`
// alone: no DOM lib, no @types/node, skipLibCheck off. See tsconfig.no_dom.json.
import {
  createNapiCache,
  createNetdevCache,
  createPageFragCache,
  HeapBackend,
  type MemoryBackend,
  type PageFragCache,
  PageFragError,
} from "pagefrag";
import * as core from "pagefrag/core";
import * as debug from "pagefrag/debug";
import * as di from "pagefrag/di";
import * as net from "pagefrag/net";
import * as heap from "pagefrag/backends/heap";
import { SharedBackend } from "pagefrag/backends/shared";
import {
  WasmBackend,
  type WasmMemory,
  type WasmMemoryLike,
} from "pagefrag/backends/wasm";
import * as backendOptions from "pagefrag/backends/options";
import * as pageTable from "pagefrag/backends/page_table";
import * as io from "pagefrag/io";
import * as portable from "pagefrag/testing/portable";
import * as alignment from "pagefrag/policies/alignment";
import * as refill from "pagefrag/policies/refill";
import * as pfmemalloc from "pagefrag/policies/pfmemalloc";

// Heap fragments are over an ArrayBuffer: usable where an ArrayBuffer view is required.
const heapFrag: Uint8Array<ArrayBuffer> | null = createPageFragCache().alloc(8);
const heapBuf: ArrayBuffer | undefined = heapFrag?.buffer;
const viaBackend: Uint8Array<ArrayBuffer> =
  createPageFragCache({ backend: new HeapBackend() }).alloc(8)!;
const netdevFrag: Uint8Array<ArrayBuffer> = createNetdevCache().alloc(8)!;
const napi = createNapiCache({ backend: "heap" });
const napiFrag: Uint8Array<ArrayBuffer> = napi.poll(() => napi.alloc(8)!);

// Shared fragments are over a SharedArrayBuffer, and are not heap fragments.
const shared: Uint8Array<SharedArrayBuffer> =
  createPageFragCache({ backend: "shared" }).alloc(8)!;
const sharedToo: Uint8Array<SharedArrayBuffer> =
  createPageFragCache({ backend: new SharedBackend() }).alloc(8)!;
// @ts-expect-error a shared fragment is not an ArrayBuffer-backed view
const wrong: Uint8Array<ArrayBuffer> = shared;
// @ts-expect-error wasm memory may be shared: its fragments are ArrayBufferLike
const wrongWasm: Uint8Array<ArrayBuffer> = createPageFragCache({ backend: "wasm" }).alloc(8)!;

// Without knowing the backend statically, fragments are ArrayBufferLike; the
// generic caches still fit the unparameterised types.
const any: PageFragCache = createPageFragCache({ backend: "shared" });
const backend: MemoryBackend = new HeapBackend();

// The wasm memory needs no WebAssembly namespace: here it is the structural type.
const memory: WasmMemory = new WasmBackend().memory;
const like: WasmMemoryLike = memory;
const pages: number = like.grow(0) + like.buffer.byteLength;

// `using` type-checks (the declarations pull in lib esnext.disposable).
function scoped(): number {
  using cache = createPageFragCache();
  using heapBackend = new heap.HeapBackend();
  const d: Disposable = heapBackend;
  return cache.stats().allocs + (d === heapBackend ? 1 : 0);
}

let code: string | undefined;
try {
  createPageFragCache().alloc(0);
} catch (e) {
  if (e instanceof PageFragError) code = e.code;
}

export {
  alignment,
  any,
  io,
  pageTable,
  portable,
  backend,
  backendOptions,
  code,
  core,
  debug,
  di,
  heapBuf,
  napiFrag,
  net,
  netdevFrag,
  pages,
  pfmemalloc,
  refill,
  scoped,
  sharedToo,
  viaBackend,
  wrong,
  wrongWasm,
};
