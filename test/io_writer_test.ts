// FragWriter: every write kind round-trips, records outgrow pages into
// frag lists, contiguous records coalesce, and out-of-memory is sticky.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createPageFragCache } from "../mod.ts";
import { FragList, FragWriter } from "../io/mod.ts";

let seed = 99;
const rnd = (n: number) => {
  seed = (seed * 1103515245 + 12345) >>> 0;
  return seed % n;
};
const STRINGS = [
  "",
  "a",
  "héllo",
  "€uro",
  "😀 emoji",
  "x".repeat(300) + "é😀",
  "\ud800 lone",
];

/** Write one random record with `w` and the same record with a DataView oracle. */
function record(w: FragWriter, oracle: DataView, at: number): number {
  const start = at;
  const m = w.reserve(4, true);
  at += 4;
  const ops = rnd(12) + 1;
  for (let k = 0; k < ops; k++) {
    const le = rnd(2) === 1;
    switch (rnd(11)) {
      case 0: {
        const v = rnd(256);
        w.u8(v), oracle.setUint8(at, v), at += 1;
        break;
      }
      case 1: {
        const v = rnd(65536);
        w.u16(v, le), oracle.setUint16(at, v, le), at += 2;
        break;
      }
      case 2: {
        const v = rnd(0x7fffffff) * 2;
        w.u32(v, le), oracle.setUint32(at, v, le), at += 4;
        break;
      }
      case 3: {
        const v = BigInt(rnd(1 << 30)) * 0x1_0000_0001n;
        w.u64(v, le), oracle.setBigUint64(at, v, le), at += 8;
        break;
      }
      case 4: {
        const v = -rnd(1 << 30);
        w.i32(v, le), oracle.setInt32(at, v, le), at += 4;
        break;
      }
      case 5: {
        const v = -BigInt(rnd(1 << 30));
        w.i64(v, le), oracle.setBigInt64(at, v, le), at += 8;
        break;
      }
      case 6: {
        const v = rnd(1000) / 7;
        w.f32(v, le), oracle.setFloat32(at, v, le), at += 4;
        break;
      }
      case 7: {
        const v = rnd(1000) / 7;
        w.f64(v, le), oracle.setFloat64(at, v, le), at += 8;
        break;
      }
      case 8: {
        const b = new Uint8Array(rnd(400)).map(() => rnd(256));
        w.bytes(b);
        new Uint8Array(oracle.buffer).set(b, at);
        at += b.length;
        break;
      }
      case 9: {
        const v = -rnd(32768);
        w.i16(v, le), oracle.setInt16(at, v, le), at += 2;
        break;
      }
      default: {
        const s = STRINGS[rnd(STRINGS.length)];
        w.string(s);
        const e = new TextEncoder().encode(s);
        new Uint8Array(oracle.buffer).set(e, at);
        at += e.length;
      }
    }
  }
  w.fillLength(m);
  oracle.setUint32(start, at - start - 4, true);
  return at;
}

for (const maxOrder of [0, 3]) {
  test(`random records round-trip byte for byte (maxOrder ${maxOrder})`, () => {
    const cache = createPageFragCache({ maxOrder });
    const w = new FragWriter(cache, { minChunk: 64 });
    const oracle = new DataView(new ArrayBuffer(1 << 16));
    let multi = 0;
    for (let r = 0; r < 500; r++) {
      const end = record(w, oracle, 0);
      const list = w.finishList()!;
      assert.ok(list !== null, "memory is unlimited");
      assert.equal(w.lastBytes, end, "lastBytes is the record's size");
      assert.deepEqual(
        list.toBytes(),
        new Uint8Array(oracle.buffer, 0, end),
        `record ${r}`,
      );
      if (list.count > 1) multi++;
      list.free();
    }
    if (maxOrder === 0) {
      assert.ok(multi > 0, "some records outgrew a 4 KiB page");
    }
    cache.drain();
    assert.equal(
      cache.backend.stats().bytesInUse,
      0,
      "every fragment was freed once",
    );
  });
}

test("finish returns one fragment when begin(minSize) reserved the room", () => {
  const cache = createPageFragCache({ maxOrder: 0 });
  const w = new FragWriter(cache);
  for (let i = 0; i < 50; i++) {
    const addr = w.begin(900).bytes(new Uint8Array(900).fill(i)).finish()!;
    assert.equal(w.fragments.count, 1, "fits one page");
    assert.equal(cache.backend.view(addr, 900)[899], i);
    cache.free(addr);
  }
});

test("a length prefix reserved on one page is filled after the record moved on", () => {
  const cache = createPageFragCache({ maxOrder: 0 });
  const w = new FragWriter(cache);
  w.bytes(new Uint8Array(4090)); // leave 6 bytes in the page
  w.finish();
  w.fragments.free();
  const m = w.reserve(4);
  w.bytes(new Uint8Array(5000).fill(1));
  w.fillLength(m);
  const list = w.finishList()!;
  assert.ok(list.count >= 2);
  const b = list.toBytes();
  assert.equal(
    new DataView(b.buffer).getUint32(0),
    5000,
    "the prefix, on the first page",
  );
  list.free();
});

