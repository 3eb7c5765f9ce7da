/**
 * Page fragments that a WebAssembly module reads and writes in place.
 *
 * A `WasmBackend` carves its pages out of a shared `WebAssembly.Memory`, so
 * a fragment's address *is* a wasm pointer. This example compiles a tiny
 * wasm module at run time (examples/wasm/checksum.wat, with the `wabt`
 * package: no native toolchain, no `.wasm` file) that imports that memory
 * and exports `csum(ptr, len)`, the Internet
 * checksum of RFC 1071. It allocates fragments of 20 to 1500 bytes (packet
 * sizes), fills them through their `Uint8Array` views, has wasm checksum
 * each one where it lies, and checks every result against a plain JavaScript
 * RFC 1071. Then it shows that nothing was copied: each view starts at its
 * address in the memory, a byte wasm writes is seen through the view, and a
 * checksum JS stores into a fragment makes wasm's check of it come out 0.
 *
 * ```sh
 * npx deno run -A examples/wasm_checksum.ts          # 5,000 fragments
 * npx bun examples/wasm_checksum.ts --quick           # 300
 * node --import tsx examples/wasm_checksum.ts --quick
 * ```
 *
 * @module
 */
import process from "node:process";
import { createPageFragCache } from "../mod.ts";
import { WasmBackend } from "../backends/wasm.ts";
import {
  buildChecksumModule,
  type ChecksumExports,
  internetChecksum,
  type MemoryLimits,
} from "./wasm/checksum_module.ts";
import { prng } from "../testing/prng.ts";

const quick = process.argv.includes("--quick");
const COUNT = quick ? 300 : 5_000;
const MIN_LEN = 20;
const MAX_LEN = 1500;

/** The shared seeded PRNG, so every run sees the same data. */
const random = prng(0x9e3779b9);

// One shared memory for both sides. The module imports it with these very
// limits (a shared memory is imported as shared, with its maximum); the
// backend owns it from `base` (the first 64 KiB wasm page is left to the
// module) and grows it on demand up to the maximum.
const limits: MemoryLimits = { initial: 1, maximum: 1024, shared: true };
const memory = new WebAssembly.Memory({
  initial: limits.initial,
  maximum: limits.maximum!,
  shared: true,
});
const backend = new WasmBackend({ memory, base: 65536, maxBytes: 16 << 20 });
const cache = createPageFragCache({ backend });

const moduleBytes = await buildChecksumModule(limits);
const { instance } = await WebAssembly.instantiate(moduleBytes, {
  env: { memory },
});
const { csum, mark } = instance.exports as unknown as ChecksumExports;

// ------------------------------------------------ allocate and fill fragments
const addrs: number[] = [];
const views: Uint8Array[] = [];
let totalBytes = 0;
for (let i = 0; i < COUNT; i++) {
  const len = random.range(MIN_LEN, MAX_LEN);
  const view = cache.alloc(len);
  if (view === null) throw new Error(`out of memory at fragment ${i}`);
  for (let j = 0; j < len; j++) view[j] = random.u32() & 0xff;
  if (i % 97 === 0) view.fill(0); // the edge cases: all zero, all ones
  if (i % 89 === 0) view.fill(0xff);
  views.push(view);
  addrs.push(backend.addressOf(view));
  totalBytes += len;
}
const pagesInUse = backend.stats().pagesInUse;

// --------------------------------- checksum in place: wasm against plain JS
let agree = 0;
for (let i = 0; i < COUNT; i++) {
  const view = views[i];
  if (csum(addrs[i], view.length) === internetChecksum(view)) agree++;
}

// ------------------------------------------------------- nothing was copied
let atAddress = 0; // the view starts at its address in the wasm memory
let wasmWritesSeen = 0; // a byte wasm stores is visible through the JS view
let jsWritesSeen = 0; // a checksum JS stores makes wasm's check come out 0
for (let i = 0; i < COUNT; i++) {
  const view = views[i];
  const addr = addrs[i];
  if (view.byteOffset === addr) atAddress++;
  // wasm writes a marker into the last byte; JS reads it through the view.
  const marker = (0xa5 ^ i) & 0xff;
  mark(addr + view.length - 1, marker);
  if (view[view.length - 1] === marker) wasmWritesSeen++;
  // RFC 1071's check, as for an IP header: zero the checksum field (the
  // first two bytes), checksum, store the result big-endian in the field
  // from JS; the checksum of the whole fragment is then 0.
  view[0] = 0;
  view[1] = 0;
  const sum = csum(addr, view.length);
  view[0] = sum >>> 8;
  view[1] = sum & 0xff;
  if (csum(addr, view.length) === 0) jsWritesSeen++;
}

// ------------------------------------------- speed over the same fragments
const rounds = quick ? 3 : 20;
let sink = 0;
let t0 = performance.now();
for (let r = 0; r < rounds; r++) {
  for (let i = 0; i < COUNT; i++) sink ^= csum(addrs[i], views[i].length);
}
const wasmMs = performance.now() - t0;
t0 = performance.now();
for (let r = 0; r < rounds; r++) {
  for (let i = 0; i < COUNT; i++) sink ^= internetChecksum(views[i]);
}
const jsMs = performance.now() - t0;
void sink;

// ------------------------------------------------------------------ free all
for (const addr of addrs) cache.free(addr);
cache.drain();
const after = backend.stats();

// -------------------------------------------------------------------- report
const n = (x: number) => x.toLocaleString("en-US");
const mbps = (ms: number) =>
  ((totalBytes * rounds) / (ms * 1e3)).toLocaleString("en-US", {
    maximumFractionDigits: 0,
  });
const ok = agree === COUNT && atAddress === COUNT &&
  wasmWritesSeen === COUNT && jsWritesSeen === COUNT &&
  after.bytesInUse === 0;

console.log(
  `wasm_checksum: RFC 1071 checksums computed by wasm in place, over page fragments
module     ${moduleBytes.length} bytes compiled at run time from examples/wasm/checksum.wat: imports env.memory (shared, ${limits.initial}..${limits.maximum} wasm pages), exports csum and mark
backend    WasmBackend over that memory from address ${backend.base}: ${backend.pageSize} B pages up to order ${backend.maxOrder}
fragments  ${n(COUNT)} of ${MIN_LEN}..${MAX_LEN} bytes, ${
    n(totalBytes)
  } bytes on ${n(pagesInUse)} pages
checksums  ${n(agree)} / ${
    n(COUNT)
  }: wasm csum(addr, len) === JS internetChecksum(view)
in place   ${n(atAddress)} / ${
    n(COUNT)
  }: view.byteOffset === addr in the wasm memory
           ${n(wasmWritesSeen)} / ${
    n(COUNT)
  }: a byte written by wasm mark(addr + len - 1) is seen through the JS view
           ${n(jsWritesSeen)} / ${
    n(COUNT)
  }: with the checksum stored into the fragment from JS, wasm's check gives 0
speed      wasm ${mbps(wasmMs)} MB/s, JS ${
    mbps(jsMs)
  } MB/s (${rounds} rounds over the same bytes, in place)
freed      ${
    n(COUNT)
  } fragments freed and the cache drained: backend bytesInUse ${after.bytesInUse}
${ok ? "OK" : "FAILED"}`,
);
if (!ok) process.exitCode = 1;
