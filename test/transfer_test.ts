/**
 * Transfer safety on the heap backend (issue 12.5): a page whose
 * `ArrayBuffer` was transferred away (`structuredClone` / `postMessage`
 * with a transfer list) is detected on the next use, refused with
 * `EDETACHED`, retired (never pooled or handed out again), its budget
 * closed, and nothing else affected.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPageFragCache, HeapBackend, PageFragError } from "../mod.ts";
import { throwsCode } from "./contract.ts";
import { startWorker } from "./worker_util.ts";

type Transfer = (buffer: ArrayBufferLike) => void;

const transfers: [string, Transfer][] = [
  ["structuredClone", (b) => {
    structuredClone(b, { transfer: [b as ArrayBuffer] });
  }],
  ["postMessage", (b) => {
    const { port1, port2 } = new MessageChannel();
    port1.postMessage(b, [b as ArrayBuffer]);
    port1.close();
    port2.close();
  }],
];

for (const [how, transfer] of transfers) {
  describe(`a page transferred away by ${how}`, () => {
    it("is EDETACHED on the next view, retired, and its budget closed", () => {
      const backend = new HeapBackend();
      const cache = createPageFragCache({ backend });
      const other = createPageFragCache({ backend });
      const keep = other.alloc(64)!; // another page: must stay intact
      keep.fill(9);
      const a = cache.alloc(100)!;
      const b = cache.allocHandle(100)!;
      transfer(a.buffer);
      assert.equal(a.length, 0, "the runtime detached the page");
      throwsCode(() => cache.alloc(100), "EDETACHED");
      throwsCode(() => backend.view(b, 100), "EDETACHED");
      let s = backend.stats();
      assert.equal(s.pagesDetached, 1, "counted once");
      assert.equal(
        s.bytesInUse,
        4096 * 8,
        "only the other cache's page is in use",
      );
      assert.equal(backend.pageBytes(b), 0, "no cache carves it again");
      // The remaining frees are accepted; a drain gives the page up.
      cache.free(a);
      cache.free(b);
      cache.drain();
      // The cache goes on with a fresh page.
      const c = cache.alloc(100)!;
      assert.equal(c.length, 100);
      assert.notEqual(c.buffer, a.buffer, "a new page");
      assert.equal(c.buffer.byteLength, 32768);
      cache.free(c);
      cache.drain();
      assert.ok(keep.every((x) => x === 9), "the other page is untouched");
      other.free(keep);
      other.drain();
      s = backend.stats();
      assert.equal(s.bytesInUse, 0, "everything accounted for");
      assert.equal(s.pagesInUse, 0);
      assert.equal(s.pinnedPages, 0);
    });

    it("a cache that keeps allocating moves to a new page by itself", () => {
      const backend = new HeapBackend({ maxOrder: 0 });
      const cache = createPageFragCache({ backend });
      const a = cache.alloc(1000)!;
      transfer(a.buffer);
      let got: Uint8Array | null = null;
      for (let i = 0; i < 10 && got === null; i++) {
        try {
          got = cache.alloc(1000);
        } catch (e) {
          assert.ok(
            e instanceof PageFragError && e.code === "EDETACHED",
            String(e),
          );
        }
      }
      assert.ok(
        got !== null && got.length === 1000,
        "a fragment of a live page",
      );
      cache.free(a);
      cache.free(got!);
      cache.drain();
      assert.equal(backend.stats().bytesInUse, 0);
    });

    it("is never put in the pool when its last fragment goes", () => {
      const backend = new HeapBackend();
      const cache = createPageFragCache({ backend });
      const a = cache.alloc(100)!;
      transfer(a.buffer);
      cache.free(a); // by view: the stamp (or the buffer) still names the page
      cache.drain();
      const s = backend.stats();
      assert.deepEqual(
        [s.bytesInUse, s.pagesDetached, backend.pooledBytes()],
        [0, 1, 0],
        "released, detected, not pooled",
      );
      const b = cache.alloc(100)!;
      assert.equal(b.buffer.byteLength, 32768, "a new buffer");
      assert.equal(backend.stats().buffersCreated, 2);
      cache.free(b);
    });

    it("an exhausted page transferred away is not recycled in place", () => {
      const backend = new HeapBackend({ maxOrder: 0 });
      const cache = createPageFragCache({ backend });
      const frags = [0, 1, 2, 3].map(() => cache.alloc(1000)!);
      for (const f of frags) cache.free(f);
      transfer(frags[0].buffer); // every fragment is free, the page is not
      const b = cache.alloc(1000)!; // no room: recycle or refill
      assert.equal(b.length, 1000, "a live fragment, no error");
      assert.equal(b.buffer.byteLength, 4096, "of a new page");
      const s = backend.stats();
      assert.deepEqual(
        [s.pagesDetached, s.bytesInUse, s.pagesInUse],
        [1, 4096, 1],
        "the old page retired, only the new one in use",
      );
      cache.free(b);
      cache.drain();
      assert.equal(backend.stats().bytesInUse, 0);
    });

    it("a pooled page transferred through a stale view is dropped, not handed out", () => {
      const backend = new HeapBackend();
      const cache = createPageFragCache({ backend });
      const stale = cache.alloc(100)!;
      cache.free(stale);
      cache.drain();
      assert.equal(backend.pooledBytes(), 32768);
      transfer(stale.buffer);
      const b = cache.alloc(100)!;
      assert.equal(b.length, 100, "a live fragment");
      assert.equal(b.buffer.byteLength, 32768, "of a new buffer");
      const s = backend.stats();
      assert.deepEqual([s.pagesDetached, s.buffersCreated], [1, 2]);
      cache.free(b);
      cache.drain();
      assert.equal(backend.stats().bytesInUse, 0);
    });
  });
}

describe("a fragment's buffer posted to a real worker", () => {
  it("takes the whole page with it; the sender's page is retired, the rest unaffected", async () => {
    const backend = new HeapBackend();
    const cache = createPageFragCache({ backend });
    const a = cache.alloc(100)!;
    const b = cache.alloc(100)!; // another fragment of the same page
    a.fill(1);
    b.fill(2);
    const worker = startWorker(
      new URL("./workers/transfer_worker.ts", import.meta.url),
      null,
    );
    const reply = new Promise<
      { byteLength: number; first: number; at: number }
    >(
      (resolve, reject) => {
        worker.once("message", (m) => resolve(m.result));
        worker.once("error", reject);
      },
    );
    const page = a.buffer as ArrayBuffer;
    worker.postMessage(page, [page]);
    assert.equal(b.length, 0, "the other fragment went with it");
    const got = await reply;
    await worker.terminate();
    assert.deepEqual(
      got,
      { byteLength: 32768, first: 1, at: 2 },
      "the receiver got every fragment's bytes: never transfer a fragment's buffer",
    );
    throwsCode(() => cache.alloc(100), "EDETACHED");
    cache.free(a);
    cache.free(b);
    cache.drain();
    const c = cache.alloc(100)!;
    assert.equal(c.length, 100, "the cache goes on with a new page");
    cache.free(c);
    cache.drain();
    assert.equal(backend.stats().bytesInUse, 0, "every byte accounted for");
  });
});
