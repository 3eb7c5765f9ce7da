import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPageFragCache } from "../mod.ts";
import { WasmBackend } from "../backends/wasm.ts";
import { contractSuite, throwsCode } from "./contract.ts";
import { assertPagesClean, assertRingClean } from "./workers/harness.ts";
import { loadWat } from "../examples/wasm/wat.ts";
import {
  arenaDeath,
  CAN_TERMINATE,
  DEATHS,
  killSweep,
  viewAfterGrowth,
} from "./workers/faults.ts";

contractSuite("wasm", (o) => new WasmBackend(o));

/**
 * A tiny module (examples/wasm/bytes.wat) importing `env.memory` and
 * exporting `sum(ptr, len): i32` (the bytes' sum) and `fill(ptr, len,
 * value)` (`memory.fill`), compiled once with wabt: importing a shared
 * memory (max 16384 pages) and an unshared one (no maximum).
 */
const BYTES_WAT = new URL("../examples/wasm/bytes.wat", import.meta.url);
const helperModules = {
  shared: new WebAssembly.Module(
    await loadWat(BYTES_WAT, {
      memory: { initial: 1, maximum: 16384, shared: true },
    }),
  ),
  unshared: new WebAssembly.Module(
    await loadWat(BYTES_WAT, { memory: { initial: 0 } }),
  ),
};

interface Helper {
  sum(ptr: number, len: number): number;
  fill(ptr: number, len: number, value: number): void;
}

function helper(memory: WebAssembly.Memory, shared = true): Helper {
  const module = shared ? helperModules.shared : helperModules.unshared;
  const instance = new WebAssembly.Instance(module, {
    env: { memory },
  });
  return instance.exports as unknown as Helper;
}

describe("wasm backend: memory and addresses", () => {
  it("addresses are wasm pointers: wasm code reads and writes fragments in place", () => {
    const backend = new WasmBackend({ maxBytes: 1 << 20 });
    assert.ok(backend.shared);
    assert.ok(backend.memory.buffer instanceof SharedArrayBuffer);
    assert.equal(backend.base, 4096);
    const wasm = helper(backend.memory);
    const cache = createPageFragCache({ backend });
    const frag = cache.alloc(300)!;
    const addr = backend.addressOf(frag);
    assert.ok(addr >= backend.base);
    frag.fill(2);
    assert.equal(wasm.sum(addr, 300), 600, "wasm sees what JS wrote");
    wasm.fill(addr + 100, 50, 7);
    assert.equal(frag[99], 2);
    assert.equal(frag[100], 7, "JS sees what wasm wrote");
    assert.equal(frag[149], 7);
    assert.equal(frag[150], 2);
    cache.free(frag);
  });

  it("views survive growth: old views keep reading and writing the right bytes", () => {
    const backend = new WasmBackend({ maxBytes: 64 << 20 });
    const wasm = helper(backend.memory);
    const cache = createPageFragCache({ backend });
    const first = cache.alloc(1000)!;
    first.fill(1);
    const firstAddr = backend.addressOf(first);
    const before = backend.memory.buffer;
    const beforeLength = before.byteLength;
    // Allocate well past the initial 1 MiB.
    const frags: Uint8Array[] = [];
    for (let i = 0; i < 2000; i++) {
      const f = cache.alloc(4000)!;
      f.fill(i & 255);
      frags.push(f);
    }
    const after = backend.memory.buffer;
    assert.ok(after.byteLength > beforeLength, "the memory grew");
    assert.notEqual(after, before, "memory.buffer is a new object");
    assert.equal(first.buffer, before, "the first view is over the old object");
    assert.equal(frags[1999].buffer, after, "new views use the current one");
    assert.ok(first.every((x) => x === 1), "old view still reads");
    first[999] = 9;
    assert.equal(backend.view(firstAddr, 1000)[999], 9, "and writes");
    assert.equal(wasm.sum(firstAddr, 1000), 999 + 9);
    // Old views are still this backend's: addressOf and free accept them.
    assert.equal(backend.addressOf(first), firstAddr);
    for (let i = 0; i < frags.length; i++) {
      const f = frags[i];
      const a = backend.addressOf(f);
      assert.equal(wasm.sum(a, 4000), (i & 255) * 4000, `fragment ${i}`);
      cache.free(f);
    }
    cache.free(first);
    cache.drain();
    assert.equal(backend.stats().bytesInUse, 0);
  });

  it("addresses stay small integers below 2**30: the own memory stops just under 1 GiB", () => {
    const backend = new WasmBackend({ pageSize: 1 << 20, maxOrder: 0 });
    const pages: number[] = [];
    for (;;) {
      const p = backend.allocPage(0, false);
      if (p === 0) break;
      assert.ok(p < 2 ** 30);
      pages.push(p);
      if (pages.length > 2000) break;
    }
    assert.equal(pages.length, 1023, "1 GiB of memory, the first MiB unused");
    assert.equal(backend.memory.buffer.byteLength, 2 ** 30);
    for (const p of pages) backend.free(p);
  });

  it("your own shared memory: the backend starts above its current size and never touches the data below", () => {
    const memory = new WebAssembly.Memory({
      initial: 3,
      maximum: 1024,
      shared: true,
    });
    const data = new Uint8Array(memory.buffer);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 255;
    const backend = new WasmBackend({ memory, maxBytes: 8 << 20 });
    assert.equal(backend.base, 3 * 65536);
    assert.equal(backend.memory, memory);
    const cache = createPageFragCache({ backend });
    const frags: Uint8Array[] = [];
    for (let i = 0; i < 1000; i++) {
      const f = cache.alloc(3000)!;
      assert.ok(backend.addressOf(f) >= 3 * 65536);
      f.fill(0xee);
      frags.push(f);
    }
    assert.ok(memory.buffer.byteLength > 3 * 65536, "grew");
    const low = new Uint8Array(memory.buffer, 0, 3 * 65536);
    assert.ok(low.every((x, i) => x === ((i * 7) & 255)), "data intact");
    for (const f of frags) cache.free(f);
  });

  it("an explicit base reserves the bytes below it", () => {
    const backend = new WasmBackend({ base: 100_000 });
    assert.equal(backend.base, 102_400, "rounded up to pageSize");
    const page = backend.allocPage(0, false);
    assert.ok(page >= 102_400);
    backend.free(page);
    throwsCode(() => new WasmBackend({ base: -1 }), "EINVAL_OPTION");
    throwsCode(() => new WasmBackend({ base: 2 ** 30 }), "EINVAL_OPTION");
    throwsCode(() => new WasmBackend({ base: 0.5 }), "EINVAL_OPTION");
    assert.equal(new WasmBackend({ base: 0 }).base, 4096, "never address 0");
  });
});

