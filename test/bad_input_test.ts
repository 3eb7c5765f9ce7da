/**
 * The bad-input table: every misuse of the allocator, the exact
 * `PageFragError` code it throws, and proof that it changed nothing.
 *
 * Each call row runs on every backend (heap, shared, wasm), every flavour
 * (plain, napi inside its poll, netdev) and with and without the
 * sanitizer. A cache and its twin get the same history; the misuse is
 * made on the cache only; then both snapshots (cache, backend and sanitizer
 * counters) must equal the one taken before the misuse, and the next valid
 * calls must return exactly what they return on the twin that never saw it.
 *
 * Each option row is tried on a container already set up with good
 * options: registration must throw before touching it, so the caches it
 * resolves afterwards have the old backend, its old stats and the old
 * behaviour.
 *
 * The README's "Bad input" table is this file's `CALL_ROWS` and
 * `OPTION_ROWS`.
 */
import "reflect-metadata";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { container } from "tsyringe";
import {
  createPageFragCache,
  HeapBackend,
  type MemoryBackend,
  NapiFragCache,
  type PageFragCache,
  PageFragError,
  type PageFragErrorCode,
  pageFragFree,
  type PageFragOptions,
} from "../mod.ts";
import { instrumentationOf } from "../debug/mod.ts";
import { registerPageFrag, TOKENS } from "../di/mod.ts";
import {
  attachNetdevCache,
  createNapiCache,
  createNetdevCache,
  SharedBackend,
  shareNetdevCache,
  WasmBackend,
} from "../mod.ts";

type BackendName = "heap" | "shared" | "wasm";
type Flavour = "plain" | "napi" | "netdev";

/** Geometry of every cache here: 4 KiB pages, maxOrder 3 (largest fragment 32 KiB), 1 MiB budget. */
const GEOMETRY = { pageSize: 4096, maxOrder: 3, maxBytes: 1 << 20 };
const MAX_FRAG = 32768;

/** What a row's calls see: the cache, the flavour's context, and what `setup` kept. */
interface Ctx {
  cache: PageFragCache;
  /** Run inside the flavour's context (napi: its poll scope). */
  run<T>(fn: () => T): T;
  /** Values `setup` kept for `bad` (fragments, prepared sizes). */
  kept: Record<string, unknown>;
}

/** One misuse made through a cache. */
interface CallRow {
  /** The misuse, as the README lists it. */
  misuse: string;
  /** The `PageFragError` code it throws. */
  code: PageFragErrorCode;
  /** Extra history for this row (run on the cache and its twin, inside the context). */
  setup?: (x: Ctx) => void;
  /** The misuse itself (inside the flavour's context unless `outsidePoll`). */
  bad: (x: Ctx) => unknown;
  /** Only with this flavour / only with the sanitizer on. */
  flavour?: Flavour;
  sanitizerOnly?: boolean;
  /** Make the bad call outside napi's poll scope. */
  outsidePoll?: boolean;
  /** The row destroys the cache first: the next valid calls are frees and drains. */
  destroyed?: boolean;
  /** Only on these backends (rows the heap backend's own table covers). */
  backends?: BackendName[];
  /** Not with the sanitizer (its instrumented backend has its own checks). */
  plainOnly?: boolean;
}

const SIZES: [string, number][] = [
  ["0", 0],
  ["-1", -1],
  ["NaN", NaN],
  ["Infinity", Infinity],
  ["-Infinity", -Infinity],
  ["1.5", 1.5],
  ["2**53", 2 ** 53],
  [`larger than the largest fragment (${MAX_FRAG + 1})`, MAX_FRAG + 1],
  ['a string ("8")', "8" as unknown as number],
];

const ALIGNS: [string, number][] = [
  ["0", 0],
  ["3 (not a power of two)", 3],
  ["1.5 (not an integer)", 1.5],
  ["NaN", NaN],
  ["8192 (larger than a page)", 8192],
  ["-64", -64],
];

const ADDRESSES: [string, number][] = [
  ["0", 0],
  ["-4096", -4096],
  ["1.5", 1.5],
  ["NaN", NaN],
  ["2**40 (out of range)", 2 ** 40],
  ["2**30 + 4096 (past every arena)", 2 ** 30 + 4096],
];