test("finishInto coalesces contiguous records with commitNoref: one reference", () => {
  const cache = createPageFragCache({ maxOrder: 0 });
  const w = new FragWriter(cache);
  const list = new FragList(cache);
  for (let i = 0; i < 2000; i++) w.u32(i).finishInto(list);
  assert.equal(list.bytes, 8000);
  assert.ok(
    list.count <= 3,
    `8000 bytes over 4 KiB pages in ${list.count} fragments`,
  );
  const dv = new DataView(list.toBytes().buffer);
  for (let i = 0; i < 2000; i++) assert.equal(dv.getUint32(i * 4), i);
  list.free();
  cache.drain();
  assert.equal(
    cache.backend.stats().bytesInUse,
    0,
    "one free per fragment was enough",
  );
});

test("out of memory mid-record is sticky: finish returns null, nothing leaks", () => {
  const cache = createPageFragCache({ maxBytes: 8192, maxOrder: 0 });
  const w = new FragWriter(cache);
  const keep = w.bytes(new Uint8Array(3000)).finish()!;
  w.bytes(new Uint8Array(9000)); // more than the budget
  w.u32(1).string("more");
  assert.equal(w.finish(), null, "the record could not be written");
  assert.equal(w.fragments.count, 0);
  cache.free(keep);
  cache.drain();
  assert.equal(
    cache.backend.stats().bytesInUse,
    0,
    "the partial record's pages went back",
  );
  assert.ok(w.u8(1).finish() !== null, "the writer works again");
  w.fragments.free();
});

test("after out of memory, the next page (maybe the same address, a new buffer) gets the bytes", () => {
  // Regression: the heap backend hands a released slot out again with a
  // fresh ArrayBuffer; a writer that kept its old view wrote into the void.
  const cache = createPageFragCache({ maxBytes: 1 << 16 });
  const w = new FragWriter(cache);
  const held: number[] = [];
  let ooms = 0;
  for (let i = 0; i < 300; i++) {
    const m = w.reserve(4);
    w.u32(i).bytes(new Uint8Array(500).fill(i & 255)).fillLength(m);
    if (w.finish() === null) {
      ooms++;
      for (const a of held.splice(0)) cache.free(a);
      i--;
      continue;
    }
    const b = w.fragments.toBytes();
    const dv = new DataView(b.buffer);
    assert.equal(dv.getUint32(0), 504, `record ${i}: its length prefix`);
    assert.equal(dv.getUint32(4), i, `record ${i}: its first field`);
    for (let k = 0; k < w.fragments.count; k++) held.push(w.fragments.addrs[k]);
  }
  assert.ok(ooms > 0, "the budget ran out and was freed again");
  for (const a of held) cache.free(a);
});

test("allocating from the writer's cache mid-record is ESTATE", () => {
  const cache = createPageFragCache();
  const w = new FragWriter(cache);
  w.u32(1).finish();
  w.fragments.free();
  w.u32(2);
  const stolen = cache.allocHandle(8)!;
  assert.throws(() => w.finish(), { code: "ESTATE" });
  cache.free(stolen);
});

test("bad input: reserve width, patch range, empty record", () => {
  const w = new FragWriter(createPageFragCache());
  assert.throws(() => w.reserve(3 as 1), { code: "EINVAL_OPTION" });
  const m = w.reserve(1);
  assert.throws(() => w.patch(m, 256), { code: "EINVAL_SIZE" });
  assert.throws(() => w.patch(7, 1), { code: "ESTATE" });
  w.patch(m, 1);
  w.fragments.cache.free(w.finish()!);
  assert.throws(() => w.finish(), { code: "EINVAL_SIZE" }, "nothing written");
  assert.throws(() => new FragWriter(createPageFragCache(), { minChunk: 1 }), {
    code: "EINVAL_OPTION",
  });
});

test("short strings that straddle pages keep every byte (any character)", () => {
  const cache = createPageFragCache({ maxOrder: 0 });
  const w = new FragWriter(cache, { minChunk: 8 });
  const parts = ["é€😀abc", "plain", "\u07ff\u0800", "😀😀", "z"];
  let expect = "";
  for (let i = 0; i < 3000; i++) {
    const s = parts[i % parts.length];
    w.string(s);
    expect += s;
  }
  const list = w.finishList()!;
  assert.ok(list.count > 3, "the record crossed pages");
  assert.equal(new TextDecoder().decode(list.toBytes()), expect);
  list.free();
});

test("bytes(src, start, end) copies the range, from a Buffer or a Uint8Array", async () => {
  const { Buffer } = await import("node:buffer");
  const cache = createPageFragCache();
  const w = new FragWriter(cache);
  const src = new Uint8Array(300).map((_, i) => i & 255);
  const buf = Buffer.from(src);
  w.bytes(src, 10, 20).bytes(buf, 100, 250).bytes(src, 5, 5);
  const list = w.finishList()!;
  assert.deepEqual([...list.toBytes()], [
    ...src.subarray(10, 20),
    ...src.subarray(100, 250),
  ]);
  list.free();
  assert.throws(() => w.bytes(src, 10, 400), { code: "EINVAL_SIZE" });
});
