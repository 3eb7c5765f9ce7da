/**
 * Model-based property tests of the cache state machine: a plain reference
 * model of the kernel's page_frag semantics (pages with reference counts, a
 * budget and a reserve, the cache's page / offset / bias / last / prepared
 * state, the refill plan, every counter), and fast-check commands that
 * drive a real cache and the model side by side and compare them after
 * every step:
 *
 * - the exact address of every fragment (page base + predicted offset), or
 *   the `null` / error code the model predicts;
 * - no two live fragments overlap, every fragment lies inside one live
 *   page, alignment holds, pages are naturally aligned and never overlap;
 * - every live fragment still holds the bytes written into it;
 * - `cache.stats()` and `backend.stats()` equal the model's, field by field;
 * - with the sanitizer on, no report is ever made for this legal workload;
 *   without zeroing a fresh fragment holds the poison.
 *
 * After each run everything is freed and the cache drained: `bytesInUse`
 * must be 0. See `test/model_test.ts` for the runs.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  createNapiCache,
  createNetdevCache,
  createPageFragCache,
  HeapBackend,
  type MemoryBackend,
  type NapiFragCache,
  type PageFragCache,
  PageFragError,
  pageFragFree,
  type PreparedFragment,
  SharedBackend,
  WasmBackend,
} from "../mod.ts";
import { POISON_FREE, type SanitizerError } from "../debug/mod.ts";
import { CTL, RING_BASE } from "./workers/model_protocol.ts";

export type BackendName = "heap" | "shared" | "wasm";
export type Flavour = "plain" | "napi" | "netdev";

/** What a run is made of: backend, flavour, geometry, budget, policies. */
export interface ModelConfig {
  backend: BackendName;
  flavour: Flavour;
  sanitize: boolean;
  pageSize: number;
  maxOrder: number;
  maxBytes: number;
  reserveBytes: number;
  refill: "kernel" | "order0";
  pfmemalloc: "kernel" | "deny";
  zero: boolean;
}

/** Red zone of the sanitized runs (small, so pages still fill up quickly). */
export const RED_ZONE = 8;

/** Model steps executed (for the closing report). */
export const counters = { steps: 0, runs: 0 };

/**
 * How often each path ran (summed over runs): the cache's own counters, the
 * backend's page failures, and the outcomes the commands saw. The suite
 * checks every one is hit, so the small configurations stay meaningful.
 */
export const coverage: Record<string, number> = {};
function hit(what: string, n = 1): void {
  coverage[what] = (coverage[what] ?? 0) + n;
}

// ------------------------------------------------------------------ model

interface MPage {
  /** Learned from the real system when the page is installed (-1 until then). */
  base: number;
  bytes: number;
  refs: number;
  pf: boolean;
  id: number;
}

interface MFrag {
  addr: number;
  size: number;
  /** Bytes carved (size + red zone). */
  carved: number;
  page: MPage;
  tag: number;
  view: Uint8Array | undefined;
}

type Step = { order: number; reserve: boolean };

/** The reference model: the kernel's page_frag_cache, written plainly. */
export class Model {
  readonly cfg: ModelConfig;
  readonly maxFrag: number;
  readonly biasMax: number;
  readonly redZone: number;
  // The cache.
  page: MPage | undefined;
  offset = 0;
  bias = 0;
  /** Address of the most recent fragment (abort's target); 0 none; negative: it was freed. */
  last = 0;
  /** Offset the pending prepare/probe returned, and the bytes it offered. */
  prep = 0;
  prepSize = 0;
  prepPending = false;
  // Cache counters.
  c = {
    allocs: 0,
    allocFailures: 0,
    refills: 0,
    recycles: 0,
    fallbacks: 0,
    pfmemallocRefills: 0,
    drains: 0,
    aborts: 0,
  };
  // Backend counters.
  b = {
    inUse: 0,
    reserveInUse: 0,
    pagesInUse: 0,
    allocated: 0,
    freed: 0,
    failures: 0,
    peak: 0,
  };
  readonly pages = new Set<MPage>();
  readonly frags: MFrag[] = [];
  /** A page installed by the command being run, whose base the real system tells. */
  fresh: MPage | undefined;
  #ids = 0;
  #tags = 0;

  constructor(cfg: ModelConfig) {
    this.cfg = cfg;
    this.maxFrag = cfg.pageSize * 2 ** cfg.maxOrder;
    this.biasMax = this.maxFrag + 1;
    this.redZone = cfg.sanitize ? RED_ZONE : 0;
  }

  nextTag(): number {
    this.#tags = (this.#tags + 1) & 0xff;
    return this.#tags === POISON_FREE ? ++this.#tags : this.#tags;
  }

  get pageBytes(): number {
    return this.page?.bytes ?? 0;
  }

  get pageBase(): number {
    return this.page?.base ?? 0;
  }

  // ---------------------------------------------------------- backend

