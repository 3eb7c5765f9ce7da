/**
 * The sanitizer's checker: its records of the pages and fragments it
 * watches and the checks made on them (poison, red zones, double frees,
 * the attribution of a changed byte to a freed or overflowed fragment).
 *
 * Everything here is internal to `debug/`: a {@linkcode Checker} belongs to
 * one `Sanitizer` (the public facade, `sanitizer.ts`), and the instrumented
 * backend and cache classes drive it as pages and fragments come and go.
 * The bytes it fills memory with ({@linkcode POISON_FREE},
 * {@linkcode POISON_REDZONE}) are public, from `pagefrag/debug`.
 *
 * @module
 */
import type { MemoryBackend } from "../core/backend.ts";
import type { PageFragErrorCode } from "../core/errors.ts";
import type { LeakDetector } from "./leaks.ts";
import { SanitizerError } from "./sanitizer_error.ts";

/**
 * The byte fresh pages and freed fragments are filled with when the
 * sanitizer is on (SLUB's `POISON_FREE`): a fragment read before it is
 * written shows it.
 *
 * @example
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { POISON_FREE } from "@pagefrag/pagefrag/debug";
 *
 * const cache = createPageFragCache({ sanitize: true });
 * if (cache.alloc(8)![0] !== POISON_FREE) throw new Error("not poisoned");
 * ```
 */
export const POISON_FREE = 0x6b;
/**
 * The byte the red zone after each fragment is filled with (SLUB's
 * `SLUB_RED_ACTIVE`); a free finds any other value there: `EOVERFLOW`.
 *
 * @example
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { POISON_REDZONE } from "@pagefrag/pagefrag/debug";
 *
 * const cache = createPageFragCache({ sanitize: true });
 * const addr = cache.allocHandle(8)!;
 * if (cache.backend.view(addr, 9)[8] !== POISON_REDZONE) throw new Error();
 * cache.free(addr);
 * ```
 */
export const POISON_REDZONE = 0xcc;

/** One fragment's record: live, or freed and remembered (internal). */
export interface Frag {
  addr: number;
  size: number;
  rz: number;
  /** Its page's base address and life (not the page: a freed record must not keep a page's memory). */
  base: number;
  life: number;
  seq: number;
  alloc: Error | undefined;
  free: Error | undefined;
  live: boolean;
}

/** One live page the sanitizer watches (it came through the instrumented backend; internal). */
export interface Page {
  readonly base: number;
  readonly bytes: number;
  readonly life: number;
  /** The page's memory. */
  readonly mem: Uint8Array;
  /** Its live fragments. */
  readonly live: Set<Frag>;
  /** Bytes a cache's pending prepare offered (the caller may have written there): [start, end). */
  dirtyStart: number;
  dirtyEnd: number;
  /** A cache holds it (its bulk bias is on the page). */
  held: boolean;
  /** A cache installed it once (raw pages from allocPage are not checked). */
  cached: boolean;
  /** The count reached zero and the page was checked and re-poisoned. */
  drained: boolean;
}

/** Where the stack frames of pagefrag's own modules start. */
const INTERNAL = (() => {
  try {
    return decodeURIComponent(new URL(".", import.meta.url).pathname);
  } catch {
    return "\u0000";
  }
})();

function captureSite(): Error {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 24;
  const e = new Error("site");
  Error.stackTraceLimit = limit;
  return e;
}

/** The stack of `e` without its first line and pagefrag's own frames on top (internal). */
export function formatSite(e: Error | undefined): string | undefined {
  if (e === undefined) return undefined;
  const lines = String(e.stack ?? "").split("\n");
  const frames = lines.filter((l) => /^\s*at\s|@/.test(l));
  let i = 0;
  while (i < frames.length - 1 && frames[i].includes(INTERNAL)) i++;
  const kept = frames.slice(i, i + 12).map((l) => `    ${l.trim()}`);
  return kept.length === 0 ? "    (no stack)" : kept.join("\n");
}

function hex(b: number): string {
  return `0x${b.toString(16).padStart(2, "0")}`;
}

/** Index of the first byte of `mem[from, to)` that is not `byte`, else -1 (internal). */
export function firstNot(
  mem: Uint8Array,
  from: number,
  to: number,
  byte: number,
): number {
  let i = from;
  // Long runs four bytes at a time (a page is 4-aligned in its buffer).
  if (to - from >= 64 && (mem.byteOffset & 3) === 0) {
    while ((i & 3) !== 0) if (mem[i++] !== byte) return i - 1;
    const words = new Int32Array(mem.buffer, mem.byteOffset + i, (to - i) >> 2);
    const w = byte * 0x01010101 | 0;
    for (let k = 0; k < words.length; k++) {
      if (words[k] !== w) {
        i += k << 2;
        while (mem[i] === byte) i++;
        return i;
      }
    }
    i += words.length << 2;
  }
  for (; i < to; i++) if (mem[i] !== byte) return i;
  return -1;
}

