import "reflect-metadata";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { container } from "tsyringe";
import {
  createNapiCache,
  createNetdevCache,
  createPageFragCache,
  HeapBackend,
  type MemoryBackend,
  NapiFragCache,
  NetdevFragCache,
  PageFragCache,
  PageFragError,
  pageFragFree,
  type PageFragOptions,
  SharedBackend,
  WasmBackend,
} from "../mod.ts";
import {
  instrumentationOf,
  InstrumentedBackend,
  LeakDetector,
  POISON_FREE,
  POISON_REDZONE,
  Sanitizer,
  SanitizerError,
} from "../debug/mod.ts";
import { registerPageFrag, TOKENS } from "../di/mod.ts";
import { throwsCode } from "./contract.ts";

const THIS_FILE = "sanitizer_test";

/** Run `fn`, expect a SanitizerError with `code`, return it. */
function report(fn: () => unknown, code: string): SanitizerError {
  try {
    fn();
  } catch (e) {
    assert.ok(
      e instanceof SanitizerError,
      `expected a SanitizerError, got ${e}`,
    );
    assert.ok(e instanceof PageFragError);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected ${code}, nothing was thrown`);
}

function everything(cache: { backend: MemoryBackend }): void {
  const s = cache.backend.stats();
  assert.equal(s.bytesInUse, 0, "every page went back");
  assert.equal(s.pagesInUse, 0);
}

for (const backend of ["heap", "shared", "wasm"] as const) {
  const make = (o: PageFragOptions = {}) =>
    createPageFragCache({ backend, maxBytes: 1 << 20, sanitize: true, ...o });

  describe(`sanitizer (${backend}): poison`, () => {
    it("fresh fragments hold the poison; zero: true (per call or per cache) clears them", () => {
      const cache = make();
      const a = cache.alloc(100)!;
      assert.ok(a.every((b) => b === POISON_FREE), "fresh page poisoned");
      const z = cache.alloc(100, { zero: true })!;
      assert.ok(z.every((b) => b === 0));
      const zc = make({ zero: true });
      assert.ok(zc.alloc(64)!.every((b) => b === 0));
      const h = zc.allocHandle(64)!;
      assert.ok(zc.backend.view(h, 64).every((b) => b === 0));
      // The red zone right after a fragment holds its own pattern.
      const addr = cache.backend.addressOf(a);
      assert.equal(cache.backend.view(addr, 101)[100], POISON_REDZONE);
    });

    it("a write after free is reported when the bytes are handed out again, with both sites; the allocation is taken back", () => {
      const cache = make({ maxOrder: 0 });
      const frag = cache.alloc(1000)!;
      cache.free(frag);
      frag[10] = 1; // use after free: the page is still the cache's
      // Use up the page; the next allocation recycles it in place and finds the write.
      const fill = cache.allocHandle(4096 - 1016 - 16)!;
      cache.free(fill);
      const before = cache.stats().allocs;
      const e = report(() => cache.allocHandle(100), "EUSEAFTERFREE");
      assert.equal(e.fragment?.size, 1000);
      assert.equal(e.address, e.fragment!.address + 10);
      assert.match(e.allocatedAt ?? "", new RegExp(THIS_FILE));
      assert.match(e.freedAt ?? "", new RegExp(THIS_FILE));
      assert.match(e.message, /write after free/);
      // Taken back: the next call works and everything comes home.
      assert.equal(cache.stats().aborts, 1);
      assert.equal(cache.stats().allocs, before + 1);
      const ok = cache.allocHandle(100)!;
      cache.free(ok);
      cache.drain();
      everything(cache);
    });

    it("a write after free is reported when the page's last reference goes (free or drain)", () => {
      const cache = make({ maxOrder: 0 });
      const a = cache.alloc(100)!;
      const b = cache.alloc(100)!;
      const aAddr = cache.backend.addressOf(a);
      cache.free(a);
      a[0] = 9;
      cache.drain(); // the page is now b's alone
      const e = report(() => cache.free(b), "EUSEAFTERFREE");
      assert.equal(e.fragment?.address, aAddr);
      assert.equal(e.address, aAddr);
      everything(cache); // the free itself happened
      const c = cache.alloc(100)!;
      cache.free(c);
      c[99] = 1;
      const e2 = report(() => cache.drain(), "EUSEAFTERFREE");
      assert.equal(e2.address, e2.fragment!.address + 99);
      everything(cache);
    });

    it("a write past a fragment's end is EOVERFLOW on free, with its allocation site; the fragment is freed", () => {
      const cache = make();
      const addr = cache.allocHandle(10)!;
      cache.backend.view(addr, 11)[10] = 0; // one byte into the red zone
      const e = report(() => cache.free(addr), "EOVERFLOW");
      assert.deepEqual(e.fragment, { address: addr, size: 10 });
      assert.equal(e.address, addr + 10);
      assert.match(e.allocatedAt ?? "", new RegExp(THIS_FILE));
      assert.equal(e.freedAt, undefined);
      cache.drain();
      everything(cache);
    });

    it("a write into bytes no fragment owns is EOVERFLOW when the page goes, naming the fragment before them", () => {
      const cache = make({ maxOrder: 0 });
      const addr = cache.allocHandle(100)!;
      cache.backend.view(addr, 200)[150] = 1; // past the red zone, into the unused tail
      cache.drain();
      const e = report(() => cache.free(addr), "EOVERFLOW");
      assert.equal(e.fragment?.address, addr);
      assert.match(e.message, /owned by no fragment/);
      everything(cache);
    });

    it("frees are checked whichever way they come: cache, backend, pageFragFree, another cache", () => {
      const cache = make();
      const other = registerPageFrag(container.createChildContainer(), {
        backend: cache.backend,
      }).resolve<PageFragCache>(TOKENS.Cache);
      const views = [1, 2, 3, 4].map(() => cache.alloc(32)!);
      const frees: ((v: Uint8Array) => void)[] = [
        (v) => cache.free(v),
        (v) => cache.backend.free(cache.backend.addressOf(v)),
        (v) => pageFragFree(v),
        (v) => other.free(v),
      ];
      views.forEach((v, i) => {
        // Overflow into the red zone (through a wider view: v itself stops at 32).
        cache.backend.view(cache.backend.addressOf(v), 40)[35] = 0;
        report(() => frees[i](v), "EOVERFLOW");
      });
    });
  });

  describe(`sanitizer (${backend}): double free`, () => {
    it("a fragment freed twice is EDOUBLEFREE with both sites, and the second free is not performed", () => {
      const cache = make({ maxOrder: 0 });
      const a = cache.alloc(100)!;
      const b = cache.allocHandle(100)!;
      cache.free(a);
      const before = cache.backend.stats();
      for (
        const again of [
          () => cache.free(a),
          () => cache.free(cache.backend.addressOf(a)),
          () => pageFragFree(a),
          () => cache.backend.free(cache.backend.addressOf(a)),
        ]
      ) {
        const e = report(again, "EDOUBLEFREE");
        assert.match(e.allocatedAt ?? "", new RegExp(THIS_FILE));
        assert.match(e.freedAt ?? "", new RegExp(THIS_FILE));
        assert.equal(e.fragment?.size, 100);
      }
      assert.deepEqual(cache.backend.stats(), before, "nothing dropped");
      cache.drain();
      cache.free(b); // b's reference is intact: the page goes back now
      everything(cache);
      const e = report(() => cache.free(b), "EDOUBLEFREE");
      assert.equal(
        e.fragment?.address,
        b,
        "named even after its page went back",
      );
    });

    it("without the sanitizer the same double free passes silently (page-level counting, as in the kernel)", () => {
      const plain = createPageFragCache({ backend, maxOrder: 0 });
      const a = plain.allocHandle(100)!;
      plain.allocHandle(100);
      plain.free(a);
      plain.free(a); // drops the other fragment's reference
      plain.drain();
      everything(plain);
    });
  });

  describe(`sanitizer (${backend}): a free inside a fragment (issue 13)`, () => {
    it("freeing any byte of a live fragment but its first (or of its red zone) is EFOREIGN, names the fragment, and frees nothing", () => {
      const cache = make({ maxOrder: 0 });
      const a = cache.allocHandle(100)!;
      const b = cache.alloc(100)!;
      const at = cache.backend.addressOf(b);
      const sanitizer = instrumentationOf(cache)!.sanitizer!;
      const before = cache.backend.stats();
      const reports = sanitizer.stats().reports;
      const bad: [number, number, () => void][] = [
        [a + 1, a, () => cache.free(a + 1)],
        [a + 99, a, () => cache.backend.free(a + 99)],
        [a + 100, a, () => cache.free(a + 100)], // the red zone's first byte
        [at + 50, at, () => cache.free(b.subarray(50))],
        [at + 1, at, () => pageFragFree(b.subarray(1))],
      ];
      for (const [addr, start, free] of bad) {
        const e = report(free, "EFOREIGN");
        assert.equal(e.address, addr, "the address freed");
        assert.equal(e.fragment?.address, start, "the fragment it lies in");
        assert.equal(e.fragment?.size, 100);
        assert.match(e.message, /not the start of a fragment/);
        assert.match(e.allocatedAt ?? "", new RegExp(THIS_FILE));
      }
      assert.deepEqual(cache.backend.stats(), before, "no reference dropped");
      assert.equal(sanitizer.stats().liveFragments, 2, "both still live");
      assert.equal(sanitizer.stats().reports, reports + bad.length);
      cache.free(a); // the real frees still work, once each
      cache.free(b);
      report(() => cache.free(a), "EDOUBLEFREE");
      cache.drain();
      everything(cache);
    });

    it("with onReport the bad free is handed over, not thrown, and not performed", () => {
      const found: SanitizerError[] = [];
      const cache = make({ sanitize: { onReport: (e) => found.push(e) } });
      const a = cache.allocHandle(64)!;
      const before = cache.backend.stats();
      cache.free(a + 8);
      assert.deepEqual(found.map((e) => e.code), ["EFOREIGN"]);
      assert.deepEqual(cache.backend.stats(), before, "nothing freed");
      cache.free(a);
      assert.equal(found.length, 1, "the real free is fine");
      cache.drain();
      everything(cache);
    });
  });

  describe(`sanitizer (${backend}): views`, () => {
    it("a slot carved again on a recycled page gets a new view object, never the one handed out before", () => {
      const cache = make({ maxOrder: 0 });
      const { first, again } = sameSlotTwice(cache);
      assert.notEqual(again, first, "a recycled view would hide a stale one");
      assert.equal(again.byteOffset, first.byteOffset, "the same bytes");
      assert.equal(again[0], POISON_FREE, "handed out poisoned, as fresh");
      cache.free(again);
      cache.drain();
      everything(cache);
    });
  });

  describe(`sanitizer (${backend}): prepare / commit`, () => {
    it("prepare, write, commit and commitNoref raise nothing; the committed bytes are the caller's", () => {
      const cache = make();
      const p = cache.prepare(10)!;
      cache.backend.view(p.addr, 200).fill(7); // write more than will be committed
      const a = cache.commit(100);
      const q = cache.prepare(10)!;
      assert.equal(q.addr, a + 100);
      cache.backend.view(q.addr, 50).fill(8);
      cache.commitNoref(50);
      const f = instrumentationOf(cache)!.sanitizer!.fragmentAt(a)!;
      assert.equal(f.size, 150);
      assert.equal(f.redZone, 0);
      cache.prepare(32);
      cache.backend.view(cache.probe(32)!.addr, 32).fill(9); // written, never committed
      const next = cache.alloc(64)!; // fine: the offer was dropped
      assert.ok(next.every((b) => b === POISON_FREE));
      cache.free(a);
      cache.free(next);
      cache.drain();
      everything(cache);
      assert.equal(instrumentationOf(cache)!.sanitizer!.stats().reports, 0);
    });

    it("commitNoref onto a fragment already freed is EUSEAFTERFREE", () => {
      const cache = make();
      cache.prepare(10);
      const a = cache.commit(10);
      cache.prepare(10);
      cache.free(a);
      const e = report(() => cache.commitNoref(10), "EUSEAFTERFREE");
      assert.equal(e.fragment?.address, a);
    });

    it("abort of a fragment already freed is EDOUBLEFREE, and changes nothing", () => {
      const cache = make();
      const a = cache.allocHandle(10)!;
      cache.allocHandle(10);
      const b = cache.allocHandle(10)!;
      cache.free(b);
      const before = cache.backend.stats();
      report(() => cache.abort(b), "EDOUBLEFREE");
      assert.deepEqual(cache.backend.stats(), before);
      throwsCode(() => cache.abort(a), "ESTATE");
    });
  });
}

/**
 * Allocate 64 bytes, free them, then allocate and free 64 bytes until the
 * same address comes back (the page recycled in place): the two views of
 * that slot (`again` is still allocated).
 */
function sameSlotTwice(
  cache: PageFragCache,
): { first: Uint8Array; again: Uint8Array } {
  const first = cache.alloc(64)!;
  const addr = cache.backend.addressOf(first);
  cache.free(first);
  for (let i = 0; i < 10_000; i++) {
    const v = cache.alloc(64)!;
    if (cache.backend.addressOf(v) === addr) return { first, again: v };
    cache.free(v);
  }
  assert.fail("the page was never recycled: the slot did not come back");
}

/**
 * A heap backend that recycles views, as backends may (issue 11): the view
 * object made last time for the same bytes of the same page is handed out
 * again.
 */
class RecyclingHeap extends HeapBackend {
  readonly #views = new Map<string, Uint8Array<ArrayBuffer>>();
  override view(addr: number, size: number): Uint8Array<ArrayBuffer> {
    const made = super.view(addr, size);
    const key = `${addr}:${size}`;
    const old = this.#views.get(key);
    if (old !== undefined && old.buffer === made.buffer) return old;
    this.#views.set(key, made);
    return made;
  }
}

describe("instrumented views are never recycled", () => {
  for (
    const [name, parts] of [
      ["sanitizer", () => ({ sanitizer: new Sanitizer() })],
      ["leak detector", () => ({ leaks: new LeakDetector({ level: "all" }) })],
    ] as const
  ) {
    it(`${name}: over a backend that recycles views, each alloc() still gets a view of its own`, () => {
      const inner = new RecyclingHeap({ maxOrder: 0 });
      const backend = new InstrumentedBackend(inner, parts());
      const cache = createPageFragCache({ backend });
      const { first, again } = sameSlotTwice(cache);
      const addr = backend.addressOf(again);
      assert.equal(
        inner.view(addr, 64),
        inner.view(addr, 64),
        "the premise: the inner backend hands out the same object",
      );
      assert.notEqual(again, first, "the slot's second view is a new object");
      assert.notEqual(backend.view(addr, 64), backend.view(addr, 64));
      cache.free(again);
      cache.drain();
      everything(cache);
    });
  }
});

describe("sanitizer: a page that went back to the arena", () => {
  for (const backend of ["shared", "wasm"] as const) {
    it(`${backend}: a write through a stale view after the page went back is found when the memory comes back`, () => {
      const cache = createPageFragCache({
        backend,
        maxOrder: 0,
        maxBytes: 4096,
        sanitize: true,
      });
      const v = cache.alloc(100)!;
      cache.drain();
      cache.free(v); // the page goes back to the arena
      v[5] = 42; // the arena memory is still there: a real use after free
      const e = report(() => cache.alloc(10), "EUSEAFTERFREE");
      assert.match(e.message, /went back/);
      assert.equal(e.fragment?.size, 100);
    });
  }
});

describe("sanitizer: reports", () => {
  it("onReport receives reports and the call goes on", () => {
    const found: SanitizerError[] = [];
    const cache = createPageFragCache({
      sanitize: { onReport: (e) => found.push(e) },
    });
    const a = cache.allocHandle(10)!;
    cache.free(a);
    cache.free(a); // reported, not thrown, not performed
    const b = cache.allocHandle(10)!;
    cache.backend.view(b, 20).fill(0);
    cache.free(b); // reported, and freed
    assert.deepEqual(found.map((e) => e.code), ["EDOUBLEFREE", "EOVERFLOW"]);
    assert.deepEqual(
      instrumentationOf(cache)!.sanitizer!.reports().map((e) => e.code),
      ["EDOUBLEFREE", "EOVERFLOW"],
    );
    cache.drain();
    everything(cache);
  });

  it("sites: false records no sites; redZone sets the red zone", () => {
    const cache = createPageFragCache({
      sanitize: { sites: false, redZone: 64 },
    });
    const a = cache.allocHandle(10)!;
    assert.equal(cache.allocHandle(10), a + 10 + 64);
    cache.backend.view(a, 74)[73] = 0;
    const e = report(() => cache.free(a), "EOVERFLOW");
    assert.equal(e.allocatedAt, undefined);
  });

  it("a fragment as large as the largest page has no room for a red zone, and still works", () => {
    const cache = createPageFragCache({ sanitize: true });
    const big = cache.alloc(32768)!;
    const f = instrumentationOf(cache)!.sanitizer!.fragmentAt(
      cache.backend.addressOf(big),
    )!;
    assert.equal(f.redZone, 0);
    const near = cache.allocHandle(32768 - 4)!;
    assert.equal(
      instrumentationOf(cache)!.sanitizer!.fragmentAt(near)!.redZone,
      4,
    );
    cache.free(big);
    cache.free(near);
    cache.drain();
    everything(cache);
  });
});

describe("sanitizer: wiring", () => {
  it("off by default: the plain classes and the plain backend, nothing in between", () => {
    const cache = createPageFragCache();
    assert.equal(Object.getPrototypeOf(cache), PageFragCache.prototype);
    assert.ok(cache.backend instanceof HeapBackend);
    assert.equal(instrumentationOf(cache), undefined);
    const napi = createNapiCache();
    assert.equal(Object.getPrototypeOf(napi), NapiFragCache.prototype);
    const netdev = createNetdevCache();
    assert.equal(Object.getPrototypeOf(netdev), NetdevFragCache.prototype);
  });

  it("every flavour gets it: napi and netdev caches are instrumented subclasses of their flavour", () => {
    const napi = createNapiCache({ sanitize: true });
    assert.ok(napi instanceof NapiFragCache);
    assert.ok(napi.backend instanceof InstrumentedBackend);
    const a = napi.poll(() => napi.alloc(10)!);
    napi.free(a);
    report(() => napi.free(a), "EDOUBLEFREE");
    throwsCode(() => napi.alloc(10), "ECONTEXT");
    const netdev = createNetdevCache({ sanitize: true, backend: "shared" });
    assert.ok(netdev instanceof NetdevFragCache);
    assert.equal(
      netdev.sharedState,
      undefined,
      "a sanitized netdev cache stays private",
    );
    const b = netdev.allocHandle(10)!;
    netdev.free(b);
    report(() => netdev.free(b), "EDOUBLEFREE");
  });

  it("a Sanitizer registered as TOKENS.Sanitizer is plugged in (a policy plugin)", () => {
    const found: SanitizerError[] = [];
    const mine = new Sanitizer({ redZone: 32, onReport: (e) => found.push(e) });
    const app = registerPageFrag(container.createChildContainer());
    app.register(TOKENS.Sanitizer, { useValue: mine });
    const cache = app.resolve<PageFragCache>(TOKENS.Cache);
    assert.equal(instrumentationOf(cache)?.sanitizer, mine);
    const a = cache.allocHandle(10)!;
    cache.free(a);
    cache.free(a);
    assert.equal(found.length, 1);
    // Two caches of the registration share the backend wrapper and the sanitizer.
    assert.equal(
      app.resolve<PageFragCache>(TOKENS.Cache).backend,
      cache.backend,
    );
  });

  it("one Sanitizer serves one backend", () => {
    const s = new Sanitizer();
    new InstrumentedBackend(new HeapBackend(), { sanitizer: s });
    throwsCode(
      () => new InstrumentedBackend(new HeapBackend(), { sanitizer: s }),
      "EINVAL_OPTION",
    );
  });

  it("an InstrumentedBackend passed as the backend is used as it is", () => {
    const backend = new InstrumentedBackend(new SharedBackend(), {
      sanitizer: new Sanitizer(),
    });
    const cache = createPageFragCache({ backend });
    assert.equal(cache.backend, backend);
    assert.notEqual(Object.getPrototypeOf(cache), PageFragCache.prototype);
    const a = cache.allocHandle(8)!;
    cache.free(a);
    report(() => cache.free(a), "EDOUBLEFREE");
  });
});

describe("pinned pages", () => {
  for (
    const [name, make] of [
      ["heap", () => new HeapBackend()],
      ["shared", () => new SharedBackend()],
      ["wasm", () => new WasmBackend()],
    ] as [string, () => MemoryBackend][]
  ) {
    it(`${name}: backend.stats() counts pages kept by one or two fragments; the sanitizer lists them with their sites`, () => {
      const cache = createPageFragCache({ backend: make(), sanitize: true });
      const keep = cache.allocHandle(100)!;
      const keep2 = cache.allocHandle(100)!;
      for (let i = 0; i < 300; i++) cache.free(cache.allocHandle(200)!);
      // The first page is now left to `keep` and `keep2`; the cache holds a second.
      let s = cache.backend.stats();
      assert.equal(s.pagesInUse, 2);
      assert.equal(s.pinnedPages, 1);
      assert.equal(s.pinnedBytes, 32768);
      const [p] = instrumentationOf(cache)!.sanitizer!.pinnedPages();
      assert.equal(p.liveBytes, 200);
      assert.deepEqual(p.fragments.map((f) => f.address), [keep, keep2]);
      assert.match(p.fragments[0].allocatedAt ?? "", new RegExp(THIS_FILE));
      cache.free(keep);
      assert.equal(
        cache.backend.stats().pinnedPages,
        1,
        "one fragment pins it too",
      );
      cache.free(keep2);
      s = cache.backend.stats();
      assert.equal(s.pinnedPages, 0);
      assert.equal(s.pagesInUse, 1, "only the cache's page");
      assert.deepEqual(instrumentationOf(cache)!.sanitizer!.pinnedPages(), []);
    });
  }

  it("a page the cache holds is not pinned, however few bytes are live", () => {
    const cache = createPageFragCache();
    cache.allocHandle(10);
    assert.equal(cache.backend.stats().pinnedPages, 0);
  });
});

describe("regression: heap pages are naturally aligned", () => {
  it("a page of order k starts at a multiple of pageSize << k (found by the model suite)", () => {
    // The model's first counterexample: {pageSize 1024, maxOrder 1}, allocHandle(1)
    // got an order-1 page at 1024, half-way into a 2048-byte block.
    const first = new HeapBackend({ pageSize: 1024, maxOrder: 1 });
    assert.equal(first.allocPage(1, false), 2048);
    const backend = new HeapBackend({ pageSize: 1024, maxOrder: 3 });
    const pages: number[] = [];
    for (const order of [0, 1, 0, 2, 3, 0, 1, 3, 2, 0]) {
      const page = backend.allocPage(order, false);
      assert.equal(page % (1024 << order), 0, `order ${order} at ${page}`);
      pages.push(page);
    }
    for (const p of pages) backend.free(p);
    // The slots skipped for alignment serve later pages of the orders they hold.
    const b = new HeapBackend({ pageSize: 1024, maxOrder: 3 });
    assert.deepEqual(
      [0, 3, 1, 2].map((order) => b.allocPage(order, false)),
      [1024, 8192, 2048, 4096],
    );
  });
});