  allocPage(order: number, reserve: boolean): MPage | undefined {
    const bytes = this.cfg.pageSize << order;
    let pf = false;
    if (this.b.inUse - this.b.reserveInUse + bytes > this.cfg.maxBytes) {
      if (!reserve || this.b.reserveInUse + bytes > this.cfg.reserveBytes) {
        this.b.failures++;
        return undefined;
      }
      pf = true;
    }
    const page: MPage = { base: -1, bytes, refs: 1, pf, id: ++this.#ids };
    this.pages.add(page);
    this.b.inUse += bytes;
    if (pf) this.b.reserveInUse += bytes;
    this.b.pagesInUse++;
    this.b.allocated++;
    if (this.b.inUse > this.b.peak) this.b.peak = this.b.inUse;
    this.fresh = page;
    return page;
  }

  release(page: MPage): void {
    assert.equal(page.refs, 0);
    this.pages.delete(page);
    this.b.inUse -= page.bytes;
    if (page.pf) this.b.reserveInUse -= page.bytes;
    this.b.pagesInUse--;
    this.b.freed++;
  }

  // ------------------------------------------------------------ cache

  #forget(): void {
    this.page = undefined;
    this.offset = 0;
    this.bias = 0;
    this.last = 0;
    this.prepPending = false;
  }

  #install(page: MPage): void {
    this.page = page;
    this.offset = 0;
    this.bias = this.biasMax;
  }

  #plan(size: number): Step[] {
    const { pageSize, maxOrder, refill } = this.cfg;
    let minOrder = 0;
    while (pageSize * 2 ** minOrder < size) minOrder++;
    if (refill === "order0") return [{ order: minOrder, reserve: true }];
    return minOrder >= maxOrder
      ? [{ order: maxOrder, reserve: true }]
      : [{ order: maxOrder, reserve: false }, {
        order: minOrder,
        reserve: true,
      }];
  }

  #makeRoom(size: number, memalloc: boolean): boolean {
    const page = this.page;
    this.last = 0;
    this.prepPending = false;
    if (page !== undefined) {
      const recyclable = page.bytes >= size && !page.pf;
      const bias = this.bias;
      this.#forget();
      page.refs -= bias;
      assert.ok(page.refs >= 0, "model: negative page count");
      if (page.refs === 0) {
        if (recyclable) {
          page.refs += this.biasMax;
          this.#install(page);
          this.c.recycles++;
          return true;
        }
        this.release(page);
      }
    }
    const steps = this.#plan(size);
    const reserveAllowed = this.cfg.pfmemalloc === "kernel" && memalloc;
    for (let i = 0; i < steps.length; i++) {
      const p = this.allocPage(
        steps[i].order,
        steps[i].reserve && reserveAllowed,
      );
      if (p === undefined) continue;
      p.refs += this.biasMax - 1;
      this.#install(p);
      this.c.refills++;
      if (i > 0) this.c.fallbacks++;
      if (p.pf) this.c.pfmemallocRefills++;
      return true;
    }
    return false;
  }

  /** Where a fragment of `carved` bytes goes: [page, offset], or undefined (null). */
  alloc(carved: number, align: number, memalloc: boolean): MPage | undefined {
    const mask = align - 1;
    for (;;) {
      const offset = (this.offset + mask) & ~mask;
      if (offset + carved <= this.pageBytes) {
        this.bias--;
        this.offset = offset + carved;
        this.c.allocs++;
        return this.page;
      }
      if (!this.#makeRoom(carved, memalloc)) {
        this.c.allocFailures++;
        return undefined;
      }
    }
  }

  /** The offset `alloc` just carved at. */
  carvedAt(carved: number): number {
    return this.offset - carved;
  }

  prepare(min: number, align: number, memalloc: boolean): boolean {
    const mask = align - 1;
    for (;;) {
      const offset = (this.offset + mask) & ~mask;
      if (offset + min <= this.pageBytes) {
        this.prep = offset;
        this.prepSize = this.pageBytes - offset;
        return true;
      }
      if (!this.#makeRoom(min, memalloc)) {
        this.c.allocFailures++;
        return false;
      }
    }
  }

  probe(min: number, align: number): boolean {
    const mask = align - 1;
    const offset = (this.offset + mask) & ~mask;
    if (offset + min > this.pageBytes) return false;
    this.prep = offset;
    this.prepSize = this.pageBytes - offset;
    return true;
  }

  /** The error code `commit(n)` / `commitNoref(n)` throws, or undefined. */
  commitErrorFor(n: number, noref: boolean): string | undefined {
    if (!(n >= 1 && n <= this.maxFrag) || (n | 0) !== n) return "EINVAL_SIZE";
    if (!this.prepPending) return "ESTATE";
    const off = this.prep;
    if (off < this.offset) return "ESTATE";
    if (off + n > this.pageBytes) return "ESTATE";
    if (noref && (off !== this.offset || this.bias === this.biasMax)) {
      return "ESTATE";
    }
    return undefined;
  }

  commit(n: number): number {
    const off = this.prep;
    this.bias--;
    this.offset = off + n;
    this.prepPending = false;
    this.c.allocs++;
    return off;
  }

  commitNoref(n: number): void {
    this.offset = this.prep + n;
    this.prepPending = false;
  }

  /** The live fragment whose carved bytes end exactly at offset `off` of the current page. */
  fragEndingAt(off: number): MFrag | undefined {
    const end = this.pageBase + off;
    return this.frags.find((f) =>
      f.page === this.page && f.addr + f.carved === end
    );
  }

  abort(f: MFrag): void {
    this.offset = f.addr - this.pageBase;
    this.bias++;
    this.last = 0;
    this.prepPending = false;
    this.c.aborts++;
    this.removeFrag(f);
  }

  free(f: MFrag): void {
    this.removeFrag(f);
    f.page.refs--;
    assert.ok(f.page.refs >= 0);
    if (f.page.refs === 0) this.release(f.page);
  }

  drain(): void {
    const page = this.page;
    if (page === undefined) return;
    const bias = this.bias;
    this.#forget();
    this.prepPending = false;
    this.c.drains++;
    page.refs -= bias;
    if (page.refs === 0) this.release(page);
  }

  removeFrag(f: MFrag): void {
    const i = this.frags.indexOf(f);
    assert.ok(i >= 0, "model: fragment not live");
    this.frags[i] = this.frags[this.frags.length - 1];
    this.frags.pop();
  }

  /** The backend stats the model predicts. */
  backendStats(): Record<string, number> {
    let pinnedPages = 0;
    let pinnedBytes = 0;
    for (const p of this.pages) {
      if (p.refs >= 1 && p.refs <= 2) {
        pinnedPages++;
        pinnedBytes += p.bytes;
      }
    }
    return {
      bytesTotal: this.cfg.maxBytes + this.cfg.reserveBytes,
      bytesInUse: this.b.inUse,
      pagesInUse: this.b.pagesInUse,
      reserveInUse: this.b.reserveInUse,
      pagesAllocated: this.b.allocated,
      pagesFreed: this.b.freed,
      pageFailures: this.b.failures,
      peakBytesInUse: this.b.peak,
      pinnedPages,
      pinnedBytes,
    };
  }
}

