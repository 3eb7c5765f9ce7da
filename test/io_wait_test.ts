// Waiting for memory (io/wait.ts): allocAsync, allocHandleAsync and
// prepareAsync on a backend with a release signal (a test wrapper until the
// built-in backends implement it), on one without (polling), and across
// real workers on the shared and wasm backends.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createPageFragCache, HeapBackend } from "../mod.ts";
import type { MemoryBackend } from "../core/backend.ts";
import type { AllocOptions } from "../core/cache.ts";
import { SharedBackend } from "../backends/shared.ts";
import { WasmBackend } from "../backends/wasm.ts";
import { FragRing } from "../io/ring.ts";
import {
  allocAsync,
  allocHandleAsync,
  prepareAsync,
  WAIT_SLICE_MS,
  type WaitableCache,
} from "../io/wait.ts";
import { runWorker } from "./worker_util.ts";
import { SignalBackend } from "./workers/io_signal_backend.ts";
import type { IoWaitData, IoWaitResult } from "./workers/io_wait_worker.ts";

const code = (c: string) => ({ code: c });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const PAGE = 4096;

/** A cache over `backend` that counts allocation attempts. */
function counted(backend: MemoryBackend) {
  const cache = createPageFragCache({ backend });
  const c = {
    cache,
    attempts: 0,
    backend,
    allocHandle(size: number, opts?: AllocOptions) {
      c.attempts++;
      return cache.allocHandle(size, opts);
    },
    prepare(size: number, opts?: AllocOptions) {
      c.attempts++;
      return cache.prepare(size, opts);
    },
  } satisfies WaitableCache & Record<string, unknown>;
  return c;
}

/** Fill the budget with 1 KiB fragments; returns them. */
function fill(cache: WaitableCache): number[] {
  const frags: number[] = [];
  for (let i = 0; i < 1000; i++) {
    const a = cache.allocHandle(1024);
    if (a === null) return frags;
    frags.push(a);
  }
  throw new Error("the budget never ran out");
}

const signalled = () =>
  new SignalBackend(new HeapBackend({ maxBytes: 4 * PAGE, maxOrder: 0 }));
/** A backend without a release signal: the waiters must poll. */
class UnsignalledHeap extends HeapBackend {
  // deno-lint-ignore no-explicit-any
  override get releaseSignal(): any {
    return undefined;
  }
}
const plain = () => new UnsignalledHeap({ maxBytes: 4 * PAGE, maxOrder: 0 });
/** The heap backend's own signal (no test wrapper). */
const heap = () => new HeapBackend({ maxBytes: 4 * PAGE, maxOrder: 0 });

test("resolves at once while there is room, with the allocation options", async () => {
  const c = counted(signalled());
  const addr = await allocHandleAsync(c, 100, { align: 256 });
  assert.equal(addr % 256, 0, "aligned");
  const view = await allocAsync(c, 10, { zero: true });
  assert.deepEqual([...view], new Array(10).fill(0), "zeroed as asked");
  assert.equal(c.attempts, 2, "one attempt each: no waiting");
  c.cache.free(addr);
  c.cache.free(view);
});

for (
  const [name, make] of [
    ["release signal", signalled],
    ["heap release signal", heap],
    ["polling", plain],
  ] as const
) {
  test(`${name}: waits while the budget is spent, resolves after the frees`, async () => {
    const c = counted(make());
    const frags = fill(c);
    const before = c.attempts;
    let resolved = false;
    const p = allocHandleAsync(c, 1024, { timeout: 10_000 }).then((a) => {
      resolved = true;
      return a;
    });
    await sleep(200);
    assert.equal(resolved, false, "nothing was freed yet");
    const waits = c.attempts - before;
    if (name !== "polling") {
      assert.ok(
        waits <= 3,
        `sleeps on the signal, not a poll: ${waits} attempts in 200 ms`,
      );
    } else {
      assert.ok(
        waits >= 3 && waits <= 20,
        `bounded polling with backoff: ${waits} attempts in 200 ms`,
      );
    }
    for (const f of frags) c.cache.free(f);
    const t = performance.now();
    const addr = await p;
    assert.ok(performance.now() - t < 100, "woken soon after the frees");
    assert.ok(addr > 0);
    c.cache.free(addr);
    c.cache.drain();
    assert.equal(c.backend.stats().bytesInUse, 0, "nothing leaked");
  });
}

test("several waiters all get memory as it comes back", async () => {
  const c = counted(signalled());
  const frags = fill(c);
  const waiters = [1, 2, 3, 4, 5, 6].map(() =>
    allocHandleAsync(c, 1024, { timeout: 10_000 })
  );
  await sleep(20);
  for (const f of frags) {
    c.cache.free(f);
    await sleep(1);
  }
  const got = await Promise.all(waiters);
  assert.equal(new Set(got).size, 6, "six distinct fragments");
  for (const a of got) c.cache.free(a);
});