/** Allocating calls a size can be wrong for. */
const SIZED: [string, (c: PageFragCache, n: number) => unknown][] = [
  ["alloc", (c, n) => c.alloc(n)],
  ["allocHandle", (c, n) => c.allocHandle(n)],
  ["allocAlign", (c, n) => c.allocAlign(n, 8)],
  ["prepare", (c, n) => c.prepare(n)],
  ["probe", (c, n) => c.probe(n)],
  ["commit", (c, n) => c.commit(n)],
  ["commitNoref", (c, n) => c.commitNoref(n)],
];

/** Calls an alignment can be wrong for. */
const ALIGNED: [string, (c: PageFragCache, a: number) => unknown][] = [
  ["alloc", (c, a) => c.alloc(8, { align: a })],
  ["allocHandle", (c, a) => c.allocHandle(8, { align: a })],
  ["allocAlign", (c, a) => c.allocAlign(8, a)],
  ["prepare", (c, a) => c.prepare(8, { align: a })],
  ["probe", (c, a) => c.probe(8, { align: a })],
];

/** Every allocating call, for the context and use-after-destroy rows. */
const ALLOCATING: [string, (x: Ctx) => unknown][] = [
  ["alloc", (x) => x.cache.alloc(10)],
  ["allocHandle", (x) => x.cache.allocHandle(10)],
  ["allocAlign", (x) => x.cache.allocAlign(10, 8)],
  ["prepare", (x) => x.cache.prepare(10)],
  ["probe", (x) => x.cache.probe(10)],
  ["commit", (x) => x.cache.commit(10)],
  ["commitNoref", (x) => x.cache.commitNoref(10)],
  ["abort", (x) => x.cache.abort(x.kept.last as number)],
];

/** A view of a foreign backend's page. */
function foreignView(): Uint8Array {
  return new HeapBackend().view(new HeapBackend().allocPage(0, false), 8);
}

/** Values that are not a fragment: each must be EFOREIGN, never a raw TypeError. */
const NOT_FRAGMENTS: [string, () => unknown][] = [
  ["null", () => null],
  ["undefined", () => undefined],
  ["a BigInt address (4096n)", () => 4096n],
  ["a Symbol", () => Symbol("addr")],
];

/** Rows the arena backends answer (the heap backend's rows are in its own branch). */
const ARENA: BackendName[] = ["shared", "wasm"];

