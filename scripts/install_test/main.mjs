// What a new user runs first, against the installed package: plain ESM, no
// loader, no TypeScript. The same file runs on Node (`node main.mjs`), Deno
// (`deno run -A main.mjs`, resolving through node_modules) and Bun
// (`bun main.mjs`). It exits non-zero on the first thing that is wrong.
import "reflect-metadata";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { container } from "tsyringe";
import * as pagefrag from "pagefrag";
import {
  createNetdevCache,
  createPageFragCache,
  PageFragError,
  pageFragFree,
} from "pagefrag";
import { registerPageFrag, TOKENS } from "pagefrag/di";
import { HeapBackend } from "pagefrag/backends/heap";
import { SharedBackend } from "pagefrag/backends/shared";
import { WasmBackend } from "pagefrag/backends/wasm";
import { fixedAlignment } from "pagefrag/policies/alignment";
import { order0Refill } from "pagefrag/policies/refill";
import { kernelPfmemalloc } from "pagefrag/policies/pfmemalloc";

const runtime = "Deno" in globalThis
  ? `deno ${globalThis.Deno.version.deno}`
  : "Bun" in globalThis
  ? `bun ${globalThis.Bun.version}`
  : `node ${process.versions.node}`;
const isNode = runtime.startsWith("node");

// 1. The quick start.
const cache = createPageFragCache({ maxBytes: 1 << 20 });
const frag = cache.alloc(256);
assert.ok(frag instanceof Uint8Array && frag.length === 256);
frag.fill(7);
const addr = cache.allocHandle(1500);
cache.backend.view(addr, 1500).fill(1);
cache.free(frag);
cache.free(addr);
cache.drain();
assert.equal(cache.backend.stats().bytesInUse, 0);
assert.equal(cache.stats().allocs, 2);

// 2. Every entry point exports exactly the names its source does (the list
// was made from the TypeScript sources by the install test), and the
// subpaths are the same modules as the root's re-exports.
const expected = JSON.parse(
  readFileSync(new URL("./expected_exports.json", import.meta.url), "utf8"),
);
for (const [subpath, names] of Object.entries(expected)) {
  if (subpath === "./testing") continue; // imported by contract_test.mjs
  const spec = subpath === "." ? "pagefrag" : `pagefrag/${subpath.slice(2)}`;
  const mod = await import(spec);
  assert.deepEqual(Object.keys(mod).sort(), names, `exports of ${spec}`);
}
assert.equal(HeapBackend, pagefrag.HeapBackend, "one module, two paths");
assert.equal(SharedBackend, pagefrag.SharedBackend);
assert.equal(order0Refill, pagefrag.order0Refill);
assert.equal(kernelPfmemalloc, pagefrag.kernelPfmemalloc);

// 3. Policies and DI, in an application container of the user's own.
const app = registerPageFrag(container.createChildContainer(), {
  maxBytes: 1 << 20,
});
app.register(TOKENS.RefillPolicy, { useValue: order0Refill });
app.register(TOKENS.AlignmentPolicy, { useValue: fixedAlignment(64) });
const resolved = app.resolve(TOKENS.Cache);
assert.equal(resolved.refillPolicy, order0Refill);
resolved.allocHandle(3);
assert.equal(resolved.allocHandle(3) % 64, 0);
assert.equal(resolved.backend.stats().bytesInUse, 4096, "order-0 pages");

// 4. Errors carry stable codes.
assert.throws(
  () => cache.alloc(0),
  (e) => e instanceof PageFragError && e.code === "EINVAL_SIZE",
);

// 5. The wasm backend and a netdev cache.
const wasm = createPageFragCache({
  backend: new WasmBackend({ maxBytes: 1 << 20 }),
});
const w = wasm.alloc(100);
assert.ok(
  wasm.backend.memory.buffer === w.buffer ||
    w.buffer instanceof SharedArrayBuffer,
);
pageFragFree(w);
const netdev = createNetdevCache({ backend: "shared" });
netdev.free(netdev.allocHandle(64));

// 6. The shared backend in a worker: fragments allocated here are checked
// and freed there, fragments allocated there are checked and freed here.
const backend = new SharedBackend({ maxBytes: 4 << 20 });
const mainCache = createPageFragCache({ backend });
const frags = [];
for (let i = 0; i < 100; i++) {
  const a = mainCache.allocHandle(300);
  backend.view(a, 300).fill(i & 255);
  frags.push({ addr: a, size: 300, fill: i & 255 });
}
mainCache.drain();
const message = { descriptor: backend.share(), frags };
const url = new URL("./worker.mjs", import.meta.url);
let reply;
if (isNode) {
  const { Worker } = await import("node:worker_threads");
  const worker = new Worker(url);
  reply = await new Promise((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
    worker.postMessage(message);
  });
  await worker.terminate();
} else {
  const worker = new Worker(url, { type: "module" });
  reply = await new Promise((resolve, reject) => {
    worker.onmessage = (e) => resolve(e.data);
    worker.onerror = (e) => reject(e.error ?? new Error(e.message));
    worker.postMessage(message);
  });
  worker.terminate();
}
assert.equal(reply.ok, true, reply.error);
assert.equal(reply.freed, 100);
for (const f of reply.mine) {
  assert.ok(backend.view(f.addr, f.size).every((b) => b === f.fill));
  backend.free(f.addr);
}
const s = backend.stats();
assert.equal(s.bytesInUse, 0, "every page back after frees on both sides");
assert.equal(s.pagesInUse, 0);

console.log(
  `ok ${runtime}: quick start, ${
    Object.keys(expected).length
  } entry points, DI, errors, wasm, shared backend across a worker`,
);
