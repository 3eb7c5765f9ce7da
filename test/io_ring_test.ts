// FragRing (io/ring.ts): the single-producer single-consumer ring of
// fragments, alone and between two real workers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SharedBackend } from "../backends/shared.ts";
import { FragRing } from "../io/ring.ts";
import { MpscFragRing } from "../io/mpsc_ring.ts";
import { runWorkers } from "./worker_util.ts";
import type {
  IoRingData,
  IoRingResult,
  PopMode,
} from "./workers/io_ring_worker.ts";
import type { IoMpscData, IoMpscResult } from "./workers/io_mpsc_worker.ts";

const code = (c: string) => ({ code: c });

test("capacity must be a power of two from 2 to 2^24", () => {
  for (const bad of [0, 1, 3, 100, 2 ** 25, 2.5, NaN, "8", -4]) {
    assert.throws(
      () => new FragRing(bad as number),
      code("EINVAL_OPTION"),
      `capacity ${String(bad)}`,
    );
  }
  assert.equal(new FragRing(2).capacity, 2);
  assert.equal(new FragRing().capacity, 1024, "the default");
});

test("FIFO order across many wrap-arounds, full and empty at the edges", () => {
  const ring = new FragRing(8);
  let next = 0, expect = 0;
  for (let round = 0; round < 100; round++) {
    const pushes = Math.min(1 + (round % 8), 8 - ring.size());
    for (let k = 0; k < pushes; k++) {
      assert.ok(ring.tryPush(4096 + next, next & 1023), "room");
      next++;
    }
    while (ring.size() > round % 3) {
      const a = ring.tryPop();
      assert.equal(a, 4096 + expect, `item ${expect} in order`);
      assert.equal(ring.length, expect & 1023, "with its length");
      expect++;
    }
  }
  while (ring.tryPop() !== 0) expect++;
  assert.equal(expect, next, "everything pushed came out once");
  for (let k = 0; k < 8; k++) assert.ok(ring.tryPush(4096, 1));
  assert.equal(ring.tryPush(4096, 1), false, "a full ring refuses");
  assert.equal(ring.size(), 8);
});

test("bad (address, length) pairs are EINVAL_OPTION and push nothing", () => {
  const ring = new FragRing(4);
  for (
    const [a, l] of [[0, 1], [-1, 1], [2 ** 32, 1], [1.5, 1], [4096, -1], [
      4096,
      2 ** 32,
    ]]
  ) {
    assert.throws(
      () => ring.tryPush(a, l),
      code("EINVAL_OPTION"),
      `${a}, ${l}`,
    );
  }
  assert.equal(ring.size(), 0, "nothing went in");
  assert.equal(
    ring.tryPush(0xffff_ffff, 0xffff_ffff),
    true,
    "the u32 extremes are fine",
  );
  assert.equal(ring.tryPop(), 0xffff_ffff);
  assert.equal(ring.length, 0xffff_ffff);
});

test("pushMany/popMany move what fits and publish once", () => {
  const ring = new FragRing(4);
  assert.equal(ring.pushMany([4096, 8192, 12288], [1, 2, 3]), 3);
  assert.equal(ring.pushMany([16384, 20480], [4, 5]), 1, "one slot left");
  const a = new Uint32Array(8), l = new Uint32Array(8);
  assert.equal(ring.popMany(a, l, 2), 2, "at most max");
  assert.deepEqual([...a.subarray(0, 2)], [4096, 8192]);
  assert.equal(ring.popMany(a, l), 2);
  assert.deepEqual([...l.subarray(0, 2)], [3, 4]);
  assert.equal(ring.popMany(a, l), 0, "empty");
  assert.throws(
    () => ring.pushMany([4096, 0], [1, 1]),
    code("EINVAL_OPTION"),
    "a bad address in a batch",
  );
  assert.equal(ring.size(), 1, "the good ones before it were kept");
});