export const CALL_ROWS: CallRow[] = [
  // ------------------------------------------------------------- sizes
  ...SIZES.flatMap(([label, n]) =>
    SIZED.map(([call, f]): CallRow => ({
      misuse: `${call}() of size ${label}`,
      code: "EINVAL_SIZE",
      setup: call.startsWith("commit") ? (x) => x.cache.prepare(64) : undefined,
      bad: (x) => f(x.cache, n),
    }))
  ),
  // -------------------------------------------------------- alignments
  ...ALIGNS.flatMap(([label, a]) =>
    ALIGNED.map(([call, f]): CallRow => ({
      misuse: `${call}() with alignment ${label}`,
      code: "EINVAL_ALIGN",
      bad: (x) => f(x.cache, a),
    }))
  ),
  {
    misuse: "allocation options that are not an object",
    code: "EINVAL_OPTION",
    bad: (x) => x.cache.alloc(8, 5 as never),
  },
  // ------------------------------------------------------------- frees
  {
    misuse: "free a foreign Uint8Array",
    code: "EFOREIGN",
    bad: (x) => x.cache.free(new Uint8Array(8)),
  },
  {
    misuse: "pageFragFree a foreign Uint8Array",
    code: "EFOREIGN",
    bad: () => pageFragFree(new Uint8Array(8)),
  },
  {
    misuse: "free a view of a foreign SharedArrayBuffer",
    code: "EFOREIGN",
    bad: (x) => x.cache.free(new Uint8Array(new SharedArrayBuffer(64), 8, 8)),
  },
  {
    misuse: "pageFragFree a view of a foreign SharedArrayBuffer",
    code: "EFOREIGN",
    bad: () => pageFragFree(new Uint8Array(new SharedArrayBuffer(64), 8, 8)),
  },
  {
    misuse: "free another backend's view",
    code: "EFOREIGN",
    bad: (x) => x.cache.free(foreignView()),
  },
  ...ADDRESSES.flatMap(([label, addr]): CallRow[] => [
    {
      misuse: `free address ${label}`,
      code: "EFOREIGN",
      bad: (x) => x.cache.free(addr),
    },
    {
      misuse: `backend.free address ${label}`,
      code: "EFOREIGN",
      bad: (x) => x.cache.backend.free(addr),
    },
  ]),
  ...NOT_FRAGMENTS.flatMap(([label, value]): CallRow[] => [
    {
      misuse: `free(${label})`,
      code: "EFOREIGN",
      bad: (x) => x.cache.free(value() as never),
    },
    {
      misuse: `backend.free(${label})`,
      code: "EFOREIGN",
      backends: ARENA,
      bad: (x) => x.cache.backend.free(value() as never),
    },
  ]),
  {
    misuse: "free a plain object { buffer, byteOffset } that looks like a view",
    code: "EFOREIGN",
    backends: ARENA,
    plainOnly: true,
    bad: (x) => {
      const v = x.kept.view as Uint8Array;
      x.cache.free({ buffer: v.buffer, byteOffset: v.byteOffset } as never);
    },
  },
  ...([["10.5", 10.5], ['"10"', "10"], ["10n", 10n], ["-1", -1]] as const).map(
    ([label, n]): CallRow => ({
      misuse: `backend.view(addr, ${label})`,
      code: "EINVAL_SIZE",
      backends: ARENA,
      bad: (x) => x.cache.backend.view(x.kept.live as number, n as never),
    }),
  ),
  {
    misuse: "backend.view(a BigInt address, 8)",
    code: "EFOREIGN",
    backends: ARENA,
    bad: (x) => x.cache.backend.view(4096n as never, 8),
  },
  {
    misuse: "free something that is neither a view nor an address",
    code: "EFOREIGN",
    bad: (x) => x.cache.free("4096" as never),
  },
  ...(["address", "view", "pageFragFree"] as const).map((how): CallRow => ({
    misuse: `free a fragment (by ${how}) twice, after its page went back`,
    code: "EDOUBLEFREE",
    setup: (x) => {
      // One fragment fills a whole page; drain and free it: the page is gone.
      const v = x.cache.alloc(MAX_FRAG)!;
      const addr = x.cache.backend.addressOf(v);
      x.cache.drain();
      x.cache.free(addr);
      x.kept.goneView = v;
      x.kept.goneAddr = addr;
    },
    bad: (x) =>
      how === "address"
        ? x.cache.free(x.kept.goneAddr as number)
        : how === "view"
        ? x.cache.free(x.kept.goneView as Uint8Array)
        : pageFragFree(x.kept.goneView as Uint8Array),
  })),
  {
    misuse: "free a fragment twice while its page is live (sanitizer)",
    code: "EDOUBLEFREE",
    sanitizerOnly: true,
    setup: (x) => {
      const a = x.cache.allocHandle(100)!;
      x.cache.free(a);
      x.kept.addr = a;
    },
    bad: (x) => x.cache.free(x.kept.addr as number),
  },
  {
    misuse: "abort a fragment already freed (sanitizer)",
    code: "EDOUBLEFREE",
    sanitizerOnly: true,
    setup: (x) => {
      const a = x.cache.allocHandle(100)!;
      x.cache.free(a);
      x.kept.addr = a;
    },
    bad: (x) => x.cache.abort(x.kept.addr as number),
  },
  // ---------------------------------------------- prepare / commit / abort
  {
    misuse: "commit without prepare",
    code: "ESTATE",
    bad: (x) => x.cache.commit(16),
  },
  {
    misuse: "commitNoref without prepare",
    code: "ESTATE",
    bad: (x) => x.cache.commitNoref(16),
  },
  {
    misuse: "commit larger than prepared",
    code: "ESTATE",
    setup: (x) => {
      x.kept.size = x.cache.prepare(16)!.size;
    },
    bad: (x) => x.cache.commit((x.kept.size as number) + 1),
  },
  {
    misuse: "commitNoref larger than prepared",
    code: "ESTATE",
    setup: (x) => {
      x.cache.prepare(8);
      x.cache.commit(8);
      x.kept.size = x.cache.prepare(16)!.size;
    },
    bad: (x) => x.cache.commitNoref((x.kept.size as number) + 1),
  },
  {
    misuse: "commit after an allocation took the prepared bytes",
    code: "ESTATE",
    setup: (x) => {
      x.cache.prepare(16);
      x.cache.allocHandle(8);
    },
    bad: (x) => x.cache.commit(16),
  },
  {
    misuse: "commit twice after one prepare",
    code: "ESTATE",
    setup: (x) => {
      x.cache.prepare(16);
      x.cache.commit(16);
    },
    bad: (x) => x.cache.commit(16),
  },
  {
    misuse: "commitNoref that extends no fragment",
    code: "ESTATE",
    setup: (x) => {
      x.cache.drain();
      x.cache.prepare(16);
    },
    bad: (x) => x.cache.commitNoref(16),
  },
  {
    misuse: "abort of an older fragment",
    code: "ESTATE",
    setup: (x) => {
      x.kept.older = x.cache.allocHandle(10);
      x.cache.allocHandle(10);
    },
    bad: (x) => x.cache.abort(x.kept.older as number),
  },
  {
    misuse: "abort of an older fragment, by view",
    code: "ESTATE",
    setup: (x) => {
      x.kept.older = x.cache.alloc(10);
      x.cache.alloc(10);
    },
    bad: (x) => x.cache.abort(x.kept.older as Uint8Array),
  },
  {
    misuse: "abort with nothing to abort",
    code: "ESTATE",
    setup: (x) => x.cache.drain(),
    bad: (x) => x.cache.abort(4096),
  },
  // ------------------------------------------------------------ context
  ...ALLOCATING.map(([call, f]): CallRow => ({
    misuse: `napi ${call}() outside poll`,
    code: "ECONTEXT",
    flavour: "napi",
    outsidePoll: true,
    setup: (x) => {
      x.cache.prepare(64);
      x.kept.last = x.cache.commit(8);
      x.cache.prepare(8);
    },
    bad: f,
  })),
  // ---------------------------------------------------- use after destroy
  ...ALLOCATING.map(([call, f]): CallRow => ({
    misuse: `${call}() after destroy()`,
    code: "ESTATE",
    destroyed: true,
    setup: (x) => {
      x.kept.last = x.cache.allocHandle(8);
      x.cache.destroy();
    },
    bad: f,
  })),
];

