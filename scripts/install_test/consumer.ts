// Type-checked (not run) against the installed declarations with tsc
// (module NodeNext, strict, skipLibCheck off): the types a TypeScript user
// writes against.
import "reflect-metadata";
import { container } from "tsyringe";
import {
  type AlignmentPolicy,
  createPageFragCache,
  type MemoryBackend,
  type PageFragCache,
  PageFragError,
  type PageFragErrorCode,
  type PageFragOptions,
  type PageFragStats,
  type RefillPolicy,
  type RefillStep,
} from "pagefrag";
import { registerPageFrag, TOKENS } from "pagefrag/di";
import { HeapBackend } from "pagefrag/backends/heap";
import {
  SharedBackend,
  type SharedBackendDescriptor,
} from "pagefrag/backends/shared";
import { WasmBackend } from "pagefrag/backends/wasm";
import { isValidAlign } from "pagefrag/policies/alignment";
import { kernelRefill } from "pagefrag/policies/refill";
import { denyPfmemalloc } from "pagefrag/policies/pfmemalloc";
import {
  type BackendFactory,
  contractSuite,
  type TestRunner,
} from "pagefrag/testing";

const steps: readonly RefillStep[] = [{ order: 1, reserve: true }];
const refill: RefillPolicy = { name: "order1", plan: () => steps };
const align: AlignmentPolicy = { name: "words", align: 8 };
const options: PageFragOptions = {
  maxBytes: 1 << 20,
  refill,
  align,
  pfmemalloc: denyPfmemalloc,
};
const cache: PageFragCache = createPageFragCache(options);
const frag: Uint8Array | null = cache.alloc(10);
const addr: number | null = cache.allocHandle(10, { align: 64 });
const stats: PageFragStats = cache.stats();
const backend: MemoryBackend = new HeapBackend();
const d: SharedBackendDescriptor = new SharedBackend().share();
const wasm: WebAssembly.Memory = new WasmBackend().memory;
const app = registerPageFrag(container.createChildContainer());
app.register(TOKENS.RefillPolicy, { useValue: kernelRefill });
const resolved = app.resolve<PageFragCache>(TOKENS.Cache);
let code: PageFragErrorCode | undefined;
try {
  cache.alloc(0);
} catch (e) {
  if (e instanceof PageFragError) code = e.code;
}
const make: BackendFactory = (o) => new HeapBackend(o);
const runner: TestRunner = { describe: (_n, body) => body(), it: () => {} };
contractSuite("typed", make, { runner });
export { addr, backend, code, d, frag, isValidAlign, resolved, stats, wasm };
