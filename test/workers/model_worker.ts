/**
 * The freeing side of the cross-worker model test (`test/model_test.ts`):
 * take fragments the main thread allocated from a ring in shared memory,
 * check each still holds its tag (a fragment handed out twice would have
 * been overwritten), and free it by address through this worker's own
 * backend object, in a random order: a pool of up to `poolTarget`
 * fragments is kept and a random one freed, so frees interleave with the
 * main thread's allocations at random. On a sync request everything is
 * freed and the request acknowledged.
 */
import {
  SharedBackend,
  type SharedBackendDescriptor,
} from "../../backends/shared.ts";
import { workerMain } from "../worker_util.ts";
import {
  type CrossData,
  type CrossResult,
  CTL,
  RING_BASE,
} from "./model_protocol.ts";
import { prng } from "../../testing/prng.ts";

workerMain((data: CrossData): CrossResult => {
  const backends = data.descriptors.map((d: SharedBackendDescriptor) =>
    SharedBackend.attach(d)
  );
  const ctl = new Int32Array(data.ctl);
  const cap = data.cap;
  let rand = prng(1);
  const pool: [addr: number, size: number, tag: number][] = [];
  let head = 0;
  let freed = 0;
  let corrupt = 0;
  let errors = 0;
  let firstError = "";
  let lastSeed = 0;
  const freeOne = (i: number) => {
    const [addr, size, tag] = pool[i];
    pool[i] = pool[pool.length - 1];
    pool.pop();
    const backend = backends[Atomics.load(ctl, CTL.BACKEND)];
    try {
      const bytes = backend.view(addr, size);
      for (let k = 0; k < size; k++) {
        if (bytes[k] !== tag) {
          corrupt++;
          break;
        }
      }
      backend.free(addr);
      freed++;
      Atomics.store(ctl, CTL.FREED, freed);
    } catch (e) {
      errors++;
      if (firstError === "") firstError = String(e);
    }
  };
  for (;;) {
    const bell = Atomics.load(ctl, CTL.BELL);
    const s = Atomics.load(ctl, CTL.SEED);
    if (s !== lastSeed) {
      lastSeed = s; // a new run: its own free order
      rand = prng(s);
    }
    const tail = Atomics.load(ctl, CTL.TAIL);
    while (head < tail) {
      const at = RING_BASE + (head % cap) * 3;
      pool.push([ctl[at], ctl[at + 1], ctl[at + 2]]);
      head++;
    }
    Atomics.store(ctl, CTL.HEAD, head);
    const target = Atomics.load(ctl, CTL.POOL);
    while (pool.length > target) freeOne(Math.floor(rand() * pool.length));
    const req = Atomics.load(ctl, CTL.SYNC_REQ);
    if (req !== Atomics.load(ctl, CTL.SYNC_ACK)) {
      // Sync: free everything received up to the request, then acknowledge.
      if (head === Atomics.load(ctl, CTL.TAIL)) {
        while (pool.length > 0) freeOne(Math.floor(rand() * pool.length));
        Atomics.store(ctl, CTL.CORRUPT, corrupt);
        Atomics.store(ctl, CTL.ERRORS, errors);
        Atomics.store(ctl, CTL.SYNC_ACK, req);
        Atomics.notify(ctl, CTL.SYNC_ACK);
      }
      continue;
    }
    if (
      Atomics.load(ctl, CTL.STOP) === 1 && head === Atomics.load(ctl, CTL.TAIL)
    ) break;
    // Free one now and then even below the target, so the order stays mixed.
    if (pool.length > 0 && rand() < 0.3) {
      freeOne(Math.floor(rand() * pool.length));
      continue;
    }
    // Sleep until the main thread rings (no wake-up is lost: the bell was
    // read before anything else this round).
    Atomics.wait(ctl, CTL.BELL, bell, 50);
  }
  while (pool.length > 0) freeOne(pool.length - 1);
  return { freed, corrupt, errors, firstError };
});