/** A bad option, tried on a container that already has good ones. */
interface OptionRow {
  misuse: string;
  code: PageFragErrorCode;
  options: (backend: BackendName) => PageFragOptions;
}

export const OPTION_ROWS: OptionRow[] = [
  {
    misuse: "unknown backend name",
    code: "EINVAL_OPTION",
    options: () => ({ backend: "disk" as never }),
  },
  {
    misuse: "unknown refill policy name",
    code: "EINVAL_OPTION",
    options: (b) => ({ backend: b, refill: "fastest" as never }),
  },
  {
    misuse: "unknown pfmemalloc policy name",
    code: "EINVAL_OPTION",
    options: (b) => ({ backend: b, pfmemalloc: "allow" as never }),
  },
  {
    misuse: "refill policy without plan()",
    code: "EINVAL_OPTION",
    options: (b) => ({ backend: b, refill: { name: "x" } as never }),
  },
  {
    misuse: "unknown option name",
    code: "EINVAL_OPTION",
    options: (b) => ({ backend: b, maxbytes: 1 } as never),
  },
  {
    misuse: "options that are not an object",
    code: "EINVAL_OPTION",
    options: () => 42 as never,
  },
  {
    misuse: "pageSize not a power of two (3000)",
    code: "EINVAL_OPTION",
    options: (b) => ({ backend: b, pageSize: 3000 }),
  },
  {
    misuse: "pageSize not a power of two (4097)",
    code: "EINVAL_OPTION",
    options: (b) => ({ backend: b, pageSize: 4097 }),
  },
  {
    misuse: "pageSize below 1024",
    code: "EINVAL_OPTION",
    options: (b) => ({ backend: b, pageSize: 512 }),
  },
  {
    misuse: "maxOrder negative",
    code: "EINVAL_OPTION",
    options: (b) => ({ backend: b, maxOrder: -1 }),
  },
  {
    misuse: "maxOrder not an integer",
    code: "EINVAL_OPTION",
    options: (b) => ({ backend: b, maxOrder: 1.5 }),
  },
  {
    misuse: "negative budget (maxBytes -1)",
    code: "EINVAL_OPTION",
    options: (b) => ({ backend: b, maxBytes: -1 }),
  },
  {
    misuse: "NaN budget",
    code: "EINVAL_OPTION",
    options: (b) => ({ backend: b, maxBytes: NaN }),
  },
  {
    misuse: "negative reserve (reserveBytes -4096)",
    code: "EINVAL_OPTION",
    options: (b) => ({ backend: b, reserveBytes: -4096 }),
  },
  {
    misuse: "alignment option 3",
    code: "EINVAL_ALIGN",
    options: (b) => ({ backend: b, align: 3 }),
  },
  {
    misuse: "alignment option 0",
    code: "EINVAL_ALIGN",
    options: (b) => ({ backend: b, align: 0 }),
  },
  {
    misuse: "alignment option 1.5",
    code: "EINVAL_ALIGN",
    options: (b) => ({ backend: b, align: 1.5 }),
  },
  {
    misuse: "alignment option larger than a page",
    code: "EINVAL_ALIGN",
    options: (b) => ({ backend: b, align: 8192 }),
  },
  {
    misuse: "zero that is not a boolean",
    code: "EINVAL_OPTION",
    options: (b) => ({ backend: b, zero: 1 as never }),
  },
  {
    misuse: "sanitize that is not a boolean or object",
    code: "EINVAL_OPTION",
    options: (b) => ({ backend: b, sanitize: "yes" as never }),
  },
  {
    misuse: "sanitize.redZone out of range",
    code: "EINVAL_OPTION",
    options: (b) => ({ backend: b, sanitize: { redZone: -1 } }),
  },
  {
    misuse: "unknown leakDetection level",
    code: "EINVAL_OPTION",
    options: (b) => ({ backend: b, leakDetection: "paranoid" as never }),
  },
  {
    misuse: "leakDetection.sampleInterval 0",
    code: "EINVAL_OPTION",
    options: (b) => ({ backend: b, leakDetection: { sampleInterval: 0 } }),
  },
];