// ------------------------------------------------------------------- real

/** The system under test. */
export interface Real {
  cache: PageFragCache;
  backend: MemoryBackend;
  /** Run an allocating call in the flavour's context (napi: inside poll). */
  run<T>(fn: () => T): T;
  /** Sanitizer reports (must stay empty). */
  reports: SanitizerError[];
}

export function makeReal(cfg: ModelConfig): Real {
  const geometry = {
    pageSize: cfg.pageSize,
    maxOrder: cfg.maxOrder,
    maxBytes: cfg.maxBytes,
    reserveBytes: cfg.reserveBytes,
  };
  const backend: MemoryBackend = cfg.backend === "heap"
    ? new HeapBackend(geometry)
    : cfg.backend === "shared"
    ? new SharedBackend({ ...geometry, initialBytes: 0 })
    : new WasmBackend({ ...geometry, initialBytes: 0 });
  const reports: SanitizerError[] = [];
  const options = {
    backend,
    refill: cfg.refill,
    pfmemalloc: cfg.pfmemalloc,
    zero: cfg.zero,
    sanitize: cfg.sanitize
      ? {
        redZone: RED_ZONE,
        sites: false,
        onReport: (e: SanitizerError) => reports.push(e),
      }
      : false,
  };
  if (cfg.flavour === "napi") {
    const napi: NapiFragCache = createNapiCache(options);
    return {
      cache: napi,
      backend: napi.backend,
      run: (fn) => napi.poll(fn),
      reports,
    };
  }
  const cache = cfg.flavour === "netdev"
    ? createNetdevCache(options)
    : createPageFragCache(options);
  return { cache, backend: cache.backend, run: (fn) => fn(), reports };
}

// ------------------------------------------------------------- checking

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    if (e instanceof PageFragError) return e.code;
    throw e;
  }
}

/** Compare everything observable after a step. */
export function checkAll(m: Model, r: Real, what: string): void {
  assert.deepEqual(
    r.reports.map((e) => e.message),
    [],
    `${what}: sanitizer reports`,
  );
  assert.deepEqual(r.cache.stats(), m.c, `${what}: cache.stats()`);
  // The fields the model predicts (a backend may report more, e.g. view hits).
  const expected = m.backendStats();
  const real = r.backend.stats() as unknown as Record<string, number>;
  assert.deepEqual(
    Object.fromEntries(Object.keys(expected).map((k) => [k, real[k]])),
    expected,
    `${what}: backend.stats()`,
  );
  assert.equal(
    r.cache.isPfmemalloc(),
    m.page?.pf ?? false,
    `${what}: isPfmemalloc`,
  );
}

/** A page the real system just installed: learn its base, check it. */
function learnPage(m: Model, r: Real, page: MPage, base: number): void {
  if (page.base === -1) {
    page.base = base;
    assert.equal(
      base % page.bytes,
      0,
      `page ${base} of ${page.bytes} bytes is not naturally aligned`,
    );
    assert.equal(r.backend.pageBytes(base), page.bytes, "page size");
    for (const other of m.pages) {
      if (other === page || other.base === -1) continue;
      assert.ok(
        other.base + other.bytes <= base || base + page.bytes <= other.base,
        `new page ${base}+${page.bytes} overlaps live page ${other.base}+${other.bytes}`,
      );
    }
  }
  m.fresh = undefined;
}

