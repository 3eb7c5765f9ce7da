/**
 * The main-thread side of the cross-worker tests, shared by
 * test/shared_test.ts and test/wasm_test.ts: start two workers over one
 * backend and collect what they report.
 */
import type { SharedBackend } from "../../backends/shared.ts";
import type { WasmBackend } from "../../backends/wasm.ts";
import assert from "node:assert/strict";
import { runWorkers } from "../worker_util.ts";
import {
  ctlBytes,
  type PagesData,
  type PagesResult,
  type RingData,
  type RingResult,
} from "./protocol.ts";

/**
 * Two workers each allocate `count` fragments from their own cache, fill
 * them and send the addresses to the other through a ring in shared memory;
 * the other checks and frees them. `sabotage` corrupts one fragment on
 * purpose (to show the check works).
 */
export function runRing(
  backend: SharedBackend | WasmBackend,
  count: number,
  sabotage = -1,
): Promise<RingResult[]> {
  const cap = 1 << 14;
  const ctl = new SharedArrayBuffer(ctlBytes(cap));
  const url = new URL("./ring_worker.ts", import.meta.url);
  const data = [0, 1].map((id): RingData => ({
    descriptor: backend.share(),
    ctl,
    id,
    count,
    cap,
    sabotage: id === 0 ? sabotage : -1,
  }));
  return runWorkers<RingResult>(url, data);
}

/**
 * Two workers allocate and free pages of mixed orders concurrently, `ops`
 * operations each, claiming each page's slots in a shared ownership map.
 */
export function runPages(
  backend: SharedBackend | WasmBackend,
  ops: number,
): Promise<PagesResult[]> {
  const slots = 2 ** 30 / backend.pageSize;
  const owners = new SharedArrayBuffer(slots * 4);
  const url = new URL("./pages_worker.ts", import.meta.url);
  const data = [0, 1].map((id): PagesData => ({
    descriptor: backend.share(),
    owners,
    id,
    ops,
    seed: 1234 + id,
  }));
  return runWorkers<PagesResult>(url, data);
}

/** Sum one numeric field over the workers' results. */
export function total<T>(results: T[], key: keyof T): number {
  return results.reduce((n, r) => n + (r[key] as number), 0);
}

/**
 * Run the ring test with one planted corruption and check its outcome:
 * every fragment crossed, only the planted flip was seen, and every page
 * went back.
 */
export async function assertRingClean(
  backend: SharedBackend | WasmBackend,
  count: number,
  planted: number,
): Promise<void> {
  // Worker 0 flips one byte of its fragment `planted` on purpose: worker 1
  // must report exactly that one (so the check is live), and nothing else.
  const results = await runRing(backend, count, planted);
  for (const r of results) {
    assert.equal(r.sent, count);
    assert.equal(r.received, count);
    assert.equal(r.nulls, 0);
  }
  assert.deepEqual(results[0].corrupt, [], "worker 1's fragments intact");
  assert.deepEqual(results[1].corrupt, [planted], "only the planted flip");
  const s = backend.stats();
  assert.equal(s.bytesInUse, 0);
  assert.equal(s.pagesInUse, 0);
  assert.equal(s.pagesAllocated, s.pagesFreed);
  assert.ok(s.pagesAllocated > 1000);
}

/**
 * Run the concurrent page test on a backend made with `maxBytes` and
 * `reserveBytes` and check its outcome: no page handed out twice or
 * misaligned, the budget and reserve kept (and both exhausted at times), the
 * counters agree with the workers, and every page went back.
 */
export async function assertPagesClean(
  backend: SharedBackend | WasmBackend,
  ops: number,
  maxBytes: number,
  reserveBytes: number,
): Promise<void> {
  const results = await runPages(backend, ops);
  assert.equal(total(results, "doubleHandouts"), 0);
  assert.equal(total(results, "misaligned"), 0);
  assert.equal(total(results, "stampErrors"), 0);
  assert.equal(total(results, "budgetViolations"), 0);
  assert.ok(total(results, "failures") > 0, "the budget was exhausted");
  assert.ok(total(results, "reserveAllocs") > 0, "the reserve was used");
  const s = backend.stats();
  assert.equal(s.pageFailures, total(results, "failures"));
  assert.equal(s.pagesAllocated, total(results, "allocs"));
  assert.equal(s.pagesFreed, s.pagesAllocated);
  assert.ok(s.peakBytesInUse <= maxBytes + reserveBytes);
  assert.equal(s.bytesInUse, 0);
  assert.equal(s.reserveInUse, 0);
}