describe("wasm backend: unshared memory", () => {
  it("is never grown: only the bytes above base are used, then allocation returns null", () => {
    const memory = new WebAssembly.Memory({ initial: 4 });
    const buffer = memory.buffer;
    const backend = new WasmBackend({ memory, base: 65536 });
    assert.equal(backend.shared, false);
    const cache = createPageFragCache({ backend });
    const frags: Uint8Array[] = [];
    for (;;) {
      const f = cache.alloc(4096);
      if (f === null) break;
      f.fill(frags.length & 255);
      frags.push(f);
    }
    assert.equal(frags.length, 3 * 16, "three wasm pages of 4 KiB pages");
    assert.equal(memory.buffer, buffer, "not grown: same, attached buffer");
    assert.equal(buffer.byteLength, 4 * 65536);
    const wasm = helper(memory, false);
    for (let i = 0; i < frags.length; i++) {
      assert.equal(
        wasm.sum(backend.addressOf(frags[i]), 4096),
        (i & 255) * 4096,
      );
      cache.free(frags[i]);
    }
    assert.notEqual(cache.alloc(4096), null, "room again");
  });

  it("cannot be shared or attached, and needs room above base", () => {
    const memory = new WebAssembly.Memory({ initial: 2 });
    const backend = new WasmBackend({ memory, base: 4096 });
    throwsCode(() => backend.share(), "EINVAL_OPTION");
    const shared = new WasmBackend().share();
    throwsCode(
      () => WasmBackend.attach({ ...shared, memory }),
      "EINVAL_OPTION",
    );
    throwsCode(
      () => new WasmBackend({ memory: new WebAssembly.Memory({ initial: 2 }) }),
      "EINVAL_OPTION",
    ); // default base = its end: no room
    throwsCode(
      () =>
        new WasmBackend({
          memory: new WebAssembly.Memory({ initial: 1 }),
          base: 65536 - 4095,
        }),
      "EINVAL_OPTION",
    );
  });

  it("grown behind the backend's back: every view is dead, so view and addressOf are ESTATE", () => {
    const memory = new WebAssembly.Memory({ initial: 2 });
    const backend = new WasmBackend({ memory, base: 65536 });
    const cache = createPageFragCache({ backend });
    const frag = cache.alloc(100)!;
    const addr = backend.addressOf(frag);
    memory.grow(1); // detaches frag.buffer
    throwsCode(() => backend.view(addr, 100), "ESTATE");
    throwsCode(() => backend.addressOf(frag), "ESTATE");
    throwsCode(() => cache.alloc(10), "ESTATE");
    backend.free(addr); // the metadata is intact: addresses still free
    cache.free(cache.allocHandle(10)!);
  });

  it("grown behind the backend's back: a refill is ESTATE and takes no page (nothing counted)", () => {
    const memory = new WebAssembly.Memory({ initial: 2 });
    const backend = new WasmBackend({ memory, base: 65536 });
    memory.grow(1);
    const before = backend.stats();
    const cache = createPageFragCache({ backend });
    throwsCode(() => cache.allocHandle(10), "ESTATE");
    throwsCode(() => backend.allocPage(0, false), "ESTATE");
    assert.deepEqual(backend.stats(), before, "no page was taken");
    assert.equal(cache.stats().allocs, 0, "nothing counted");
  });
});