// ---------------------------------------------------------------- running

function makeCache(
  backend: BackendName,
  flavour: Flavour,
  sanitize: boolean,
): Ctx {
  const options: PageFragOptions = { backend, ...GEOMETRY, sanitize };
  if (flavour === "napi") {
    const napi = createNapiCache(options);
    return { cache: napi, run: (fn) => napi.poll(fn), kept: {} };
  }
  const cache = flavour === "netdev"
    ? createNetdevCache(options)
    : createPageFragCache(options);
  return { cache, run: (fn) => fn(), kept: {} };
}

/** Everything observable: the cache's, the backend's and the sanitizer's counters. */
function observe(cache: PageFragCache): unknown {
  const san = instrumentationOf(cache)?.sanitizer?.stats();
  return {
    cache: cache.stats(),
    backend: cache.backend.stats(),
    sanitizer: san === undefined ? undefined : {
      liveFragments: san.liveFragments,
      freedRemembered: san.freedRemembered,
      pages: san.pages,
    },
    destroyed: cache.isDestroyed(),
    pfmemalloc: cache.isPfmemalloc(),
  };
}

/** The same known state on every cache: live and freed fragments, a partly used page. */
function history(x: Ctx): void {
  x.run(() => {
    const a = x.cache.allocHandle(100)!;
    x.kept.view = x.cache.alloc(300)!;
    x.cache.free(a);
    x.kept.live = x.cache.allocHandle(2000)!;
  });
}

