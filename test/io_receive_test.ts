// The receive engine on in-memory bytes: every framing, every split of the
// stream, frames straddling page ends, and the end of the stream.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createPageFragCache } from "../mod.ts";
import {
  delimited,
  type Frame,
  FrameReceiver,
  lengthPrefixed,
  pumpReader,
  pumpStream,
  rawChunks,
  readFrames,
  streamFrames,
} from "../io/mod.ts";

/** Frames of `sizes`, payload byte j of frame i = (i * 7 + j) & 255, with a prefix. */
function encode(sizes: number[], width: 1 | 2 | 4, le: boolean): Uint8Array {
  const total = sizes.reduce((a, s) => a + s + width, 0);
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  let at = 0;
  sizes.forEach((s, i) => {
    if (width === 1) dv.setUint8(at, s);
    else if (width === 2) dv.setUint16(at, s, le);
    else dv.setUint32(at, s, le);
    at += width;
    for (let j = 0; j < s; j++) out[at + j] = (i * 7 + j) & 255;
    at += s;
  });
  return out;
}

function checker(cache: ReturnType<typeof createPageFragCache>) {
  const seen: number[] = [];
  let bad = 0;
  const onFrame = (f: Frame) => {
    const i = seen.length;
    for (let j = 0; j < f.length; j++) {
      if (f.bytes[f.offset + j] !== ((i * 7 + j) & 255)) bad++;
    }
    // The fragment view and the page view agree.
    const view = cache.backend.view(f.addr, f.size);
    if (f.length > 0 && view[f.size - f.length] !== f.bytes[f.offset]) bad++;
    seen.push(f.length);
    f.free();
  };
  return { seen, onFrame, bad: () => bad };
}

let seed = 12345;
const rnd = (n: number) => {
  seed = (seed * 1103515245 + 12345) >>> 0;
  return seed % n;
};

for (const width of [1, 2, 4] as const) {
  for (const le of [false, true]) {
    test(`length prefix u${width * 8} ${le ? "LE" : "BE"}: every chunking gives the same frames`, () => {
      const max = width === 1 ? 255 : 3000;
      const sizes = Array.from(
        { length: 300 },
        () => rnd(max) + (width === 1 ? 0 : 1),
      );
      const bytes = encode(sizes, width, le);
      for (const chunk of [1, 3, 64, 1000, 4096, bytes.length]) {
        const cache = createPageFragCache({ maxOrder: 0 }); // 4 KiB pages: many straddles
        const c = checker(cache);
        const rx = new FrameReceiver(
          cache,
          lengthPrefixed({ width, littleEndian: le, maxFrame: max }),
          c.onFrame,
          { minRead: 512 },
        );
        for (let i = 0; i < bytes.length; i += chunk) {
          assert.equal(
            rx.push(bytes.subarray(i, i + chunk)),
            Math.min(chunk, bytes.length - i),
          );
        }
        rx.end();
        assert.deepEqual(c.seen, sizes, `chunk ${chunk}: the frames, in order`);
        assert.equal(c.bad(), 0, `chunk ${chunk}: every payload byte intact`);
        cache.drain();
        assert.equal(
          cache.backend.stats().bytesInUse,
          0,
          "every page went back",
        );
      }
    });
  }
}

test("pull reads land in place: no copy unless a frame straddles a refill", () => {
  const cache = createPageFragCache({ maxOrder: 0 });
  const sizes = Array.from({ length: 200 }, () => rnd(900) + 1);
  const bytes = encode(sizes, 2, false);
  const c = checker(cache);
  const rx = new FrameReceiver(cache, lengthPrefixed({ width: 2 }), c.onFrame);
  let at = 0, reads = 0;
  while (at < bytes.length) {
    const into = rx.region()!;
    const n = Math.min(into.length, bytes.length - at, 1 + rnd(700));
    into.set(bytes.subarray(at, at + n));
    at += n;
    rx.received(n);
    reads++;
  }
  rx.end();
  assert.deepEqual(c.seen, sizes);
  assert.equal(c.bad(), 0);
  assert.ok(reads > 10);
});

test("frames are contiguous fragments: frame k+1 starts where frame k ended", () => {
  const cache = createPageFragCache();
  const addrs: number[] = [];
  const ends: number[] = [];
  const rx = new FrameReceiver(cache, lengthPrefixed({ width: 1 }), (f) => {
    addrs.push(f.addr);
    ends.push(f.addr + f.size);
  });
  const into = rx.region()!;
  into.set([2, 1, 1, 3, 2, 2, 2, 1, 3]);
  rx.received(9);
  assert.deepEqual(addrs.slice(1), ends.slice(0, -1), "no gap, no copy");
  for (const a of addrs) cache.free(a);
});