test("timeout: ETIMEDOUT after about that long", async () => {
  const c = counted(signalled());
  const frags = fill(c);
  const t = performance.now();
  await assert.rejects(
    allocHandleAsync(c, 1024, { timeout: 60 }),
    code("ETIMEDOUT"),
  );
  const took = performance.now() - t;
  assert.ok(took >= 55 && took < 1000, `took ${took} ms`);
  await assert.rejects(
    prepareAsync(c, 1024, { timeout: 0 }),
    code("ETIMEDOUT"),
    "0: one try",
  );
  for (const f of frags) c.cache.free(f);
});

test("abort: EABORTED promptly, even mid-slice; an aborted signal fails at once", async () => {
  for (const make of [signalled, plain]) {
    const c = counted(make());
    const frags = fill(c);
    const ctl = new AbortController();
    const p = allocAsync(c, 1024, { signal: ctl.signal });
    await sleep(10);
    const t = performance.now();
    ctl.abort(new Error("shutting down"));
    await assert.rejects(p, (e: Error & { code?: string }) => {
      assert.equal(e.code, "EABORTED");
      assert.match(e.message, /shutting down/, "names the reason");
      return true;
    });
    assert.ok(performance.now() - t < 100, "did not sleep out the slice");
    const n = c.attempts;
    await assert.rejects(
      allocAsync(c, 8, { signal: AbortSignal.abort() }),
      code("EABORTED"),
    );
    assert.equal(c.attempts, n, "no attempt with an aborted signal");
    for (const f of frags) c.cache.free(f);
  }
});

test("bad input rejects with the right code and leaves the cache as it was", async () => {
  const c = counted(signalled());
  await assert.rejects(allocHandleAsync(c, 0), code("EINVAL_SIZE"));
  await assert.rejects(allocHandleAsync(c, 1.5), code("EINVAL_SIZE"));
  await assert.rejects(
    allocAsync(c, 8, { timeout: -1 }),
    code("EINVAL_OPTION"),
  );
  await assert.rejects(
    allocAsync(c, 8, { timeout: NaN }),
    code("EINVAL_OPTION"),
  );
  await assert.rejects(
    allocAsync(c, 8, { signal: "stop" as unknown as AbortSignal }),
    code("EINVAL_OPTION"),
  );
  await assert.rejects(allocAsync(c, 8, { align: 3 }), code("EINVAL_ALIGN"));
  assert.equal(c.backend.stats().bytesInUse, 0, "no page was taken");
});

test("prepareAsync waits, then commit takes the prepared bytes", async () => {
  const c = counted(signalled());
  const frags = fill(c);
  const p = prepareAsync(c, 2000, { timeout: 10_000 });
  setTimeout(() => {
    for (const f of frags) c.cache.free(f);
  }, 20);
  const prep = await p;
  assert.ok(prep.size >= 2000);
  const addr = c.cache.commit(2000);
  assert.equal(addr, prep.addr, "the prepared address");
  c.cache.free(addr);
});

for (const kind of ["shared", "wasm"] as const) {
  test(`${kind}: a free in another worker wakes the waiter`, async () => {
    const inner = kind === "shared"
      ? new SharedBackend({ maxBytes: 8 * PAGE, maxOrder: 0 })
      : new WasmBackend({ maxBytes: 8 * PAGE, maxOrder: 0 });
    const word = new SharedArrayBuffer(4);
    const c = counted(new SignalBackend(inner, word));
    const frags = fill(c);
    const ring = new FragRing(64);
    for (const f of frags) ring.tryPush(f, 1024);
    ring.close();
    const worker = runWorker<IoWaitResult>(
      new URL("./workers/io_wait_worker.ts", import.meta.url),
      {
        backend: inner.share(),
        word,
        ring: ring.share(),
        delayMs: 300,
        gapMs: 2,
      } satisfies IoWaitData,
      60_000,
    );
    const before = c.attempts;
    const t = performance.now();
    const addr = await allocHandleAsync(c, 1024, { timeout: 30_000 });
    const slices = Math.ceil((performance.now() - t) / WAIT_SLICE_MS);
    const wokeAt = performance.timeOrigin + performance.now();
    const r = await worker;
    assert.equal(r.freed, frags.length, "the worker freed every fragment");
    assert.ok(r.signalled >= 1, "and released pages");
    assert.ok(
      wokeAt >= r.firstFreeAt,
      "the waiter woke only after the worker began to free",
    );
    assert.ok(
      c.attempts - before <= 2 + r.signalled + slices,
      `one attempt per wake-up or slice, no polling: ${
        c.attempts - before
      } attempts, ${r.signalled} releases, ${slices} slices`,
    );
    c.cache.free(addr);
    c.cache.drain();
    assert.equal(inner.stats().bytesInUse, 0, "every page went back");
  });
}