/**
 * What a checker is configured with: the sanitizer's options, defaults
 * applied (internal; `Sanitizer` resolves them).
 */
export interface CheckerConfig {
  readonly redZone: number;
  readonly sites: boolean;
  readonly history: number;
  readonly onReport: ((report: SanitizerError) => void) | undefined;
}

/**
 * The private state of a `Sanitizer` and the checks made on it (internal:
 * the facade hides it, the instrumented backend and cache classes drive
 * it).
 */
export class Checker {
  readonly redZone: number;
  readonly sites: boolean;
  readonly history: number;
  readonly onReport: ((report: SanitizerError) => void) | undefined;
  backend: MemoryBackend | undefined;
  leaks: LeakDetector | undefined;
  /** Live pages by base address. */
  readonly pages = new Map<number, Page>();
  /** Released arena ranges still poisoned, checked when reused: base -> [end, the page]. */
  readonly released = new Map<number, Page>();
  /** Live fragments by address. */
  readonly live = new Map<number, Frag>();
  /** Freed fragments by address, oldest first, at most `history`. */
  readonly freed = new Map<number, Frag>();
  /** Reports waiting for the outermost call to finish. */
  readonly pending: SanitizerError[] = [];
  /** Recent reports (at most 100). */
  readonly recent: SanitizerError[] = [];
  /** Public calls in progress (reports are raised when it returns to 0). */
  depth = 0;
  reports = 0;
  seq = 0;
  lives = 0;

  constructor(o: CheckerConfig) {
    this.redZone = o.redZone;
    this.sites = o.sites;
    this.history = o.history;
    this.onReport = o.onReport;
  }

  site(): Error | undefined {
    return this.sites ? captureSite() : undefined;
  }

  report(
    code: PageFragErrorCode,
    message: string,
    address: number,
    f?: Frag,
  ): void {
    const e = new SanitizerError(
      code,
      message,
      address,
      f === undefined ? undefined : { address: f.addr, size: f.size },
      formatSite(f?.alloc),
      formatSite(f?.free),
    );
    this.reports++;
    this.recent.push(e);
    if (this.recent.length > 100) this.recent.shift();
    this.pending.push(e);
  }

  /** A report made and thrown on the spot (bad input found before any change). */
  counted(e: SanitizerError): SanitizerError {
    this.reports++;
    this.recent.push(e);
    if (this.recent.length > 100) this.recent.shift();
    return e;
  }

  /** Raise what was found, once the outermost call is done. */
  flush(): void {
    if (this.depth !== 0 || this.pending.length === 0) return;
    const found = this.pending.splice(0);
    if (this.onReport !== undefined) {
      for (const e of found) this.onReport(e);
      return;
    }
    throw found[0];
  }

  pageOf(addr: number): Page | undefined {
    let base: number;
    try {
      base = this.backend!.pageOf(addr);
    } catch {
      return undefined;
    }
    return this.pages.get(base);
  }

  // ------------------------------------------------------------ pages

  /** A page came from the backend: check a reused arena range, poison it all. */
  pageAllocated(base: number, bytes: number, mem: Uint8Array): void {
    // Anything we knew at these addresses belongs to an earlier life.
    for (const p of this.overlapping(this.pages, base, bytes)) {
      this.forgetPage(p);
    }
    for (const p of this.overlapping(this.released, base, bytes)) {
      this.released.delete(p.base);
      if (p.cached) {
        this.verify(p, "after its page went back to the allocator");
      }
    }
    mem.fill(POISON_FREE);
    this.pages.set(base, {
      base,
      bytes,
      life: ++this.lives,
      mem,
      live: new Set(),
      dirtyStart: 0,
      dirtyEnd: 0,
      held: false,
      cached: false,
      drained: false,
    });
  }

  /**
   * The pages of `map` overlapping `[base, base + bytes)`. Pages are
   * naturally aligned blocks of at most the largest page, so only the
   * bases in `[base rounded down to the largest page, base + bytes)` can;
   * a small map is simply scanned.
   */
  overlapping(map: Map<number, Page>, base: number, bytes: number): Page[] {
    const out: Page[] = [];
    const b = this.backend!;
    const largest = b.pageSize * 2 ** b.maxOrder;
    const from = base - base % largest;
    const steps = (base + bytes - from) / b.pageSize;
    if (map.size <= steps) {
      for (const p of map.values()) {
        if (p.base < base + bytes && p.base + p.bytes > base) out.push(p);
      }
      return out;
    }
    for (let at = from; at < base + bytes; at += b.pageSize) {
      const p = map.get(at);
      if (p !== undefined && p.base + p.bytes > base) out.push(p);
    }
    return out;
  }