test("a receiver whose cache is allocated from mid-frame throws ESTATE", () => {
  const cache = createPageFragCache();
  const rx = new FrameReceiver(
    cache,
    lengthPrefixed({ width: 1 }),
    (f) => f.free(),
  );
  rx.push(Uint8Array.of(3, 1));
  const stolen = cache.allocHandle(10)!; // takes the pending bytes' place
  assert.throws(() => rx.push(Uint8Array.of(2, 3)), { code: "ESTATE" });
  cache.free(stolen);
});

test("oversized length and runaway delimiter are EINVAL_SIZE", () => {
  const cache = createPageFragCache();
  const rx = new FrameReceiver(
    cache,
    lengthPrefixed({ width: 2, maxFrame: 10 }),
    (f) => f.free(),
  );
  assert.throws(() => rx.push(Uint8Array.of(0, 11)), { code: "EINVAL_SIZE" });
  const rx2 = new FrameReceiver(
    cache,
    delimited("\n", { maxFrame: 100 }),
    (f) => f.free(),
  );
  assert.throws(() => rx2.push(new Uint8Array(200).fill(65)), {
    code: "EINVAL_SIZE",
  });
  const rx3 = new FrameReceiver(
    createPageFragCache({ maxOrder: 0 }),
    delimited("\n"),
    (f) => f.free(),
  );
  assert.throws(() => rx3.push(new Uint8Array(5000).fill(65)), {
    code: "EINVAL_SIZE",
  }, "no line end within a page");
});

test("delimiters: \\n and \\r\\n split across chunks, last line at the end", () => {
  for (const d of ["\n", "\r\n", "--end--"]) {
    const lines = Array.from(
      { length: 100 },
      (_, i) => "x".repeat(rnd(300)) + i,
    );
    const text = new TextEncoder().encode(lines.join(d));
    for (const chunk of [1, 2, 5, 333]) {
      const cache = createPageFragCache({ maxOrder: 0 });
      const out: string[] = [];
      const rx = new FrameReceiver(cache, delimited(d), (f) => {
        out.push(new TextDecoder().decode(f.data));
        f.free();
      }, { minRead: 256 });
      for (let i = 0; i < text.length; i += chunk) {
        rx.push(text.subarray(i, i + chunk));
      }
      rx.end();
      assert.deepEqual(out, lines, `${JSON.stringify(d)} / chunk ${chunk}`);
    }
  }
});

test("raw chunks: one fragment per read", () => {
  const cache = createPageFragCache();
  const sizes: number[] = [];
  const rx = new FrameReceiver(cache, rawChunks(), (f) => {
    sizes.push(f.length);
    f.free();
  });
  rx.push(new Uint8Array(10));
  rx.push(new Uint8Array(3000));
  assert.equal(sizes.reduce((a, b) => a + b), 3010);
  assert.equal(sizes[0], 10);
});

test("a cut-off length-prefixed frame at the end is ESTATE; its bytes are dropped", () => {
  const cache = createPageFragCache();
  const rx = new FrameReceiver(
    cache,
    lengthPrefixed({ width: 1 }),
    (f) => f.free(),
  );
  rx.push(Uint8Array.of(4, 1));
  assert.equal(rx.pending, 2);
  assert.throws(() => rx.end(), { code: "ESTATE" });
  cache.drain();
  assert.equal(
    cache.backend.stats().bytesInUse,
    0,
    "nothing was committed for them",
  );
});

test("no memory: push consumes what fits; region() is null; then it resumes", () => {
  const cache = createPageFragCache({ maxBytes: 4096, maxOrder: 0 });
  const held: Frame[] = [];
  const rx = new FrameReceiver(
    cache,
    lengthPrefixed({ width: 2 }),
    (f) => held.push(f.clone()),
    { minRead: 64 },
  );
  const bytes = encode([1000, 1000, 1000, 1000, 1000], 2, false);
  const used = rx.push(bytes);
  assert.ok(
    used < bytes.length,
    "the budget (one page) cannot hold five frames",
  );
  assert.equal(rx.region(), null, "still no room while frames are held");
  const first = held.length;
  assert.ok(first >= 1 && first < 5);
  for (const f of held.splice(0)) f.free();
  assert.equal(
    rx.push(bytes.subarray(used)),
    bytes.length - used,
    "the rest fits once freed",
  );
  rx.end();
  assert.equal(first + held.length, 5, "every frame arrived exactly once");
  assert.ok(held.every((f) => f.length === 1000));
  for (const f of held) f.free();
});