describe("wasm backend: sharing and misuse", () => {
  it("one backend per memory: a second one is EINVAL_OPTION, attach() shares it", () => {
    const backend = new WasmBackend();
    throwsCode(
      () => new WasmBackend({ memory: backend.memory }),
      "EINVAL_OPTION",
    );
    const other = WasmBackend.attach(backend.share());
    const page = other.allocPage(0, false);
    assert.equal(backend.stats().pagesInUse, 1);
    backend.free(page);
    assert.equal(other.stats().pagesInUse, 0);
    const clone = WasmBackend.attach(structuredClone(backend.share()));
    assert.notEqual(clone.memory, backend.memory);
    const cache = createPageFragCache({ backend });
    const frag = cache.alloc(10)!;
    throwsCode(() => clone.addressOf(frag), "EFOREIGN");
    cache.drain();
    clone.free(backend.addressOf(frag));
    assert.equal(backend.stats().pagesInUse, 0);
  });

  it("attach() refuses anything but a descriptor from share() → EINVAL_OPTION", () => {
    const good = new WasmBackend({ maxBytes: 1 << 20 }).share();
    const bad: [string, unknown][] = [
      ["null", null],
      ["an empty object", {}],
      ["a shared-backend kind", { ...good, kind: "pagefrag.shared" }],
      ["another version", { ...good, version: 2 }],
      ["memory not a Memory", { ...good, memory: new SharedArrayBuffer(8) }],
      ["meta missing", { ...good, meta: undefined }],
      ["meta of the wrong layout", {
        ...good,
        meta: new SharedArrayBuffer(4096),
      }],
      ["base disagrees", { ...good, base: 8192 }],
      ["pageSize disagrees", { ...good, pageSize: 16384 }],
      ["memory managed by another backend", {
        ...good,
        memory: new WasmBackend().memory,
      }],
    ];
    for (const [label, d] of bad) {
      assert.throws(
        () => WasmBackend.attach(d as never),
        (e: unknown) => (e as { code?: string }).code === "EINVAL_OPTION",
        label,
      );
    }
  });

  it("bad options are EINVAL_OPTION", () => {
    throwsCode(
      () => new WasmBackend({ memory: new ArrayBuffer(8) as never }),
      "EINVAL_OPTION",
    );
    throwsCode(
      () =>
        new WasmBackend({
          memory: new WebAssembly.Memory({
            initial: 1,
            maximum: 2,
            shared: true,
          }),
          initialBytes: 65536,
        }),
      "EINVAL_OPTION",
    );
    throwsCode(() => new WasmBackend({ initialBytes: -1 }), "EINVAL_OPTION");
    throwsCode(
      () => new WasmBackend({ maxBytes: 65536, initialBytes: 1 << 30 }),
      "EINVAL_OPTION",
    );
    throwsCode(() => new WasmBackend({ maxOrder: 11 }), "EINVAL_OPTION");
  });
});

describe("wasm backend: workers", () => {
  it("two workers trade 1,000,000 fragments each through rings over a shared memory", async () => {
    const backend = new WasmBackend({ maxBytes: 256 << 20 });
    await assertRingClean(backend, 1_000_000, 654_321);
  });

  it("concurrent page allocation: no page handed out twice, budget kept, 0 on exhaustion", async () => {
    const maxBytes = 512 * 1024;
    const reserveBytes = 64 * 1024;
    const backend = new WasmBackend({ maxBytes, reserveBytes });
    await assertPagesClean(backend, 100_000, maxBytes, reserveBytes);
  });
});

describe("wasm backend: faults", () => {
  for (const death of DEATHS) {
    it(`H5: a worker dies holding the arena's page lock (${death})`, async () => {
      await arenaDeath("wasm", death);
    });
  }
  if (CAN_TERMINATE) {
    it("H5 sweep: 8 workers terminated at random moments while churning", async () => {
      assert.ok((await killSweep("wasm", 8, 11)) <= 8);
    });
  }
  it("F2: a worker attached before the memory grew views a fragment past its stale length", async () => {
    await viewAfterGrowth("wasm");
  });
});
