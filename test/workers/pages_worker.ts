/**
 * One of the workers of the concurrent page allocation test: allocate and
 * free pages of mixed orders as fast as it can, claiming every order-0 slot
 * of each page it gets in a shared ownership map (a compare-exchange that
 * fails means another worker holds the same memory), and checking the
 * budget through the arena-wide stats. See test/shared_test.ts.
 */
import {
  type ArenaBackend,
  SharedBackend,
  type SharedBackendDescriptor,
} from "../../backends/shared.ts";
import {
  WasmBackend,
  type WasmBackendDescriptor,
} from "../../backends/wasm.ts";
import { barrier, workerMain } from "../worker_util.ts";
import type { PagesData, PagesResult } from "./protocol.ts";
import { prng } from "../../testing/prng.ts";

workerMain((data: PagesData): PagesResult => {
  const backend: ArenaBackend = data.descriptor.kind === "pagefrag.wasm"
    ? WasmBackend.attach(data.descriptor as WasmBackendDescriptor)
    : SharedBackend.attach(data.descriptor as SharedBackendDescriptor);
  const owners = new Int32Array(data.owners);
  const { pageSize, maxOrder, maxBytes, reserveBytes } = backend;
  const shift = 31 - Math.clz32(pageSize);
  const id = data.id + 1;
  const rand = prng(data.seed);
  const live: { page: number; order: number; stamp: number }[] = [];
  const r: PagesResult = {
    allocs: 0,
    failures: 0,
    reserveAllocs: 0,
    doubleHandouts: 0,
    misaligned: 0,
    stampErrors: 0,
    budgetViolations: 0,
  };
  let lastFailed = false;

  const release = (i: number) => {
    const { page, order, stamp } = live[i];
    live[i] = live[live.length - 1];
    live.pop();
    const head = backend.view(page, 8);
    const dv = new DataView(head.buffer, head.byteOffset, 8);
    if (dv.getInt32(0, true) !== stamp || dv.getInt32(4, true) !== id) {
      r.stampErrors++;
    }
    const slot = page >>> shift;
    for (let s = slot; s < slot + (1 << order); s++) {
      if (Atomics.compareExchange(owners, s, id, 0) !== id) r.doubleHandouts++;
    }
    if (rand() < 0.5) backend.free(page);
    else if (backend.pageRefSubAndTest(page, 1)) backend.releasePage(page);
  };

  barrier(owners, 0, 2);
  for (let op = 0; op < data.ops; op++) {
    if (live.length > 0 && (lastFailed || rand() < 0.45)) {
      release(Math.floor(rand() * live.length));
      lastFailed = false;
      continue;
    }
    const order = Math.floor(rand() * (maxOrder + 1));
    const reserve = rand() < 0.1;
    const page = backend.allocPage(order, reserve);
    if (page === 0) {
      r.failures++;
      lastFailed = true;
      continue;
    }
    r.allocs++;
    if (backend.isPfmemalloc(page)) r.reserveAllocs++;
    if (page % (pageSize << order) !== 0) r.misaligned++;
    if (backend.pageBytes(page) !== pageSize << order) r.misaligned++;
    const slot = page >>> shift;
    for (let s = slot; s < slot + (1 << order); s++) {
      if (Atomics.compareExchange(owners, s, 0, id) !== 0) r.doubleHandouts++;
    }
    const stamp = op;
    const head = backend.view(page, 8);
    const dv = new DataView(head.buffer, head.byteOffset, 8);
    dv.setInt32(0, stamp, true);
    dv.setInt32(4, id, true);
    live.push({ page, order, stamp });
    if ((op & 63) === 0) {
      const s = backend.stats();
      if (
        s.bytesInUse - s.reserveInUse > maxBytes ||
        s.reserveInUse > reserveBytes
      ) r.budgetViolations++;
    }
  }
  while (live.length > 0) release(live.length - 1);
  return r;
});