/** A new live fragment: check its place and alignment, fill it, record it. */
function placeFrag(
  m: Model,
  r: Real,
  page: MPage,
  addr: number,
  size: number,
  carved: number,
  align: number,
  view: Uint8Array | undefined,
): MFrag {
  assert.equal(addr % align, 0, `fragment ${addr} not aligned to ${align}`);
  assert.equal(
    r.backend.pageOf(addr),
    page.base,
    `fragment ${addr} not in page ${page.base}`,
  );
  assert.equal(
    r.backend.pageOf(addr + size - 1),
    page.base,
    `fragment ${addr}+${size} crosses its page`,
  );
  assert.ok(
    addr + carved <= page.base + page.bytes,
    `fragment ${addr}+${carved} runs past its page`,
  );
  for (const f of m.frags) {
    assert.ok(
      f.addr + f.carved <= addr || addr + carved <= f.addr,
      `fragment ${addr}+${carved} overlaps live fragment ${f.addr}+${f.carved}`,
    );
  }
  const f: MFrag = { addr, size, carved, page, tag: m.nextTag(), view };
  r.backend.view(addr, size).fill(f.tag);
  m.frags.push(f);
  return f;
}

function checkContent(r: Real, f: MFrag, what: string): void {
  const bytes = r.backend.view(f.addr, f.size);
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== f.tag) {
      assert.fail(
        `${what}: fragment ${f.addr}+${f.size} byte ${i} is ${
          bytes[i]
        }, expected its tag ${f.tag} (handed out twice?)`,
      );
    }
  }
}

// --------------------------------------------------------------- commands

type Cmd = fc.Command<Model, Real>;

/** Sizes: mostly small, sometimes large; negative values name edge sizes. */
const sizeArb = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 1, max: 300 }) },
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 5000 }) },
  { weight: 1, arbitrary: fc.constantFrom(-1, -2, -3, -4) },
);
const SIZE_NAMES: Record<number, string> = {
  [-1]: "pageSize",
  [-2]: "maxFrag",
  [-3]: "maxFrag-1",
  [-4]: "pageSize+1",
};
function resolveSize(sel: number, m: Model): number {
  if (sel > 0) return Math.min(sel, m.maxFrag);
  const ps = m.cfg.pageSize;
  const v = sel === -1
    ? ps
    : sel === -2
    ? m.maxFrag
    : sel === -3
    ? m.maxFrag - 1
    : ps + 1;
  return Math.max(1, Math.min(v, m.maxFrag));
}
function showSize(sel: number): string {
  return sel > 0 ? String(sel) : SIZE_NAMES[sel];
}
const alignArb = fc.constantFrom(undefined, undefined, 1, 2, 8, 64, 1024);

class AllocCmd implements Cmd {
  constructor(
    readonly sizeSel: number,
    readonly align: number | undefined,
    readonly asView: boolean,
    readonly memalloc: boolean,
    readonly zero: boolean | undefined,
  ) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    counters.steps++;
    const size = resolveSize(this.sizeSel, m);
    const align = this.align ?? 1;
    const rz = Math.min(m.redZone, m.maxFrag - size);
    const page = m.alloc(size + rz, align, this.memalloc);
    const opts =
      this.align === undefined && !this.memalloc && this.zero === undefined
        ? undefined
        : { align: this.align, memalloc: this.memalloc, zero: this.zero };
    let view: Uint8Array | null = null;
    const addr = r.run(() => {
      if (!this.asView) return r.cache.allocHandle(size, opts);
      view = r.cache.alloc(size, opts);
      return view === null ? null : r.backend.addressOf(view);
    });
    const what = String(this);
    if (page === undefined) {
      assert.equal(addr, null, `${what}: model expects null`);
      hit("alloc null");
      checkAll(m, r, what);
      return;
    }
    assert.notEqual(addr, null, `${what}: model expects a fragment`);
    hit(this.asView ? "alloc view" : "alloc handle");
    const off = m.carvedAt(size + rz);
    learnPage(m, r, page, addr! - off);
    assert.equal(
      addr,
      page.base + off,
      `${what}: address (page ${page.base} + offset ${off})`,
    );
    m.last = addr!;
    if (view !== null) {
      const v = view as Uint8Array;
      assert.equal(v.length, size, `${what}: view length`);
    }
    const bytes = r.backend.view(addr!, size);
    if (this.zero ?? m.cfg.zero) {
      assert.ok(bytes.every((b) => b === 0), `${what}: not zeroed`);
    } else if (m.cfg.sanitize) {
      assert.ok(bytes.every((b) => b === POISON_FREE), `${what}: not poisoned`);
    }
    placeFrag(m, r, page, addr!, size, size + rz, align, view ?? undefined);
    checkAll(m, r, what);
  }
  toString(): string {
    const o = [
      this.align === undefined ? "" : `align ${this.align}`,
      this.memalloc ? "memalloc" : "",
      this.zero === undefined ? "" : `zero ${this.zero}`,
    ].filter(Boolean).join(", ");
    return `${this.asView ? "alloc" : "allocHandle"}(${showSize(this.sizeSel)}${
      o ? `, {${o}}` : ""
    })`;
  }
}

const FREE_HOW = ["view", "address", "backend", "pageFragFree"] as const;