  forgetPage(p: Page): void {
    this.pages.delete(p.base);
    for (const f of p.live) this.live.delete(f.addr);
    p.live.clear();
    this.leaks?.forgetRange(p.base, p.base + p.bytes);
  }

  /**
   * The page's count reached zero (every fragment freed, no cache holds
   * it): every byte no live fragment holds must still be poison. Then
   * poison it all (the caller may recycle it in place).
   */
  pageDrained(p: Page): void {
    if (p.drained) return;
    p.drained = true;
    p.held = false;
    if (p.cached) this.verify(p, "");
    for (const f of p.live) this.live.delete(f.addr); // freed where we could not see
    p.live.clear();
    p.dirtyStart = p.dirtyEnd = 0;
    p.mem.fill(POISON_FREE);
  }

  /** The page went back to the backend. */
  pageReleased(p: Page, arena: boolean): void {
    this.pageDrained(p);
    this.pages.delete(p.base);
    this.leaks?.forgetRange(p.base, p.base + p.bytes);
    // Arena memory is reused by later pages: check it then. A heap page's
    // buffer is simply dropped (stale views write into garbage).
    if (arena) this.released.set(p.base, p);
  }

  /** Report the first run of bytes of `p` that should be poison and are not. */
  verify(p: Page, when: string): void {
    const mem = p.mem;
    const skip: [number, number][] = [];
    for (const f of p.live) {
      skip.push([f.addr - p.base, f.addr - p.base + f.size + f.rz]);
    }
    if (p.dirtyEnd > p.dirtyStart) {
      skip.push([p.dirtyStart - p.base, p.dirtyEnd - p.base]);
    }
    skip.sort((a, b) => a[0] - b[0]);
    let at = 0;
    for (let k = 0; k <= skip.length; k++) {
      const end = k < skip.length ? skip[k][0] : p.bytes;
      if (end > at) {
        const bad = firstNot(mem, at, end, POISON_FREE);
        if (bad >= 0) {
          this.reportByte(p, p.base + bad, mem[bad], when);
          return;
        }
      }
      if (k < skip.length) at = Math.max(at, skip[k][1]);
    }
  }

  /** Attribute a poison byte that changed: a freed fragment, or overflow past one. */
  reportByte(p: Page, addr: number, value: number, when: string): void {
    let best: Frag | undefined;
    let before: Frag | undefined;
    for (const f of this.freed.values()) {
      if (f.base !== p.base || f.life !== p.life) continue;
      if (f.addr <= addr && addr < f.addr + f.size + f.rz) {
        if (best === undefined || f.seq > best.seq) best = f;
      }
    }
    const what = `byte ${addr} holds ${hex(value)}, not the poison ${
      hex(POISON_FREE)
    }${when === "" ? "" : ` ${when}`}`;
    if (best !== undefined) {
      this.report(
        "EUSEAFTERFREE",
        `write after free: ${what}: offset ${
          addr - best.addr
        } of the ${best.size}-byte fragment at ${best.addr}`,
        addr,
        best,
      );
      return;
    }
    for (const f of [...p.live, ...this.freed.values()]) {
      if (f.base !== p.base || f.life !== p.life || f.addr + f.size > addr) {
        continue;
      }
      if (before === undefined || f.addr + f.size > before.addr + before.size) {
        before = f;
      }
    }
    if (before !== undefined) {
      this.report(
        "EOVERFLOW",
        `write past the end of a fragment: ${what}, owned by no fragment, ${
          addr - before.addr - before.size
        } bytes after the end of the ${before.size}-byte fragment at ${before.addr}`,
        addr,
        before,
      );
      return;
    }
    this.report(
      when === "" ? "EOVERFLOW" : "EUSEAFTERFREE",
      `${what}, owned by no fragment`,
      addr,
    );
  }

  // -------------------------------------------------------- fragments

