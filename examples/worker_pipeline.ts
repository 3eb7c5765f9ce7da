/**
 * A two-worker pipeline: a producer worker writes records straight into
 * page fragments of a shared backend and hands each (address, length) to a
 * consumer worker through a {@linkcode FragRing}; the consumer reads the
 * record in place and frees the fragment. No bytes are copied and no
 * message is posted per record.
 *
 * - Back-pressure by memory: the backend has a small budget, so when the
 *   consumer falls behind the producer's `allocHandle` returns `null` and
 *   the producer awaits {@linkcode allocHandleAsync}, which resolves when
 *   the consumer's frees give pages back.
 * - Back-pressure by slots: a full ring makes `pushAsync` wait.
 * - The end: the producer closes the ring; the consumer's `popAsync`
 *   resolves 0 once it has taken everything.
 *
 * The address of a fragment of the shared backend is its byte offset in
 * `backend.arena`, so one `Uint8Array` over the arena reads and writes
 * every fragment (`backend.view(addr, length)` gives a view of one).
 *
 * ```sh
 * deno run -A examples/worker_pipeline.ts
 * npx bun examples/worker_pipeline.ts
 * npx tsx examples/worker_pipeline.ts
 * ```
 *
 * `--quick`: 10,000 records instead of 1,000,000 (a CI smoke run).
 *
 * @module
 */
import process from "node:process";
import { isMainThread, Worker, workerData } from "node:worker_threads";
import assert from "node:assert/strict";
import { createPageFragCache } from "../mod.ts";
import {
  SharedBackend,
  type SharedBackendDescriptor,
} from "../backends/shared.ts";
import {
  allocHandleAsync,
  FragRing,
  type FragRingDescriptor,
} from "../io/mod.ts";

interface Job {
  role: "producer" | "consumer";
  backend: SharedBackendDescriptor;
  ring: FragRingDescriptor;
  count: number;
}

/** Record `i`: 16 to 1024 bytes; its first 4 bytes are `i`, the rest `i & 255`. */
const sizeOf = (i: number) => 16 + ((Math.imul(i, 0x9e3779b1) >>> 0) % 1009);

async function producer(job: Job): Promise<number> {
  const backend = SharedBackend.attach(job.backend);
  const cache = createPageFragCache({ backend });
  const ring = FragRing.attach(job.ring);
  // Views over the whole arena, made once (they track it as it grows).
  const mem = new Uint8Array(backend.arena);
  const dv = new DataView(backend.arena);
  let waits = 0;
  for (let i = 0; i < job.count; i++) {
    const size = sizeOf(i);
    let addr = cache.allocHandle(size);
    if (addr === null) {
      waits++; // the budget is spent: wait for the consumer to free
      addr = await allocHandleAsync(cache, size, { timeout: 30_000 });
    }
    dv.setUint32(addr, i, true);
    mem.fill(i & 255, addr + 4, addr + size);
    if (!ring.tryPush(addr, size)) {
      await ring.pushAsync(addr, size, { timeout: 30_000 });
    }
  }
  ring.close();
  cache.drain();
  return waits;
}

async function consumer(job: Job): Promise<number> {
  const backend = SharedBackend.attach(job.backend);
  const ring = FragRing.attach(job.ring);
  const mem = new Uint8Array(backend.arena);
  const dv = new DataView(backend.arena);
  let n = 0;
  for (;;) {
    const addr = await ring.popAsync({ timeout: 30_000 });
    if (addr === 0) break; // closed and empty
    const length = ring.length;
    const seq = dv.getUint32(addr, true);
    assert.equal(seq, n, "records arrive in order");
    assert.equal(length, sizeOf(n), "with their length");
    assert.equal(mem[addr + length - 1], n & 255, "and their bytes");
    backend.free(addr); // any worker attached to the arena may free
    n++;
  }
  return n;
}

/**
 * Start this file as a worker. Deno and Bun run a `.ts` worker directly;
 * Node needs tsx registered inside the worker first.
 */
function start(job: Job): Worker {
  const url = new URL(import.meta.url);
  if ("Deno" in globalThis || "Bun" in globalThis) {
    return new Worker(url, { workerData: job });
  }
  const tsx = JSON.stringify(import.meta.resolve("tsx/esm/api"));
  const boot = `import(${tsx}).then((m) => { m.register(); return import(${
    JSON.stringify(url.href)
  }); });`;
  return new Worker(boot, { eval: true, workerData: job });
}

function result(w: Worker): Promise<number> {
  return new Promise((resolve, reject) => {
    w.once("message", resolve);
    w.once("error", reject);
  });
}

async function main(): Promise<void> {
  const quick = process.argv.includes("--quick");
  const count = quick ? 10_000 : 1_000_000;
  // A 256 KiB budget holds fewer records than the ring has slots, so a
  // consumer that falls behind makes the producer wait for memory.
  const backend = new SharedBackend({ maxBytes: 256 << 10 });
  const ring = new FragRing(1024);
  const base = { backend: backend.share(), ring: ring.share(), count };
  const t0 = performance.now();
  const workers = [
    start({ ...base, role: "producer" }),
    start({ ...base, role: "consumer" }),
  ];
  try {
    const [waits, received] = await Promise.all(workers.map(result));
    const s = (performance.now() - t0) / 1000;
    assert.equal(received, count, "every record arrived");
    assert.equal(backend.stats().bytesInUse, 0, "every page went back");
    console.log(
      `${received.toLocaleString("en-US")} records in ${s.toFixed(2)} s ` +
        `(${
          Math.round(received / s).toLocaleString("en-US")
        }/s, worker start-up included); ` +
        `the producer waited for memory ${waits} times`,
    );
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

if (isMainThread) {
  await main();
} else {
  const job = workerData as Job;
  const { parentPort } = await import("node:worker_threads");
  const out = await (job.role === "producer" ? producer(job) : consumer(job));
  parentPort!.postMessage(out);
}