class FreeCmd implements Cmd {
  constructor(readonly pick: number, readonly how: (typeof FREE_HOW)[number]) {}
  check(m: Readonly<Model>): boolean {
    return m.frags.length > 0;
  }
  run(m: Model, r: Real): void {
    counters.steps++;
    const f = m.frags[this.pick % m.frags.length];
    const what = `${this} of ${f.addr}+${f.size}`;
    checkContent(r, f, what);
    const view = f.view ?? r.backend.view(f.addr, f.size);
    hit(`free by ${this.how}`);
    if (this.how === "view") r.cache.free(view);
    else if (this.how === "address") r.cache.free(f.addr);
    else if (this.how === "backend") r.backend.free(f.addr);
    else pageFragFree(view);
    if (m.last === f.addr) m.last = -f.addr; // freed: abort would now be misuse
    m.free(f);
    checkAll(m, r, what);
  }
  toString(): string {
    return `free(#${this.pick}, by ${this.how})`;
  }
}

class DrainCmd implements Cmd {
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    counters.steps++;
    m.drain();
    r.cache.drain();
    checkAll(m, r, "drain()");
  }
  toString(): string {
    return "drain()";
  }
}

class PrepareCmd implements Cmd {
  constructor(
    readonly minSel: number,
    readonly align: number | undefined,
    readonly memalloc: boolean,
    readonly probe: boolean,
    readonly scribble: number,
  ) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    counters.steps++;
    const min = resolveSize(this.minSel, m);
    const align = this.align ?? 1;
    const ok = this.probe
      ? m.probe(min, align)
      : m.prepare(min, align, this.memalloc);
    const opts = this.align === undefined && !this.memalloc
      ? undefined
      : { align: this.align, memalloc: this.memalloc };
    const p: PreparedFragment | null = r.run(() =>
      this.probe ? r.cache.probe(min, opts) : r.cache.prepare(min, opts)
    );
    const what = String(this);
    if (!ok) {
      assert.equal(p, null, `${what}: model expects null`);
      hit(this.probe ? "probe null" : "prepare null");
      checkAll(m, r, what);
      return;
    }
    assert.notEqual(p, null, `${what}: model expects bytes`);
    if (m.fresh !== undefined) learnPage(m, r, m.fresh, p!.addr - m.prep);
    assert.equal(p!.addr, m.pageBase + m.prep, `${what}: address`);
    assert.equal(p!.size, m.prepSize, `${what}: size`);
    assert.equal(p!.addr % align, 0, `${what}: alignment`);
    m.prepPending = true;
    hit(this.probe ? "probe ok" : "prepare ok");
    // The caller may write into what prepare offered before committing.
    const n = Math.min(this.scribble, p!.size);
    if (n > 0) r.backend.view(p!.addr, n).fill(0x5a);
    checkAll(m, r, what);
  }
  toString(): string {
    const o = [
      this.align === undefined ? "" : `align ${this.align}`,
      this.memalloc ? "memalloc" : "",
    ].filter(Boolean).join(", ");
    return `${this.probe ? "probe" : "prepare"}(${showSize(this.minSel)}${
      o ? `, {${o}}` : ""
    })${this.scribble ? ` + write ${this.scribble}` : ""}`;
  }
}

class CommitCmd implements Cmd {
  /** `over`: 0..3 commit `pct`% of the prepared bytes, 4 one byte more, 5 maxFrag + 1. */
  constructor(
    readonly pct: number,
    readonly noref: boolean,
    readonly over: number,
  ) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    counters.steps++;
    const avail = m.prepPending ? m.prepSize : 16;
    const n = this.over < 4
      ? Math.max(1, Math.round(this.pct / 100 * avail))
      : this.over === 4
      ? avail + 1
      : m.maxFrag + 1;
    const what = `${this} = ${n}`;
    const code = m.commitErrorFor(n, this.noref);
    if (
      code === undefined && this.noref && m.fragEndingAt(m.prep) === undefined
    ) {
      return; // would extend a fragment already freed (or nothing): misuse the sanitizer reports
    }
    if (code !== undefined) {
      const got = codeOf(() =>
        r.run(() => this.noref ? r.cache.commitNoref(n) : r.cache.commit(n))
      );
      assert.equal(got, code, `${what}: expected ${code}`);
      hit(`${this.noref ? "commitNoref" : "commit"} ${code}`);
      checkAll(m, r, what);
      return;
    }
    if (this.noref) {
      const f = m.fragEndingAt(m.prep)!;
      const at = m.prep;
      r.run(() => r.cache.commitNoref(n));
      m.commitNoref(n);
      // The fragment grew: write its tag over the new bytes too.
      f.size = m.pageBase + at + n - f.addr;
      f.carved = f.size;
      f.view = undefined;
      r.backend.view(f.addr, f.size).fill(f.tag);
      hit("commitNoref ok");
      checkAll(m, r, what);
      return;
    }
    const page = m.page!;
    const off = m.commit(n);
    const addr = r.run(() => r.cache.commit(n));
    assert.equal(addr, page.base + off, `${what}: address`);
    m.last = addr;
    hit("commit ok");
    placeFrag(m, r, page, addr, n, n, 1, undefined);
    checkAll(m, r, what);
  }
  toString(): string {
    return `${this.noref ? "commitNoref" : "commit"}(${
      this.over < 4
        ? `${this.pct}% of prepared`
        : this.over === 4
        ? "prepared + 1"
        : "maxFrag + 1"
    })`;
  }
}