  /** A fragment was carved (alloc or commit): check, red zone, record. */
  allocated(
    addr: number,
    size: number,
    rz: number,
    site: Error | undefined,
    checkBody: boolean,
    zero: boolean,
  ): Frag | undefined {
    const p = this.pageOf(addr);
    if (p === undefined) return undefined; // a page we never saw: cannot check
    p.drained = false;
    const off = addr - p.base;
    const mem = p.mem;
    if (checkBody) {
      const bad = firstNot(mem, off, off + size + rz, POISON_FREE);
      if (bad >= 0) {
        this.reportByte(p, p.base + bad, mem[bad], "when it was handed out");
        mem.fill(POISON_FREE, off, off + size + rz);
      }
    }
    if (rz > 0) mem.fill(POISON_REDZONE, off + size, off + size + rz);
    if (zero) mem.fill(0, off, off + size);
    const f: Frag = {
      addr,
      size,
      rz,
      base: p.base,
      life: p.life,
      seq: ++this.seq,
      alloc: site,
      free: undefined,
      live: true,
    };
    this.live.set(addr, f);
    p.live.add(f);
    return f;
  }

  /** The live fragment holding `addr` (its start, or inside it). */
  liveAt(addr: number): Frag | undefined {
    const f = this.live.get(addr);
    if (f !== undefined) return f;
    const p = this.pageOf(addr);
    if (p === undefined) return undefined;
    for (const g of p.live) {
      if (g.addr <= addr && addr < g.addr + g.size) return g;
    }
    return undefined;
  }

  /**
   * The live fragment whose carved bytes (its own, then its red zone) hold
   * `addr`. A free must name its first byte: any other byte of it is a bad
   * free, though the page it lies in would take it.
   */
  carvedAt(addr: number): Frag | undefined {
    const f = this.live.get(addr);
    if (f !== undefined) return f;
    const p = this.pageOf(addr);
    if (p === undefined) return undefined;
    for (const g of p.live) {
      if (g.addr <= addr && addr < g.addr + g.size + g.rz) return g;
    }
    return undefined;
  }

  /** The most recently freed fragment holding `addr`, in this page life. */
  freedAt(addr: number, p: Page | undefined): Frag | undefined {
    if (p === undefined) return undefined;
    const f = this.freed.get(addr);
    if (f !== undefined && f.base === p.base && f.life === p.life) return f;
    let best: Frag | undefined;
    for (const g of this.freed.values()) {
      if (
        g.base === p.base && g.life === p.life && g.addr <= addr &&
        addr < g.addr + g.size
      ) {
        if (best === undefined || g.seq > best.seq) best = g;
      }
    }
    return best;
  }

  /** Check a live fragment's red zone, poison it, remember it as freed. */
  freeing(f: Frag, p: Page): void {
    const off = f.addr - p.base;
    const mem = p.mem;
    if (f.rz > 0) {
      const bad = firstNot(
        mem,
        off + f.size,
        off + f.size + f.rz,
        POISON_REDZONE,
      );
      if (bad >= 0) {
        this.report(
          "EOVERFLOW",
          `write past the end of a fragment: red-zone byte ${p.base + bad} (${
            bad - off - f.size
          } bytes after the end of the ${f.size}-byte fragment at ${f.addr}) holds ${
            hex(mem[bad])
          }, not ${hex(POISON_REDZONE)}`,
          p.base + bad,
          f,
        );
      }
    }
    mem.fill(POISON_FREE, off, off + f.size + f.rz);
    f.live = false;
    f.free = this.site();
    this.live.delete(f.addr);
    p.live.delete(f);
    this.freed.delete(f.addr);
    this.freed.set(f.addr, f);
    if (this.freed.size > this.history) {
      const oldest = this.freed.keys().next().value as number;
      this.freed.delete(oldest);
    }
  }

  /** A fragment went back to its cache (abort): poison it, forget it. */
  aborted(f: Frag): void {
    f.live = false;
    this.live.delete(f.addr);
    const p = this.pages.get(f.base);
    if (p === undefined || p.life !== f.life) return;
    const off = f.addr - p.base;
    p.mem.fill(POISON_FREE, off, off + f.size + f.rz);
    p.live.delete(f);
  }

  /** The live page record a live fragment lies in. */
  pageFor(f: Frag): Page | undefined {
    const p = this.pages.get(f.base);
    return p !== undefined && p.life === f.life ? p : undefined;
  }

  /** Poison the bytes a dropped prepare offered, if their page still lives. */
  settle(span: Span | undefined): void {
    if (span === undefined) return;
    const p = this.pages.get(span.page);
    if (p === undefined || p.life !== span.life) return;
    if (p.dirtyStart === span.start) p.dirtyStart = p.dirtyEnd = 0;
    // Only bytes no live fragment took since (none should have).
    let from = span.start;
    const to = span.end;
    for (const f of p.live) {
      const end = f.addr + f.size + f.rz;
      if (f.addr < to && end > from) from = Math.max(from, end);
    }
    if (to > from) p.mem.fill(POISON_FREE, from - p.base, to - p.base);
  }
}

/** Bytes a cache's pending prepare offered (internal). */
export interface Span {
  page: number;
  life: number;
  start: number;
  end: number;
}