/** The next valid calls: their results must not depend on the misuse. */
function next(x: Ctx): unknown {
  return x.run(() => {
    const p = x.cache.prepare(32)!;
    const prepared = [p.addr, p.size];
    const out = [
      prepared,
      x.cache.commit(16),
      x.cache.allocHandle(100),
      x.cache.backend.addressOf(x.cache.alloc(300)!),
      x.cache.allocHandle(5000),
      x.cache.allocHandle(MAX_FRAG),
      x.cache.allocHandle(1, { align: 64 }),
    ];
    x.cache.free(x.kept.live as number);
    x.cache.free(x.kept.view as Uint8Array);
    x.cache.drain();
    return [out, observe(x.cache)];
  });
}

/** After destroy(): frees and drains still work, allocation stays refused. */
function nextDestroyed(x: Ctx): unknown {
  x.cache.free(x.kept.live as number);
  x.cache.free(x.kept.view as Uint8Array);
  x.cache.free(x.kept.last as number);
  x.cache.drain();
  x.cache.destroy();
  return observe(x.cache);
}

function codeOf(fn: () => unknown): PageFragErrorCode | string {
  try {
    fn();
  } catch (e) {
    if (e instanceof PageFragError) return e.code;
    return `not a PageFragError: ${e}`;
  }
  return "no error";
}

const VARIANTS: {
  backend: BackendName;
  flavour: Flavour;
  sanitize: boolean;
}[] = [];
for (const backend of ["heap", "shared", "wasm"] as BackendName[]) {
  for (const sanitize of [false, true]) {
    for (const flavour of ["plain", "napi", "netdev"] as Flavour[]) {
      VARIANTS.push({ backend, flavour, sanitize });
    }
  }
}

/** Run one call row on one variant; throws (an assertion) if it misbehaves. */
function runCallRow(
  row: CallRow,
  backend: BackendName,
  flavour: Flavour,
  sanitize: boolean,
): void {
  const cache = makeCache(backend, flavour, sanitize);
  const twin = makeCache(backend, flavour, sanitize);
  for (const x of [cache, twin]) {
    history(x);
    if (row.setup) x.run(() => row.setup!(x));
  }
  const before = observe(cache.cache);
  const code = row.outsidePoll
    ? codeOf(() => row.bad(cache))
    : codeOf(() => cache.run(() => row.bad(cache)));
  assert.equal(code, row.code, "the code thrown");
  assert.deepEqual(
    observe(cache.cache),
    before,
    "the misuse changed the counters",
  );
  assert.deepEqual(
    observe(twin.cache),
    before,
    "the twin is where the cache was",
  );
  if (row.destroyed) {
    assert.deepEqual(nextDestroyed(cache), nextDestroyed(twin));
  } else {
    assert.deepEqual(
      next(cache),
      next(twin),
      "the next calls behave differently",
    );
  }
}

describe("bad input: each misuse throws its code and changes nothing (every backend, flavour, sanitizer on and off)", () => {
  for (const row of CALL_ROWS) {
    it(`${row.misuse} → ${row.code}`, () => {
      let ran = 0;
      for (const { backend, flavour, sanitize } of VARIANTS) {
        if (row.flavour !== undefined && row.flavour !== flavour) continue;
        if (row.backends !== undefined && !row.backends.includes(backend)) {
          continue;
        }
        if (row.sanitizerOnly && !sanitize) continue;
        if (row.plainOnly && sanitize) continue;
        const variant = `${backend} ${flavour}${
          sanitize ? " + sanitizer" : ""
        }`;
        try {
          runCallRow(row, backend, flavour, sanitize);
        } catch (e) {
          if (e instanceof Error) e.message = `[${variant}] ${e.message}`;
          throw e;
        }
        ran++;
      }
      assert.ok(
        ran >= (row.backends?.length ?? 3),
        "the row ran on every backend",
      );
    });
  }
});