/** The usual sequence in one command: prepare, write, commit (or commitNoref). */
class PrepareCommitCmd implements Cmd {
  readonly prepare: PrepareCmd;
  readonly commit: CommitCmd;
  constructor(
    minSel: number,
    align: number | undefined,
    pct: number,
    noref: boolean,
  ) {
    this.prepare = new PrepareCmd(minSel, align, false, false, 0);
    this.commit = new CommitCmd(pct, noref, 0);
  }
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    this.prepare.run(m, r);
    if (m.prepPending) {
      const n = Math.min(m.prepSize, 64);
      r.backend.view(m.pageBase + m.prep, n).fill(0x5a);
      this.commit.run(m, r);
    }
  }
  toString(): string {
    return `${this.prepare} + ${this.commit}`;
  }
}

class AbortCmd implements Cmd {
  constructor(readonly older: boolean, readonly pick: number) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    counters.steps++;
    if (!this.older) {
      const f = m.last > 0 ? m.frags.find((g) => g.addr === m.last) : undefined;
      if (f === undefined) {
        if (m.last !== 0) return; // the last fragment was freed: aborting it is misuse
        const got = codeOf(() => r.run(() => r.cache.abort(1)));
        assert.equal(got, "ESTATE", `${this}: nothing to abort`);
        hit("abort ESTATE");
        checkAll(m, r, String(this));
        return;
      }
      r.run(() => r.cache.abort(f.view ?? f.addr));
      m.abort(f);
      checkAll(m, r, String(this));
      return;
    }
    const others = m.frags.filter((g) => g.addr !== m.last);
    if (others.length === 0) return;
    const f = others[this.pick % others.length];
    const got = codeOf(() => r.run(() => r.cache.abort(f.addr)));
    assert.equal(got, "ESTATE", `${this}: abort of an older fragment`);
    hit("abort ESTATE");
    checkAll(m, r, String(this));
  }
  toString(): string {
    return this.older ? `abort(older #${this.pick})` : "abort(last)";
  }
}

/** Every command, weighted towards allocation and free. */
export const commandArbs: fc.Arbitrary<Cmd>[] = [
  fc.tuple(
    sizeArb,
    alignArb,
    fc.boolean(),
    fc.boolean(),
    fc.constantFrom(undefined, undefined, true, false),
  )
    .map(([s, a, v, mem, z]) => new AllocCmd(s, a, v, mem, z)),
  fc.tuple(
    sizeArb,
    alignArb,
    fc.boolean(),
    fc.boolean(),
    fc.constantFrom(undefined, undefined, true, false),
  )
    .map(([s, a, v, mem, z]) => new AllocCmd(s, a, v, mem, z)),
  fc.tuple(fc.nat(), fc.constantFrom(...FREE_HOW)).map(([i, how]) =>
    new FreeCmd(i, how)
  ),
  fc.tuple(fc.nat(), fc.constantFrom(...FREE_HOW)).map(([i, how]) =>
    new FreeCmd(i, how)
  ),
  fc.constant(new DrainCmd()),
  fc.tuple(
    sizeArb,
    alignArb,
    fc.boolean(),
    fc.boolean(),
    fc.constantFrom(0, 0, 1, 40),
  )
    .map(([s, a, mem, probe, w]) => new PrepareCmd(s, a, mem, probe, w)),
  fc.tuple(
    fc.integer({ min: 0, max: 100 }),
    fc.boolean(),
    fc.integer({ min: 0, max: 5 }),
  )
    .map(([pct, noref, over]) => new CommitCmd(pct, noref, over)),
  fc.tuple(fc.boolean(), fc.nat()).map(([older, i]) =>
    new AbortCmd(older && i % 2 === 0, i)
  ),
  fc.tuple(sizeArb, alignArb, fc.integer({ min: 0, max: 100 }), fc.boolean())
    .map(([s, a, pct, noref]) => new PrepareCommitCmd(s, a, pct, noref)),
];

/** Configurations: small pages and budgets, so every path runs often. */
export function configArb(
  backend: BackendName,
  flavour: Flavour,
  sanitize: boolean,
): fc.Arbitrary<ModelConfig> {
  return fc.record({
    pageSize: fc.constantFrom(1024, 2048),
    maxOrder: fc.integer({ min: 0, max: 3 }),
    pages: fc.oneof(fc.integer({ min: 0, max: 12 }), fc.constant(-1)),
    reservePages: fc.constantFrom(0, 0, 1, 2, 4),
    refill: fc.constantFrom("kernel" as const, "order0" as const),
    pfmemalloc: fc.constantFrom(
      "kernel" as const,
      "kernel" as const,
      "deny" as const,
    ),
    zero: fc.boolean(),
  }).map((o): ModelConfig => ({
    backend,
    flavour,
    sanitize,
    pageSize: o.pageSize,
    maxOrder: o.maxOrder,
    // Unlimited only on the heap (an arena is sized from its budget).
    maxBytes: o.pages < 0
      ? (backend === "heap" ? Infinity : 64 * o.pageSize)
      : o.pages * o.pageSize,
    reserveBytes: o.reservePages * o.pageSize,
    refill: o.refill,
    pfmemalloc: o.pfmemalloc,
    zero: o.zero,
  }));
}

