// The prepare/commit facts the zero-copy receiver (io/receive.ts) is built
// on, proven against the cache itself so a change there fails here first.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createPageFragCache } from "../mod.ts";

const ALIGN1 = { align: 1 };

test("prepare returns one reused object: copy addr and size out of it", () => {
  const cache = createPageFragCache();
  const a = cache.prepare(16)!;
  cache.free(cache.commit(16));
  const b = cache.prepare(16)!;
  assert.equal(a, b, "the same object, updated in place");
  cache.free(cache.commit(1));
});

test("prepare twice without a commit returns the same address and size", () => {
  const cache = createPageFragCache();
  const a = cache.prepare(16)!;
  const addr = a.addr, size = a.size;
  const b = cache.prepare(16)!;
  assert.equal(
    b.addr,
    addr,
    "nothing was taken, so the same bytes are offered again",
  );
  assert.equal(b.size, size, "and as many of them");
  cache.free(cache.commit(16));
});

test("prepare after commit(n) returns addr + n, and bytes read there survive", () => {
  const cache = createPageFragCache();
  const p = cache.prepare(64)!;
  const start = p.addr, room = p.size; // p is reused by the next prepare
  // "Read" 30 bytes: a 10-byte frame and 20 bytes of the next one.
  const v = cache.backend.view(start, 30);
  for (let i = 0; i < 30; i++) v[i] = i;
  const f1 = cache.commit(10);
  assert.equal(f1, start, "commit takes the bytes at the prepared address");
  const q = cache.probe(20, ALIGN1)!;
  assert.equal(
    q.addr,
    start + 10,
    "the next prepare starts right after the commit",
  );
  assert.equal(q.size, room - 10, "room shrank by exactly the committed bytes");
  const w = cache.backend.view(q.addr, 20);
  assert.deepEqual(
    [...w.subarray(0, 3)],
    [10, 11, 12],
    "uncommitted bytes are untouched",
  );
  const f2 = cache.commit(20);
  cache.free(f1);
  cache.free(f2);
});

test("with an alignment policy, only { align: 1 } keeps prepare contiguous", () => {
  const cache = createPageFragCache({ align: 64 });
  cache.prepare(8, ALIGN1);
  const a = cache.commit(10);
  const aligned = cache.prepare(8)!.addr;
  assert.equal(aligned % 64, 0, "the policy aligns the next start");
  assert.notEqual(aligned, a + 10, "so it skips the bytes after the commit");
  assert.equal(cache.prepare(8, ALIGN1)!.addr, a + 10, "align 1 does not");
  cache.free(a);
});

test("refill with every fragment free recycles the page in place", () => {
  const cache = createPageFragCache({ maxOrder: 0 });
  const p = cache.prepare(100)!;
  const page = cache.backend.pageOf(p.addr);
  const f = cache.commit(4000);
  cache.free(f);
  const q = cache.prepare(200, ALIGN1)!; // 96 bytes left: must refill
  assert.equal(q.addr, page, "the same page, from its start");
  assert.equal(cache.stats().recycles, 1, "counted as a recycle");
  cache.free(cache.commit(1));
});

test("refill with a live fragment moves to a new page; the old bytes stay readable", () => {
  const cache = createPageFragCache({ maxOrder: 0 });
  const oldPage = cache.backend.pageOf(cache.prepare(100)!.addr);
  const f = cache.commit(4000);
  cache.backend.view(f, 4000).fill(7);
  const q = cache.prepare(200, ALIGN1)!;
  assert.notEqual(cache.backend.pageOf(q.addr), oldPage, "a new page");
  assert.equal(
    cache.backend.view(f, 4000)[3999],
    7,
    "the live fragment keeps its page",
  );
  cache.free(f);
  cache.free(cache.commit(1));
  cache.drain();
  assert.equal(cache.backend.stats().bytesInUse, 0, "everything went back");
});

test("bytes prepared but not committed belong to nobody across a refill", () => {
  // Why the receiver copies a partial frame out before it refills: on a
  // recycle the new page IS the old one, so its start overwrites (or is) the
  // old tail; on release another cache may get the page.
  const cache = createPageFragCache({ maxOrder: 0 });
  const first = cache.prepare(4096)!.addr;
  const v = cache.backend.view(first, 4096);
  v.fill(9);
  cache.free(cache.commit(4000)); // 96 uncommitted bytes of 9 at the end
  const q = cache.prepare(4096, ALIGN1)!;
  assert.equal(q.addr, cache.backend.pageOf(first), "recycled in place");
  assert.equal(q.size, 4096, "the whole page is offered again, tail included");
  cache.free(cache.commit(1));
});