test("attach validates its descriptor and sees the same ring", () => {
  const ring = new FragRing(16);
  const other = FragRing.attach(structuredClone(ring.share()));
  ring.tryPush(4096, 3);
  assert.equal(other.tryPop(), 4096, "one ring, two handles");
  assert.throws(
    () => FragRing.attach({ ...ring.share(), kind: "x" as "pagefrag.ring" }),
    code("EINVAL_OPTION"),
  );
  assert.throws(
    () => FragRing.attach({ ...ring.share(), capacity: 1024 }),
    code("EINVAL_OPTION"),
    "a buffer too small for the capacity",
  );
  assert.throws(
    () =>
      FragRing.attach({
        ...ring.share(),
        buffer: new ArrayBuffer(1024) as unknown as SharedArrayBuffer,
      }),
    code("EINVAL_OPTION"),
    "not shared memory",
  );
});

test("close: the rest still arrives, then pops end; pushes are ESTATE", async () => {
  const ring = new FragRing(4);
  ring.tryPush(4096, 1);
  ring.close();
  assert.throws(() => ring.tryPush(8192, 1), code("ESTATE"));
  assert.equal(await ring.popAsync(), 4096);
  assert.equal(await ring.popAsync(), 0, "closed and empty");
  assert.equal(ring.pop(), 0, "no wait either");
  const full = new FragRing(2);
  full.tryPush(4096, 1);
  full.tryPush(4096, 1);
  const waiting = full.pushAsync(4096, 1);
  setTimeout(() => full.close(), 5);
  await assert.rejects(
    waiting,
    code("ESTATE"),
    "a waiting push learns of the close",
  );
});

test("timed and aborted waits", async () => {
  const ring = new FragRing(2);
  let t = performance.now();
  assert.equal(ring.pop(30), 0, "empty for 30 ms");
  assert.ok(performance.now() - t >= 25, "pop waited");
  t = performance.now();
  await assert.rejects(ring.popAsync({ timeout: 30 }), code("ETIMEDOUT"));
  assert.ok(performance.now() - t >= 25, "popAsync waited");
  const ctl = new AbortController();
  const p = ring.popAsync({ signal: ctl.signal });
  setTimeout(() => ctl.abort(new Error("shutdown")), 5);
  await assert.rejects(p, code("EABORTED"));
  await assert.rejects(
    ring.popAsync({ signal: AbortSignal.abort() }),
    code("EABORTED"),
    "already aborted",
  );
  await assert.rejects(
    ring.popAsync({ timeout: -1 }),
    code("EINVAL_OPTION"),
  );
  await assert.rejects(
    ring.popAsync({ signal: {} as AbortSignal }),
    code("EINVAL_OPTION"),
  );
  ring.tryPush(4096, 1);
  ring.tryPush(4096, 1);
  assert.equal(ring.push(4096, 1, 20), false, "full for 20 ms");
  await assert.rejects(
    ring.pushAsync(4096, 1, { timeout: 20 }),
    code("ETIMEDOUT"),
  );
});

test("popAsync is woken by a push, pushAsync by a pop", async () => {
  const ring = new FragRing(2);
  const p = ring.popAsync({ timeout: 5000 });
  setTimeout(() => ring.tryPush(4096, 42), 10);
  assert.equal(await p, 4096);
  assert.equal(ring.length, 42);
  ring.tryPush(4096, 1);
  ring.tryPush(8192, 1);
  const q = ring.pushAsync(12288, 1, { timeout: 5000 });
  setTimeout(() => ring.tryPop(), 10);
  await q;
  assert.equal(ring.size(), 2, "the waiting push went in after the pop");
});

async function crossWorker(mode: PopMode, batch: number, count: number) {
  const backend = new SharedBackend({ maxBytes: 64 << 20 });
  const ring = new FragRing(256);
  const base = {
    ring: ring.share(),
    backend: backend.share(),
    count,
    mode,
    batch,
  };
  const [prod, cons] = await runWorkers<IoRingResult>(
    new URL("./workers/io_ring_worker.ts", import.meta.url),
    [
      { ...base, role: "producer" } satisfies IoRingData,
      { ...base, role: "consumer" } satisfies IoRingData,
    ],
    60_000,
  );
  assert.equal(prod.handled, count, "the producer pushed every fragment");
  assert.equal(cons.bad, 0, cons.firstBad);
  assert.equal(
    cons.handled,
    count,
    "the consumer got every fragment, in order",
  );
  assert.equal(ring.size(), 0, "the ring is empty");
  assert.equal(backend.stats().bytesInUse, 0, "every fragment was freed");
}