/** After the commands: free everything, drain, and every byte is back. */
export function finish(m: Model, r: Real): void {
  for (const [k, v] of Object.entries(m.c)) hit(k, v);
  hit("pageFailures", m.b.failures);
  for (const f of [...m.frags]) {
    checkContent(r, f, "final sweep");
    r.backend.free(f.addr);
    m.free(f);
  }
  m.drain();
  r.cache.drain();
  checkAll(m, r, "after freeing everything and drain()");
  const s = r.backend.stats();
  assert.equal(s.bytesInUse, 0, "bytesInUse after drain + freeing everything");
  assert.equal(s.pagesInUse, 0);
  assert.equal(s.reserveInUse, 0);
  assert.equal(s.pagesAllocated, s.pagesFreed);
}

/** One property run: a config and a command sequence. */
export function modelProperty(
  backend: BackendName,
  flavour: Flavour,
  sanitize: boolean,
  maxCommands: number,
): fc.IPropertyWithHooks<[ModelConfig, Iterable<Cmd>]> {
  return fc.property(
    configArb(backend, flavour, sanitize),
    fc.commands(commandArbs, { maxCommands, size: "max" }),
    (cfg, cmds) => {
      counters.runs++;
      let model!: Model;
      let real!: Real;
      fc.modelRun(() => {
        model = new Model(cfg);
        real = makeReal(cfg);
        return { model, real };
      }, cmds);
      finish(model, real);
    },
  );
}

// ----------------------------------------------------------- cross-worker

/**
 * The cross-worker variant, on the shared backend: this thread allocates
 * from its cache and hands fragments to a worker (`workers/model_worker.ts`)
 * that frees them by address, in a random order, concurrently with the
 * allocations that follow. Between syncs the interleaving is whatever the
 * two threads make of it; at a sync point (the worker has freed everything
 * it was sent) the state is known again and checked exactly.
 */
export interface CrossState {
  backend: SharedBackend;
  cache: PageFragCache;
  ctl: Int32Array;
  cap: number;
  /** Fragments this thread still holds. */
  held: { addr: number; size: number; tag: number }[];
  allocs: number;
  tags: number;
  sent: number;
}

type CrossCmd = fc.Command<{ allocs: number }, CrossState>;

/** Wake the worker. */
export function ring(ctl: Int32Array): void {
  Atomics.add(ctl, CTL.BELL, 1);
  Atomics.notify(ctl, CTL.BELL);
}

/** Let the worker run for about `us` microseconds (this thread spins; it does not give up its turn). */
function spin(us: number): void {
  const end = performance.now() + us / 1000;
  while (performance.now() < end) { /* the worker frees meanwhile */ }
}

export function sendToWorker(
  s: CrossState,
  f: { addr: number; size: number; tag: number },
): void {
  const ctl = s.ctl;
  while (s.sent - Atomics.load(ctl, CTL.HEAD) >= s.cap) spin(50);
  const at = RING_BASE + (s.sent % s.cap) * 3;
  ctl[at] = f.addr;
  ctl[at + 1] = f.size;
  ctl[at + 2] = f.tag;
  s.sent++;
  Atomics.store(ctl, CTL.TAIL, s.sent);
  ring(ctl);
}

/** Wait until the worker freed everything sent, then check the state exactly. */
export function crossSync(s: CrossState, drain: boolean): void {
  const ctl = s.ctl;
  const req = Atomics.add(ctl, CTL.SYNC_REQ, 1) + 1;
  ring(ctl);
  const until = Date.now() + 30_000;
  for (let ack; (ack = Atomics.load(ctl, CTL.SYNC_ACK)) !== req;) {
    if (Date.now() > until) assert.fail("the worker did not sync in 30 s");
    Atomics.wait(ctl, CTL.SYNC_ACK, ack, 20);
  }
  assert.equal(
    Atomics.load(ctl, CTL.CORRUPT),
    0,
    "the worker found a fragment overwritten (handed out twice)",
  );
  assert.equal(Atomics.load(ctl, CTL.ERRORS), 0, "a free in the worker threw");
  for (const f of s.held) {
    const bytes = s.backend.view(f.addr, f.size);
    assert.ok(
      bytes.every((b) => b === f.tag),
      `held fragment ${f.addr}+${f.size} overwritten`,
    );
  }
  if (drain) s.cache.drain();
  // Everything sent is free: the live pages are those of the held fragments
  // (and, unless drained, the cache's own page).
  const perPage = new Map<number, number>();
  for (const f of s.held) {
    const p = s.backend.pageOf(f.addr);
    perPage.set(p, (perPage.get(p) ?? 0) + 1);
  }
  const st = s.backend.stats();
  let bytes = 0, pinnedPages = 0, pinnedBytes = 0;
  for (const [p, n] of perPage) {
    const b = s.backend.pageBytes(p);
    bytes += b;
    if (n <= 2) {
      pinnedPages++;
      pinnedBytes += b;
    }
  }
  assert.equal(s.cache.stats().allocs, s.allocs, "cache.stats().allocs");
  if (drain) {
    assert.equal(st.pagesInUse, perPage.size, "pagesInUse after sync + drain");
    assert.equal(st.bytesInUse, bytes, "bytesInUse after sync + drain");
    assert.equal(st.pinnedPages, pinnedPages, "pinnedPages after sync + drain");
    assert.equal(st.pinnedBytes, pinnedBytes, "pinnedBytes after sync + drain");
  } else {
    const extra = st.pagesInUse - perPage.size;
    assert.ok(
      extra === 0 || extra === 1,
      `pagesInUse ${st.pagesInUse} for ${perPage.size} pages of held fragments`,
    );
  }
  assert.equal(st.pagesAllocated - st.pagesFreed, st.pagesInUse);
}