test("pumpReader and readFrames over a Deno-style reader", async () => {
  const sizes = Array.from({ length: 500 }, () => rnd(1024) + 16);
  const bytes = encode(sizes, 4, false);
  const reader = () => {
    let at = 0;
    return {
      read(buf: Uint8Array) {
        if (at === bytes.length) return Promise.resolve(null);
        const n = Math.min(buf.length, bytes.length - at, 1 + rnd(5000));
        buf.set(bytes.subarray(at, at + n));
        at += n;
        return Promise.resolve(n);
      },
    };
  };
  const cache = createPageFragCache();
  const c = checker(cache);
  await pumpReader(
    reader(),
    new FrameReceiver(cache, lengthPrefixed(), c.onFrame),
  );
  assert.deepEqual(c.seen, sizes);
  assert.equal(c.bad(), 0);
  const lens: number[] = [];
  for await (const f of readFrames(reader(), cache, lengthPrefixed())) {
    lens.push(f.length);
    f.free();
  }
  assert.deepEqual(lens, sizes);
  // Breaking early frees what was not handed out.
  for await (const f of readFrames(reader(), cache, lengthPrefixed())) {
    f.free();
    break;
  }
  cache.drain();
  assert.equal(
    cache.backend.stats().bytesInUse,
    0,
    "no fragment leaked by break",
  );
});

test("pumpStream and streamFrames over a Web ReadableStream", async () => {
  const sizes = Array.from({ length: 300 }, () => rnd(500) + 1);
  const bytes = encode(sizes, 2, true);
  const stream = () =>
    new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < bytes.length; i += 777) {
          c.enqueue(bytes.slice(i, i + 777));
        }
        c.close();
      },
    });
  const cache = createPageFragCache();
  const c = checker(cache);
  await pumpStream(
    stream(),
    new FrameReceiver(
      cache,
      lengthPrefixed({ width: 2, littleEndian: true }),
      c.onFrame,
    ),
  );
  assert.deepEqual(c.seen, sizes);
  assert.equal(c.bad(), 0);
  let n = 0;
  for await (
    const f of streamFrames(
      stream(),
      cache,
      lengthPrefixed({ width: 2, littleEndian: true }),
    )
  ) {
    n++;
    f.free();
  }
  assert.equal(n, sizes.length);
  cache.drain();
  assert.equal(cache.backend.stats().bytesInUse, 0);
});

test("pumpReader waits for memory through waitForMemory, then goes on", async () => {
  // A budget of one page; the consumer keeps every frame until the pump
  // asks for memory, then frees them: the pump must wait, not spin or fail.
  const cache = createPageFragCache({ maxBytes: 32768 });
  const sizes = Array.from({ length: 200 }, () => 900);
  const bytes = encode(sizes, 4, false);
  let at = 0;
  const reader = {
    read(buf: Uint8Array) {
      if (at === bytes.length) return Promise.resolve(null);
      const n = Math.min(buf.length, bytes.length - at);
      buf.set(bytes.subarray(at, at + n));
      at += n;
      return Promise.resolve(n);
    },
  };
  const held: number[] = [];
  let waits = 0, got = 0;
  const rx = new FrameReceiver(cache, lengthPrefixed(), (f) => {
    got++;
    held.push(f.addr);
  });
  await pumpReader(reader, rx, {
    waitForMemory: (n) => {
      waits++;
      assert.ok(n <= 32768, `asks for what fits a page, not ${n}`);
      for (const a of held.splice(0)) cache.free(a);
      return Promise.resolve();
    },
  });
  assert.equal(got, 200);
  assert.ok(waits > 0, "the budget made it wait");
  for (const a of held) cache.free(a);
  await assert.rejects(
    pumpReader(
      { read: (b: Uint8Array) => Promise.resolve(b.length) },
      new FrameReceiver(
        createPageFragCache({ maxBytes: 32768 }),
        rawChunks(),
        () => {},
      ),
    ),
    { code: "ETIMEDOUT" },
    "no waitForMemory: fail instead of spinning",
  );
});

test("Deno.FsFile is a reader too: frames straight from a file", async (t) => {
  // deno-lint-ignore no-explicit-any
  const D = (globalThis as any).Deno;
  if (D?.open === undefined) return t.skip("no Deno.open on this runtime");
  const sizes = Array.from({ length: 300 }, () => rnd(2000) + 1);
  const path = await D.makeTempFile();
  try {
    await D.writeFile(path, encode(sizes, 2, false));
    const file = await D.open(path, { read: true });
    const cache = createPageFragCache();
    const c = checker(cache);
    try {
      await pumpReader(
        file,
        new FrameReceiver(cache, lengthPrefixed({ width: 2 }), c.onFrame),
      );
    } finally {
      file.close();
    }
    assert.deepEqual(c.seen, sizes);
    assert.equal(c.bad(), 0);
  } finally {
    await D.remove(path);
  }
});