for (
  const [mode, batch] of [
    ["pop", 1],
    ["tryPop", 1],
    ["popAsync", 1],
    ["popMany", 32],
  ] as const
) {
  test(`two workers: ${mode}, producer batch ${batch}`, async () => {
    await crossWorker(mode, batch, 10_000);
  });
}

// ------------------------------------------------------- MpscFragRing

test("MpscFragRing alone: FIFO, full, close, bad input", async () => {
  assert.throws(() => new MpscFragRing(3), code("EINVAL_OPTION"));
  const ring = new MpscFragRing(4);
  for (let lap = 0; lap < 50; lap++) {
    for (let k = 0; k < 4; k++) assert.ok(ring.tryPush(4096 + k, lap), "room");
    assert.equal(ring.tryPush(4096, 0), false, "full");
    for (let k = 0; k < 4; k++) {
      assert.equal(ring.tryPop(), 4096 + k, "in order");
      assert.equal(ring.length, lap);
    }
    assert.equal(ring.tryPop(), 0, "empty");
  }
  assert.throws(() => ring.tryPush(0, 1), code("EINVAL_OPTION"));
  assert.equal(ring.pop(20), 0, "timed out");
  await assert.rejects(ring.popAsync({ timeout: 10 }), code("ETIMEDOUT"));
  const p = ring.popAsync({ timeout: 5000 });
  setTimeout(() => ring.tryPush(8192, 7), 5);
  assert.equal(await p, 8192, "woken by a push");
  ring.tryPush(4096, 1);
  ring.close();
  assert.throws(() => ring.tryPush(4096, 1), code("ESTATE"));
  assert.equal(await ring.popAsync(), 4096, "the rest still arrives");
  assert.equal(await ring.popAsync(), 0, "then the end");
  assert.throws(
    () => MpscFragRing.attach(new FragRing(4).share() as never),
    code("EINVAL_OPTION"),
    "an SPSC descriptor is not an MPSC one",
  );
});

for (
  const [producers, capacity, asyncPop] of [[3, 8, false], [3, 64, true], [
    4,
    2,
    false,
  ]] as const
) {
  test(`MpscFragRing stress: ${producers} producer workers, ${capacity} slots, ${asyncPop ? "async" : "blocking"} consumer`, async () => {
    const backend = new SharedBackend({ maxBytes: 64 << 20 });
    const ring = new MpscFragRing(capacity);
    const count = 4000;
    const base = {
      producers,
      count,
      ring: ring.share(),
      backend: backend.share(),
      ctl: new SharedArrayBuffer(128),
      asyncPop,
    };
    const data: IoMpscData[] = [
      { ...base, role: "consumer", id: -1 },
      ...Array.from(
        { length: producers },
        (_, id) => ({ ...base, role: "producer" as const, id }),
      ),
    ];
    const [cons] = await runWorkers<IoMpscResult>(
      new URL("./workers/io_mpsc_worker.ts", import.meta.url),
      data,
      90_000,
    );
    assert.equal(cons.bad, 0, cons.firstBad);
    assert.equal(cons.handled, producers * count, "every fragment, once");
    assert.equal(backend.stats().bytesInUse, 0, "all freed");
  });
}

test("without Atomics.waitAsync the async waits poll (bounded) and still work", async () => {
  const A = Atomics as { waitAsync?: unknown };
  const saved = A.waitAsync;
  A.waitAsync = undefined;
  try {
    const ring = new FragRing(2);
    const p = ring.popAsync({ timeout: 5000 });
    setTimeout(() => ring.tryPush(4096, 1), 20);
    assert.equal(await p, 4096, "a poll saw the push");
    assert.ok(
      ring.sleeps >= 2 && ring.sleeps < 20,
      `a few polls, not a spin: ${ring.sleeps}`,
    );
    const m = new MpscFragRing(2);
    const q = m.popAsync({ timeout: 5000 });
    setTimeout(() => m.tryPush(8192, 1), 20);
    assert.equal(await q, 8192);
    await assert.rejects(ring.popAsync({ timeout: 20 }), code("ETIMEDOUT"));
  } finally {
    A.waitAsync = saved;
  }
});
