/**
 * The parent side of the fault scenarios (issue 13: H1, H2, H3, H5 and the
 * kill sweep): start a test/workers/fault_worker.ts worker, wait until it
 * holds shared state, check that a survivor's wait is bounded and names the
 * holder, kill the worker (terminate(), or its own process.exit()), recover,
 * and check that survivors go on with the whole budget and nothing lost.
 * Used by test/netdev_shared_test.ts, test/shared_test.ts and
 * test/wasm_test.ts.
 */
import assert from "node:assert/strict";
import type { Worker } from "node:worker_threads";
import {
  createNetdevCache,
  type PageFragError,
  SharedBackend,
  shareNetdevCache,
  WasmBackend,
} from "../../mod.ts";
import { startWorker } from "../worker_util.ts";
import type { FaultData } from "./fault_worker.ts";

const URL_ = new URL("./fault_worker.ts", import.meta.url);

/** Deno 2.9.5's terminate() does not stop a CPU-bound worker: there, workers exit by themselves. */
export const CAN_TERMINATE = !("Deno" in globalThis);

/** The ways a worker dies, on this runtime. */
export const DEATHS: readonly ("terminate" | "exit")[] = CAN_TERMINATE
  ? ["terminate", "exit"]
  : ["exit"];

interface Fault {
  worker: Worker;
  id: number;
  exited: Promise<unknown>;
  messages: Record<string, unknown>[];
  ctl: Int32Array;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function start(data: Omit<FaultData, "ctl">): Promise<Fault> {
  const sab = new SharedArrayBuffer(32);
  const ctl = new Int32Array(sab);
  const worker = startWorker(URL_, { ...data, ctl: sab });
  const messages: Record<string, unknown>[] = [];
  let failed: unknown;
  const exited = new Promise((r) => worker.on("exit", r));
  worker.on("error", (e) => (failed = e));
  worker.on("message", (m) => messages.push(m));
  const until = performance.now() + 20_000;
  while (!messages.some((m) => typeof m.id === "number")) {
    if (failed !== undefined) throw failed;
    if (performance.now() > until) throw new Error("the worker never attached");
    await sleep(5);
  }
  const id = messages.find((m) => typeof m.id === "number")!.id as number;
  return { worker, id, exited, messages, ctl };
}

/** Wait (without blocking the event loop) until the worker holds the state. */
async function holding(f: Fault): Promise<void> {
  const until = performance.now() + 20_000;
  while (Atomics.load(f.ctl, 0) !== 1) {
    if (performance.now() > until) {
      throw new Error("the worker never got there");
    }
    await sleep(2);
  }
}

/** Kill the worker and wait for its end. */
async function kill(f: Fault, death: "terminate" | "exit"): Promise<void> {
  if (death === "terminate") await f.worker.terminate();
  else {
    Atomics.store(f.ctl, 1, 1);
    Atomics.notify(f.ctl, 1);
  }
  const timeout = sleep(10_000).then(() => "timeout");
  assert.notEqual(
    await Promise.race([f.exited, timeout]),
    "timeout",
    "the worker ended",
  );
}

/** `fn` throws `code` within `ms` milliseconds, naming thread `id`. */
export function throwsNaming(
  fn: () => unknown,
  code: string,
  id: number,
  ms: number,
): void {
  const t0 = performance.now();
  assert.throws(fn, (e: PageFragError) => {
    assert.equal(e.code, code, e.message);
    assert.ok(e.message.includes(`thread ${id}`), e.message);
    return true;
  });
  const took = performance.now() - t0;
  assert.ok(took < ms, `the wait was bounded (${took.toFixed(0)} ms)`);
}

/**
 * H1 (`locked`, terminate), H2 (`locked`, exit), H3 (`refill`): a worker
 * dies holding a shared netdev cache's lock.
 */
export async function netdevDeath(
  backend: "shared" | "wasm",
  mode: "locked" | "refill",
  death: "terminate" | "exit",
): Promise<void> {
  const maxBytes = 2 << 20;
  const nd = createNetdevCache({ backend, maxBytes, lockTimeoutMs: 150 });
  const mine = nd.allocHandle(100)!;
  const f = await start({
    mode,
    netdev: shareNetdevCache(nd),
    exit: death === "exit",
  });
  await holding(f);
  throwsNaming(() => nd.allocHandle(10), "ETIMEDOUT", f.id, 1500);
  assert.equal(nd.lockHolder(), f.id, "the lock names its holder");
  await kill(f, death);
  assert.equal(nd.recover(f.id), true, "the lock was taken over");
  assert.equal(nd.lockHolder(), 0);
  assert.equal(
    (nd.backend as SharedBackend).attachmentState(f.id),
    "free",
    "the dead attachment was recovered",
  );
  // The fragment the dead worker had, known to the application, goes back.
  for (const m of f.messages) if (typeof m.frag === "number") nd.free(m.frag);
  // Survivors go on with the whole budget minus what they hold.
  const got: number[] = [];
  for (let a = nd.allocHandle(4096); a !== null; a = nd.allocHandle(4096)) {
    got.push(a);
  }
  assert.ok(
    got.length >= maxBytes / 4096 - 8,
    `only ${got.length} fragments of 4 KiB from a 2 MiB budget`,
  );
  for (const a of got) nd.free(a);
  nd.free(mine);
  nd.drain();
  const s = nd.backend.stats();
  assert.equal(s.bytesInUse, 0, "nothing lost");
  assert.equal(s.pagesAllocated, s.pagesFreed);
}

function arenaBackend(kind: "shared" | "wasm"): SharedBackend | WasmBackend {
  const o = { initialBytes: 0, maxBytes: 1 << 20, lockTimeoutMs: 150 };
  return kind === "shared" ? new SharedBackend(o) : new WasmBackend(o);
}

/** H5: a worker dies holding the arena's page lock (inside growArena). */
export async function arenaDeath(
  kind: "shared" | "wasm",
  death: "terminate" | "exit",
): Promise<void> {
  const backend = arenaBackend(kind);
  const first = backend.allocPage(3, false); // the worker's page needs growth
  const f = await start({
    mode: "arena",
    backend: backend.share(),
    exit: death === "exit",
  });
  await holding(f);
  throwsNaming(() => backend.allocPage(0, false), "ETIMEDOUT", f.id, 1500);
  await kill(f, death);
  const r = backend.recover(f.id);
  assert.equal(r.recovered, true);
  assert.equal(r.lockTakenOver, true, "the page lock was taken over");
  assert.equal(backend.recover(f.id).recovered, false, "once is enough");
  const pages: number[] = [];
  for (
    let p = backend.allocPage(0, false);
    p !== 0;
    p = backend.allocPage(0, false)
  ) {
    pages.push(p);
  }
  assert.equal(pages.length, 256 - 8, "the whole budget minus my page");
  for (const p of pages) backend.free(p);
  backend.free(first);
  const s = backend.stats();
  assert.equal(s.bytesInUse, 0, "nothing lost");
  assert.equal(s.pagesAllocated, s.pagesFreed);
}

/** A worker that detaches by itself frees its attachment for the next one. */
export async function detachAndReuse(kind: "shared" | "wasm"): Promise<void> {
  const backend = arenaBackend(kind);
  const f = await start({
    mode: "detach",
    backend: backend.share(),
    exit: false,
  });
  await f.exited;
  assert.ok(f.messages.some((m) => m.done === true), "the worker finished");
  assert.equal(backend.attachmentState(f.id), "free", "detach() freed the id");
  assert.equal(backend.stats().bytesInUse, 0);
  const g = await start({
    mode: "detach",
    backend: backend.share(),
    exit: false,
  });
  await g.exited;
  assert.notEqual(
    g.id,
    f.id,
    "ids are never reused: a stale one names no new thread",
  );
  assert.equal(backend.attachmentState(g.id), "free");
}

/**
 * The kill sweep (H5 at random moments, Bun and Node): `kills` times, a
 * worker churns pages and fragments and is terminated after a random few
 * milliseconds; the owner recovers it and checks that the lock is free and
 * the arena consistent. Returns the pages lost over the sweep (fragments
 * the worker had in hand between its ledger and its free: at most one per
 * kill).
 */
export async function killSweep(
  kind: "shared" | "wasm",
  kills: number,
  seed = 1,
): Promise<number> {
  const backend = arenaBackend(kind);
  let x = seed;
  const rand = () => (x = (x * 48271) % 2147483647) / 2147483647;
  let lockHeld = 0;
  for (let k = 0; k < kills; k++) {
    const f = await start({
      mode: "churn",
      backend: backend.share(),
      exit: false,
    });
    await holding(f);
    await sleep(1 + Math.floor(rand() * 15));
    await f.worker.terminate();
    await f.exited;
    const r = backend.recover(f.id);
    assert.equal(r.recovered, true);
    if (r.lockTakenOver) lockHeld++;
    for (const i of [4, 5]) {
      const a = Atomics.load(f.ctl, i);
      if (a !== 0) backend.free(a); // the ledger: what it held for sure
    }
    const p = backend.allocPage(0, false);
    assert.notEqual(p, 0, `kill ${k}: the survivor gets a page at once`);
    backend.free(p);
  }
  const s = backend.stats();
  assert.equal(s.pagesAllocated - s.pagesFreed, s.pagesInUse);
  assert.ok(
    s.pagesInUse <= kills,
    `${s.pagesInUse} pages lost in ${kills} kills`,
  );
  // Whatever was lost, the rest of the budget is there.
  const pages: number[] = [];
  for (
    let q = backend.allocPage(0, false);
    q !== 0;
    q = backend.allocPage(0, false)
  ) {
    pages.push(q);
  }
  assert.equal(
    pages.length * 4096 + s.bytesInUse,
    1 << 20,
    "no budget lost beyond those pages",
  );
  for (const q of pages) backend.free(q);
  void lockHeld;
  return s.pagesInUse;
}

/**
 * F2: a worker attaches, the owner grows the memory, and the worker views a
 * fragment beyond the length it saw at attach: the view reads the bytes
 * (never a raw RangeError), on every runtime.
 */
export async function viewAfterGrowth(kind: "shared" | "wasm"): Promise<void> {
  const backend = kind === "shared"
    ? new SharedBackend({ initialBytes: 0, maxBytes: 8 << 20 })
    : new WasmBackend({ initialBytes: 0, maxBytes: 8 << 20 });
  const f = await start({
    mode: "view",
    backend: backend.share(),
    exit: false,
  });
  const seen = f.messages.find((m) => typeof m.length === "number")!
    .length as number;
  const pages: number[] = [];
  let last = 0;
  while (last < seen + (1 << 20)) {
    pages.push(last = backend.allocPage(3, false));
  }
  backend.view(last, 32768).fill(3);
  Atomics.store(f.ctl, 2, 32768);
  Atomics.store(f.ctl, 1, last);
  Atomics.notify(f.ctl, 1);
  await f.exited;
  const sum = f.messages.find((m) => typeof m.sum === "number")?.sum;
  assert.equal(
    sum,
    3 * 32768,
    "the worker read the fragment past its stale length",
  );
  for (const p of pages) backend.free(p);
  assert.equal(backend.stats().bytesInUse, 0);
}