class CrossAlloc implements CrossCmd {
  constructor(
    readonly size: number,
    readonly align: number,
    readonly view: boolean,
  ) {}
  check(): boolean {
    return true;
  }
  run(m: { allocs: number }, s: CrossState): void {
    counters.steps++;
    hit("cross alloc");
    const max = s.backend.pageSize * 2 ** s.backend.maxOrder;
    const size = Math.min(this.size, max);
    let addr: number | null;
    if (this.view) {
      const v = s.cache.alloc(size, { align: this.align });
      addr = v === null ? null : s.backend.addressOf(v);
    } else addr = s.cache.allocHandle(size, { align: this.align });
    if (addr === null) {
      hit("cross alloc null");
      spin(20); // let the worker free
      return;
    }
    m.allocs++;
    s.allocs++;
    assert.equal(addr % this.align, 0, "alignment");
    const page = s.backend.pageOf(addr);
    assert.ok(
      addr + size <= page + s.backend.pageBytes(page),
      "inside its page",
    );
    for (const f of s.held) {
      assert.ok(
        f.addr + f.size <= addr || addr + size <= f.addr,
        `overlaps held ${f.addr}+${f.size}`,
      );
    }
    s.tags = (s.tags + 1) & 0xff;
    const f = { addr, size, tag: s.tags };
    s.backend.view(addr, size).fill(f.tag);
    s.held.push(f);
  }
  toString(): string {
    return `${
      this.view ? "alloc" : "allocHandle"
    }(${this.size}, align ${this.align})`;
  }
}

class CrossSend implements CrossCmd {
  constructor(readonly count: number, readonly pick: number) {}
  check(): boolean {
    return true;
  }
  run(_m: { allocs: number }, s: CrossState): void {
    counters.steps++;
    for (let i = 0; i < this.count && s.held.length > 0; i++) {
      const k = (this.pick + i * 7) % s.held.length;
      const f = s.held[k];
      s.held[k] = s.held[s.held.length - 1];
      s.held.pop();
      sendToWorker(s, f);
      hit("cross sent");
    }
  }
  toString(): string {
    return `send ${this.count} to the worker`;
  }
}

class CrossFreeHere implements CrossCmd {
  constructor(readonly pick: number) {}
  check(m: Readonly<{ allocs: number }>): boolean {
    return m.allocs > 0;
  }
  run(_m: { allocs: number }, s: CrossState): void {
    counters.steps++;
    if (s.held.length === 0) return;
    const k = this.pick % s.held.length;
    const f = s.held[k];
    s.held[k] = s.held[s.held.length - 1];
    s.held.pop();
    assert.ok(
      s.backend.view(f.addr, f.size).every((b) => b === f.tag),
      "held fragment intact",
    );
    s.cache.free(f.addr);
    hit("cross free here");
  }
  toString(): string {
    return `free #${this.pick} here`;
  }
}

class CrossSync implements CrossCmd {
  constructor(readonly drain: boolean) {}
  check(): boolean {
    return true;
  }
  run(_m: { allocs: number }, s: CrossState): void {
    counters.steps++;
    hit("cross sync");
    crossSync(s, this.drain);
  }
  toString(): string {
    return this.drain ? "sync + drain" : "sync";
  }
}

class CrossYield implements CrossCmd {
  constructor(readonly us: number) {}
  check(): boolean {
    return true;
  }
  run(): void {
    counters.steps++;
    spin(this.us);
  }
  toString(): string {
    return `let the worker run ${this.us} µs`;
  }
}

export const crossCommandArbs: fc.Arbitrary<CrossCmd>[] = [
  fc.tuple(
    fc.integer({ min: 1, max: 3000 }),
    fc.constantFrom(1, 1, 8, 64),
    fc.boolean(),
  )
    .map(([n, a, v]) => new CrossAlloc(n, a, v)),
  fc.tuple(
    fc.integer({ min: 1, max: 300 }),
    fc.constantFrom(1, 1, 8, 64),
    fc.boolean(),
  )
    .map(([n, a, v]) => new CrossAlloc(n, a, v)),
  fc.tuple(fc.integer({ min: 1, max: 8 }), fc.nat()).map(([n, p]) =>
    new CrossSend(n, p)
  ),
  fc.nat().map((p) => new CrossFreeHere(p)),
  fc.boolean().map((d) => new CrossSync(d)),
  fc.integer({ min: 1, max: 200 }).map((us) => new CrossYield(us)),
];