describe("bad options: each throws its code and leaves the container as it was (every backend)", () => {
  for (const row of OPTION_ROWS) {
    it(`${row.misuse} → ${row.code}`, () => {
      for (const backend of ["heap", "shared", "wasm"] as BackendName[]) {
        const good: PageFragOptions = {
          backend,
          ...GEOMETRY,
          refill: "order0",
        };
        const app = registerPageFrag(container.createChildContainer(), good);
        const first = app.resolve<PageFragCache>(TOKENS.Cache);
        const kept = first.allocHandle(100)!;
        const before = first.backend.stats();
        assert.equal(
          codeOf(() => registerPageFrag(app, row.options(backend))),
          row.code,
          backend,
        );
        assert.equal(
          codeOf(() => createPageFragCache(row.options(backend))),
          row.code,
          backend,
        );
        // The container still resolves caches over the same backend, with the same options.
        const again = app.resolve<PageFragCache>(TOKENS.Cache);
        assert.equal(again.backend, first.backend);
        assert.equal(app.resolve<MemoryBackend>(TOKENS.Backend), first.backend);
        assert.equal(again.refillPolicy.name, "order0");
        assert.deepEqual(again.backend.stats(), before);
        const a = again.allocHandle(100)!;
        assert.equal(
          again.backend.stats().bytesInUse,
          2 * 4096,
          "order-0 pages, as configured",
        );
        again.free(a);
        first.free(kept);
        first.drain();
        again.drain();
        assert.equal(first.backend.stats().bytesInUse, 0);
      }
    });
  }
});

describe("bad input: the table covers the issue's list", () => {
  it("every listed misuse has a row", () => {
    const names = [...CALL_ROWS, ...OPTION_ROWS].map((r) => r.misuse).join(
      "\n",
    );
    for (
      const needle of [
        "size 0",
        "size -1",
        "size NaN",
        "size Infinity",
        "size 1.5",
        "size 2**53",
        "larger than the largest fragment",
        "alignment 0",
        "alignment 3",
        "not an integer",
        "larger than a page",
        "unknown backend name",
        "unknown refill policy name",
        "unknown pfmemalloc policy name",
        "pageSize not a power of two",
        "negative budget",
        "free a foreign Uint8Array",
        "view of a foreign SharedArrayBuffer",
        "(out of range)",
        "twice, after its page went back",
        "commit without prepare",
        "commit larger than prepared",
        "abort of an older fragment",
        "outside poll",
        "after destroy()",
      ]
    ) assert.ok(names.includes(needle), `no row for "${needle}"`);
    assert.ok(NapiFragCache.prototype.poll !== undefined);
  });
});

describe("bad input: descriptors, attach and options read as own properties (shared and wasm)", () => {
  it("attach() with the arena of one backend and the metadata of another is EINVAL_OPTION; the live fragment is untouched", () => {
    const b1 = new SharedBackend();
    const b2 = new SharedBackend();
    const c2 = createPageFragCache({ backend: b2 });
    const live = c2.allocHandle(100)!;
    b2.view(live, 100).fill(7);
    assert.equal(
      codeOf(() =>
        SharedBackend.attach({ ...b1.share(), arena: b2.share().arena })
      ),
      "EINVAL_OPTION",
    );
    assert.equal(
      codeOf(() => SharedBackend.attach({ ...b1.share(), uid: b2.uid })),
      "EINVAL_OPTION",
    );
    const w1 = new WasmBackend();
    const w2 = new WasmBackend();
    assert.equal(
      codeOf(() => WasmBackend.attach({ ...w1.share(), memory: w2.memory })),
      "EINVAL_OPTION",
    );
    assert.ok(b2.view(live, 100).every((x) => x === 7), "b2's fragment intact");
    assert.equal(b2.stats().pagesInUse, 1);
  });

  it("attach options: unknown keys and bad timeouts are EINVAL_OPTION", () => {
    const d = new SharedBackend().share();
    assert.equal(
      codeOf(() => SharedBackend.attach(d, { nope: 1 } as never)),
      "EINVAL_OPTION",
    );
    assert.equal(
      codeOf(() => SharedBackend.attach(d, { lockTimeoutMs: -1 })),
      "EINVAL_OPTION",
    );
    assert.equal(
      codeOf(() => new SharedBackend({ lockTimeoutMs: "2s" as never })),
      "EINVAL_OPTION",
    );
    assert.equal(
      codeOf(() => createPageFragCache({ lockTimeoutMs: 10 })),
      "EINVAL_OPTION",
      "heap has no lock",
    );
    assert.equal(
      codeOf(() =>
        attachNetdevCache(
          shareNetdevCache(createNetdevCache({ backend: "shared" })),
          { maxBytes: 1 } as never,
        )
      ),
      "EINVAL_OPTION",
    );
  });

  it("F5: a property on Object.prototype configures no backend, attach or netdev attach", () => {
    const proto = Object.prototype as Record<string, unknown>;
    const keys = [
      "maxBytes",
      "initialBytes",
      "lockTimeoutMs",
      "base",
      "memory",
      "zero",
      "refill",
      "version",
      "kind",
    ];
    const values: Record<string, unknown> = {
      maxBytes: 0,
      initialBytes: 1,
      lockTimeoutMs: -5,
      base: 1 << 29,
      memory: 1,
      zero: true,
      refill: "order0",
      version: 2,
      kind: "x",
    };
    try {
      for (const k of keys) proto[k] = values[k];
      const s = new SharedBackend();
      assert.equal(s.maxBytes, Infinity, "maxBytes came from the prototype");
      assert.equal(s.lockTimeoutMs, 2000);
      const w = new WasmBackend();
      assert.equal(w.base, 4096);
      const nd = createNetdevCache({ backend: "shared" });
      const d = shareNetdevCache(nd);
      const h = attachNetdevCache(d);
      assert.equal(h.zero, false, "zero came from the prototype");
      assert.equal(h.refillPolicy.name, "kernel");
      assert.equal(SharedBackend.attach(s.share()).maxBytes, Infinity);
    } finally {
      for (const k of keys) delete proto[k];
    }
  });
});

/**
 * Rows whose checks live in core/cache.ts (BigInt and Symbol sizes,
 * per-call option types and keys, a refill plan that is not an array,
 * `alloc` whose view fails). They run once the cache validates them; until
 * then they are skipped, and docs/hardening.md lists them as pending.
 */
const CACHE_VALIDATES =
  codeOf(() => createPageFragCache().allocHandle(10n as never)) ===
    "EINVAL_SIZE";

describe("bad input: core/cache.ts checks (every backend)", {
  skip: !CACHE_VALIDATES,
}, () => {
  const cases: [string, PageFragErrorCode, (c: PageFragCache) => unknown][] = [
    ["allocHandle(10n)", "EINVAL_SIZE", (c) => c.allocHandle(10n as never)],
    [
      "allocHandle(Symbol())",
      "EINVAL_SIZE",
      (c) => c.allocHandle(Symbol() as never),
    ],
    ["prepare(10n)", "EINVAL_SIZE", (c) => c.prepare(10n as never)],
    [
      'alloc(8, { zero: "yes" })',
      "EINVAL_OPTION",
      (c) => c.alloc(8, { zero: "yes" } as never),
    ],
    [
      "alloc(8, { memalloc: 1 })",
      "EINVAL_OPTION",
      (c) => c.alloc(8, { memalloc: 1 } as never),
    ],
    [
      "alloc(8, { colour: 1 }) (unknown key)",
      "EINVAL_OPTION",
      (c) => c.alloc(8, { colour: 1 } as never),
    ],
  ];
  for (const [label, code, f] of cases) {
    it(`${label} → ${code}`, () => {
      for (const backend of ["heap", "shared", "wasm"] as BackendName[]) {
        const c = createPageFragCache({ backend, ...GEOMETRY });
        c.free(c.allocHandle(10)!);
        const before = observe(c);
        assert.equal(codeOf(() => f(c)), code, backend);
        assert.deepEqual(observe(c), before, backend);
      }
    });
  }
  it("a per-call option inherited from Object.prototype is ignored", () => {
    const proto = Object.prototype as Record<string, unknown>;
    try {
      proto.memalloc = true;
      const c = createPageFragCache({ maxBytes: 0, reserveBytes: 32768 });
      assert.equal(c.alloc(8, {}), null, "memalloc came from the prototype");
    } finally {
      delete proto.memalloc;
    }
  });
  it("a refill policy whose plan() returns null → EINVAL_OPTION, nothing changed", () => {
    const c = createPageFragCache({
      refill: { name: "null", plan: () => null as never },
    });
    assert.equal(codeOf(() => c.allocHandle(8)), "EINVAL_OPTION");
    assert.equal(c.backend.stats().pagesInUse, 0);
  });
});
