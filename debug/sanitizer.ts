/**
 * The sanitizer: poisoning, red zones, precise double-free detection and
 * allocation sites, in the manner of KASAN and SLUB debugging. The kernel's
 * allocator says of itself "does not support red zones or poisoning"; this
 * one does, when asked (`createPageFragCache({ sanitize: true })`).
 *
 * Two parts, wired by the composition root and costing nothing when off
 * (plain caches and backends are used then, unchanged):
 *
 * - {@linkcode InstrumentedBackend} wraps the backend. Every free passes
 *   through it, whichever cache or worker-local code frees (by view, by
 *   address, `pageFragFree`), and every page comes from it.
 * - An instrumented subclass of each cache flavour (made by
 *   `instrumentCacheClass`) records each fragment it hands out.
 *
 * What it checks:
 *
 * - **Poison.** Fresh pages and freed fragments are filled with
 *   {@linkcode POISON_FREE}. A fragment handed out must still hold it (else
 *   something wrote into freed memory: `EUSEAFTERFREE`, naming the freed
 *   fragment and where it was allocated and freed), and a page whose last
 *   reference is dropped must hold it everywhere no live fragment is.
 *   Fragments are handed out holding the poison unless zeroing is asked
 *   for: reading one before writing it shows `0x6b` bytes.
 * - **Red zones.** `redZone` bytes of {@linkcode POISON_REDZONE} after each
 *   fragment from `alloc`/`allocHandle`, checked when it is freed: a write
 *   past its end is `EOVERFLOW` with the fragment's allocation site. Writes
 *   into bytes no fragment owns (alignment gaps, the unused end of a page)
 *   are `EOVERFLOW` too, attributed to the fragment before them. Fragments
 *   from `commit` have no red zone: `prepare` offered every byte to the end
 *   of the page and `commitNoref` must be able to extend the fragment in
 *   place.
 * - **Double free**, per fragment: freeing a fragment that was already
 *   freed is `EDOUBLEFREE` with both sites, and the second free is not
 *   performed (without the sanitizer only a free whose page already went
 *   back can be seen; an earlier one silently drops another fragment's
 *   reference, as in the kernel).
 *
 * Reports are {@linkcode SanitizerError}s (a `PageFragError`). Without an
 * `onReport` callback they are thrown by the public call that found them,
 * once the allocator's state is consistent again: an allocation that finds
 * one takes its fragment back before throwing, a free that finds an
 * overflow has freed the fragment, a double free is not performed. (What
 * `allocPage` or `pageRefSubAndTest` called directly find waits for the
 * next fragment call: throwing there would lose the page.) With `onReport`
 * they are handed to it and the call goes on.
 *
 * The sanitizer sees one worker: frees made in another worker through its
 * own backend object are not seen, and a sanitized arena should not be used
 * by other workers meanwhile (their writes to pages this worker released
 * would be reported). A netdev cache over an instrumented backend keeps its
 * state private for the same reason.
 *
 * @module
 */
import type { BackendStats, MemoryBackend } from "../core/backend.ts";
import type {
  AllocOptions,
  PageFragCache,
  PreparedFragment,
} from "../core/cache.ts";
import { PageFragError, type PageFragErrorCode } from "../core/errors.ts";
import type { LeakDetector } from "./leaks.ts";
import { show } from "../core/format.ts";
import { claimBuffer, ownerOf } from "../core/owner.ts";

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

/**
 * Options of the sanitizer: the `sanitize` option of `createPageFragCache`
 * takes these or `true`.
 *
 * @example
 * ```ts
 * import { createPageFragCache, type SanitizerOptions } from "@pagefrag/pagefrag";
 * import { type SanitizerError } from "@pagefrag/pagefrag/debug";
 *
 * const found: SanitizerError[] = [];
 * const options: SanitizerOptions = { redZone: 32, sites: false, onReport: (e) => found.push(e) };
 * const cache = createPageFragCache({ sanitize: options });
 * cache.free(cache.alloc(10)!);
 * ```
 */
export interface SanitizerOptions {
  /** Red-zone bytes after each `alloc`/`allocHandle` fragment: an integer 0..4096. Default 16. */
  redZone?: number;
  /** Record where each fragment was allocated and freed (a stack trace each). Default true. */
  sites?: boolean;
  /** Freed fragments remembered for double-free and use-after-free reports. Default 4096. */
  history?: number;
  /** Receive reports instead of having them thrown; the call that found one then goes on. */
  onReport?: (report: SanitizerError) => void;
}

/**
 * A finding of the sanitizer: a `PageFragError` with code `EUSEAFTERFREE`,
 * `EOVERFLOW` or `EDOUBLEFREE`, and where it happened.
 *
 * @example
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { SanitizerError } from "@pagefrag/pagefrag/debug";
 *
 * const cache = createPageFragCache({ sanitize: true });
 * const frag = cache.alloc(16)!;
 * cache.free(frag);
 * try {
 *   cache.free(frag);
 * } catch (e) {
 *   if (!(e instanceof SanitizerError) || e.code !== "EDOUBLEFREE") throw e;
 *   console.log(e.fragment, e.allocatedAt, e.freedAt);
 * }
 * ```
 */
export class SanitizerError extends PageFragError {
  /** The first bad byte (or the address freed twice). */
  readonly address: number;
  /** The fragment concerned (freed, overflowed or freed twice), when known. */
  readonly fragment:
    | { readonly address: number; readonly size: number }
    | undefined;
  /** Where that fragment was allocated (a stack trace), when sites are recorded. */
  readonly allocatedAt: string | undefined;
  /** Where it was freed, when it was and sites are recorded. */
  readonly freedAt: string | undefined;

  /**
   * Make a report (the sanitizer does; you need not).
   *
   * @example
   * ```ts
   * import { SanitizerError } from "@pagefrag/pagefrag/debug";
   *
   * const e = new SanitizerError("EOVERFLOW", "red zone overwritten", 4200, { address: 4096, size: 100 });
   * if (e.code !== "EOVERFLOW" || e.fragment?.size !== 100) throw new Error();
   * ```
   */
  constructor(
    code: PageFragErrorCode,
    message: string,
    address: number,
    fragment?: { address: number; size: number },
    allocatedAt?: string,
    freedAt?: string,
  ) {
    let text = message;
    if (allocatedAt !== undefined) text += `\n  allocated at:\n${allocatedAt}`;
    if (freedAt !== undefined) text += `\n  freed at:\n${freedAt}`;
    super(code, text);
    this.name = "SanitizerError";
    this.address = address;
    this.fragment = fragment;
    this.allocatedAt = allocatedAt;
    this.freedAt = freedAt;
  }
}

/**
 * A live fragment as the sanitizer knows it.
 *
 * @example
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { instrumentationOf, type SanitizedFragment } from "@pagefrag/pagefrag/debug";
 *
 * const cache = createPageFragCache({ sanitize: true });
 * const addr = cache.allocHandle(100)!;
 * const f: SanitizedFragment = instrumentationOf(cache)!.sanitizer!.fragmentAt(addr + 5)!;
 * if (f.address !== addr || f.size !== 100 || f.redZone !== 16) throw new Error();
 * ```
 */
export interface SanitizedFragment {
  /** Its first byte. */
  readonly address: number;
  /** Its size (grown by `commitNoref`). */
  readonly size: number;
  /** Red-zone bytes after it. */
  readonly redZone: number;
  /** Where it was allocated, when sites are recorded. */
  readonly allocatedAt: string | undefined;
}

/**
 * A page kept alive by a few live bytes, as `Sanitizer.pinnedPages()`
 * reports it.
 *
 * @example
 * ```ts
 * import type { PinnedPage } from "@pagefrag/pagefrag/debug";
 *
 * const show = (p: PinnedPage) => `${p.liveBytes} of ${p.bytes} bytes live at ${p.page}`;
 * show({ page: 4096, bytes: 32768, liveBytes: 100, fragments: [] });
 * ```
 */
export interface PinnedPage {
  /** The page's address. */
  readonly page: number;
  /** Its size. */
  readonly bytes: number;
  /** Bytes of its live fragments. */
  readonly liveBytes: number;
  /** The live fragments keeping it, with their allocation sites. */
  readonly fragments: readonly SanitizedFragment[];
}

/**
 * Counters of a {@linkcode Sanitizer}.
 *
 * @example
 * ```ts
 * import { Sanitizer, type SanitizerStats } from "@pagefrag/pagefrag/debug";
 *
 * const s: SanitizerStats = new Sanitizer().stats();
 * if (s.liveFragments !== 0 || s.reports !== 0) throw new Error();
 * ```
 */
export interface SanitizerStats {
  /** Fragments handed out and not yet freed. */
  liveFragments: number;
  /** Freed fragments remembered (at most `history`). */
  freedRemembered: number;
  /** Live pages the sanitizer watches. */
  pages: number;
  /** Reports made (cumulative), thrown or handed to `onReport`. */
  reports: number;
}

// ------------------------------------------------------------------ state

/** One fragment's record: live, or freed and remembered. */
interface Frag {
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

/** One live page the sanitizer watches (it came through the instrumented backend). */
interface Page {
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

/** The stack of `e` without its first line and pagefrag's own frames on top. */
function formatSite(e: Error | undefined): string | undefined {
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

/** Index of the first byte of `mem[from, to)` that is not `byte`, else -1. */
function firstNot(
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

/** The private state of a {@linkcode Sanitizer}. */
class State {
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

  constructor(o: SanitizerOptions) {
    this.redZone = o.redZone ?? 16;
    this.sites = o.sites ?? true;
    this.history = o.history ?? 4096;
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

/** Bytes a cache's pending prepare offered. */
interface Span {
  page: number;
  life: number;
  start: number;
  end: number;
}

/** Sanitizer -> its state (the instrumented classes of this module use it). */
const states = new WeakMap<Sanitizer, State>();

function checkSanitizerOptions(o: unknown): SanitizerOptions {
  if (o === undefined || o === true) return {};
  if (o === null || typeof o !== "object") {
    throw new PageFragError(
      "EINVAL_OPTION",
      `sanitize must be a boolean or an object, got ${show(o)}`,
    );
  }
  const known = new Set(["redZone", "sites", "history", "onReport"]);
  for (const key of Object.keys(o)) {
    if (!known.has(key)) {
      throw new PageFragError(
        "EINVAL_OPTION",
        `unknown sanitize option "${key}" (known: ${[...known].join(", ")})`,
      );
    }
  }
  const s = o as SanitizerOptions;
  const int = (v: unknown, lo: number, hi: number) =>
    typeof v === "number" && Number.isInteger(v) && v >= lo && v <= hi;
  if (s.redZone !== undefined && !int(s.redZone, 0, 4096)) {
    throw new PageFragError(
      "EINVAL_OPTION",
      `sanitize.redZone must be an integer from 0 to 4096, got ${
        show(s.redZone)
      }`,
    );
  }
  if (s.history !== undefined && !int(s.history, 0, 2 ** 24)) {
    throw new PageFragError(
      "EINVAL_OPTION",
      `sanitize.history must be an integer from 0 to ${2 ** 24}, got ${
        show(s.history)
      }`,
    );
  }
  if (s.sites !== undefined && typeof s.sites !== "boolean") {
    throw new PageFragError(
      "EINVAL_OPTION",
      `sanitize.sites must be a boolean, got ${show(s.sites)}`,
    );
  }
  if (s.onReport !== undefined && typeof s.onReport !== "function") {
    throw new PageFragError(
      "EINVAL_OPTION",
      `sanitize.onReport must be a function, got ${show(s.onReport)}`,
    );
  }
  return s;
}

/**
 * Validate the `sanitize` option (internal: the composition root calls it).
 * Returns the sanitizer options, or undefined when the sanitizer is off.
 */
export function sanitizerOptionsFrom(
  sanitize: unknown,
): SanitizerOptions | undefined {
  if (sanitize === undefined || sanitize === false) return undefined;
  return checkSanitizerOptions(sanitize);
}

/**
 * The sanitizer's records and reports for one backend. The composition
 * root makes one per backend when `sanitize` is set; make your own to pass
 * to {@linkcode InstrumentedBackend} or to register as `TOKENS.Sanitizer`.
 * Reach a cache's with `instrumentationOf(cache)?.sanitizer`.
 *
 * @example Find the pages a few live fragments keep alive
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { instrumentationOf } from "@pagefrag/pagefrag/debug";
 *
 * const cache = createPageFragCache({ sanitize: true, maxOrder: 3 });
 * const keep = cache.allocHandle(100)!;
 * for (let i = 0; i < 300; i++) cache.free(cache.allocHandle(200)!);
 * cache.drain();
 * const [pinned] = instrumentationOf(cache)!.sanitizer!.pinnedPages();
 * if (pinned.liveBytes !== 100 || pinned.fragments[0].address !== keep) throw new Error();
 * console.log(pinned.fragments[0].allocatedAt);
 * cache.free(keep);
 * ```
 */
export class Sanitizer {
  /** Red-zone bytes after each `alloc`/`allocHandle` fragment. */
  readonly redZone: number;
  /** Whether allocation and free sites are recorded. */
  readonly sites: boolean;

  /**
   * Make a sanitizer. Throws `EINVAL_OPTION` for a bad option.
   *
   * @example
   * ```ts
   * import { Sanitizer } from "@pagefrag/pagefrag/debug";
   *
   * const s = new Sanitizer({ redZone: 64, sites: false });
   * if (s.redZone !== 64 || s.sites) throw new Error();
   * ```
   */
  constructor(options: SanitizerOptions = {}) {
    const o = checkSanitizerOptions(options);
    const state = new State(o);
    states.set(this, state);
    this.redZone = state.redZone;
    this.sites = state.sites;
  }

  /**
   * This sanitizer's counters.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { instrumentationOf } from "@pagefrag/pagefrag/debug";
   *
   * const cache = createPageFragCache({ sanitize: true });
   * cache.allocHandle(10);
   * if (instrumentationOf(cache)!.sanitizer!.stats().liveFragments !== 1) throw new Error();
   * ```
   */
  stats(): SanitizerStats {
    const s = states.get(this)!;
    return {
      liveFragments: s.live.size,
      freedRemembered: s.freed.size,
      pages: s.pages.size,
      reports: s.reports,
    };
  }

  /**
   * The most recent reports (at most 100), oldest first, whether they were
   * thrown or handed to `onReport`.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { instrumentationOf } from "@pagefrag/pagefrag/debug";
   *
   * const cache = createPageFragCache({ sanitize: { onReport: () => {} } });
   * const a = cache.allocHandle(10)!;
   * cache.free(a);
   * cache.free(a);                                     // reported, not thrown
   * const [r] = instrumentationOf(cache)!.sanitizer!.reports();
   * if (r.code !== "EDOUBLEFREE") throw new Error();
   * ```
   */
  reports(): readonly SanitizerError[] {
    return [...states.get(this)!.recent];
  }

  /**
   * The live fragment holding `address` (its first byte or any inside it).
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { instrumentationOf } from "@pagefrag/pagefrag/debug";
   *
   * const cache = createPageFragCache({ sanitize: true });
   * const addr = cache.allocHandle(50)!;
   * if (instrumentationOf(cache)!.sanitizer!.fragmentAt(addr + 49)?.address !== addr) throw new Error();
   * ```
   */
  fragmentAt(address: number): SanitizedFragment | undefined {
    const f = states.get(this)!.liveAt(address);
    return f === undefined ? undefined : describe(f);
  }

  /**
   * Every live fragment the sanitizer knows, in address order.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { instrumentationOf } from "@pagefrag/pagefrag/debug";
   *
   * const cache = createPageFragCache({ sanitize: true });
   * cache.allocHandle(10);
   * cache.allocHandle(20);
   * if (instrumentationOf(cache)!.sanitizer!.liveFragments().length !== 2) throw new Error();
   * ```
   */
  liveFragments(): SanitizedFragment[] {
    return [...states.get(this)!.live.values()]
      .sort((a, b) => a.addr - b.addr)
      .map(describe);
  }

  /**
   * Pages no cache holds that live fragments keep alive while using at
   * most `fraction` of them (default a quarter): the classic page_frag
   * cost, one small fragment pinning a 32 KiB page. Each comes with its
   * live fragments and their allocation sites; most wasted bytes first.
   * `backend.stats().pinnedPages` counts pages by reference count alone.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { instrumentationOf } from "@pagefrag/pagefrag/debug";
   *
   * const cache = createPageFragCache({ sanitize: true });
   * const a = cache.allocHandle(10)!;
   * cache.drain();
   * const pinned = instrumentationOf(cache)!.sanitizer!.pinnedPages();
   * if (pinned.length !== 1 || pinned[0].bytes !== 32768) throw new Error();
   * cache.free(a);
   * ```
   */
  pinnedPages(fraction = 0.25): PinnedPage[] {
    const out: PinnedPage[] = [];
    for (const p of states.get(this)!.pages.values()) {
      if (p.held || p.live.size === 0) continue;
      let liveBytes = 0;
      for (const f of p.live) liveBytes += f.size;
      if (liveBytes > p.bytes * fraction) continue;
      out.push({
        page: p.base,
        bytes: p.bytes,
        liveBytes,
        fragments: [...p.live].sort((a, b) => a.addr - b.addr).map(describe),
      });
    }
    return out.sort((a, b) =>
      (b.bytes - b.liveBytes) - (a.bytes - a.liveBytes)
    );
  }
}

function describe(f: Frag): SanitizedFragment {
  return {
    address: f.addr,
    size: f.size,
    redZone: f.rz,
    allocatedAt: formatSite(f.alloc),
  };
}

// ------------------------------------------------------------- backend

/**
 * What {@linkcode InstrumentedBackend} adds: a sanitizer, a leak detector,
 * or both.
 *
 * @example
 * ```ts
 * import { HeapBackend } from "@pagefrag/pagefrag";
 * import { InstrumentedBackend, type Instrumentation, LeakDetector, Sanitizer } from "@pagefrag/pagefrag/debug";
 *
 * const parts: Instrumentation = { sanitizer: new Sanitizer(), leaks: new LeakDetector({ level: "all" }) };
 * const backend = new InstrumentedBackend(new HeapBackend(), parts);
 * if (backend.sanitizer !== parts.sanitizer) throw new Error();
 * ```
 */
export interface Instrumentation {
  /** Poisoning, red zones, double-free detection, sites. */
  sanitizer?: Sanitizer;
  /** Reports of fragment views collected unfreed. */
  leaks?: LeakDetector;
}

/**
 * A backend wrapped so the sanitizer and the leak detector see every page
 * and every free: pages are poisoned when they come and checked when they
 * go, frees are checked for double frees and red-zone overflows and
 * untracked from the leak detector. Views of its pages are tagged with the
 * wrapper, so `pageFragFree(view)` comes here too. Everything else is
 * passed to the wrapped backend (`inner`), whose `stats()` it reports.
 *
 * The composition root wraps the backend when `sanitize` or
 * `leakDetection` is set, and uses instrumented cache classes over it; a
 * cache made by hand over this backend is not instrumented (its fragments
 * are unknown to the sanitizer, which then cannot check them).
 *
 * @example
 * ```ts
 * import { createPageFragCache, HeapBackend } from "@pagefrag/pagefrag";
 * import { InstrumentedBackend, Sanitizer } from "@pagefrag/pagefrag/debug";
 *
 * const backend = new InstrumentedBackend(new HeapBackend(), { sanitizer: new Sanitizer() });
 * const cache = createPageFragCache({ backend, sanitize: true }); // reuses this wrapper
 * const frag = cache.alloc(10)!;
 * frag[10 - 1] = 1;
 * cache.free(frag);
 * if (cache.backend !== backend) throw new Error();
 * ```
 */
export class InstrumentedBackend implements MemoryBackend {
  /** The wrapped backend. */
  readonly inner: MemoryBackend;
  /** The sanitizer, when on. */
  readonly sanitizer: Sanitizer | undefined;
  /** The leak detector, when on. */
  readonly leaks: LeakDetector | undefined;
  /** Bytes in an order-0 page (the inner backend's). */
  readonly pageSize: number;
  /** Highest page order (the inner backend's). */
  readonly maxOrder: number;
  readonly #st: State | undefined;
  readonly #arena: boolean;
  /** Page buffers (heap) -> the page's record, to name a stale view's fragment. */
  readonly #bufferPage = new WeakMap<ArrayBufferLike, Page>();

  /**
   * Wrap `inner`. A sanitizer serves one backend: `EINVAL_OPTION` if it
   * already serves another.
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   * import { InstrumentedBackend, LeakDetector } from "@pagefrag/pagefrag/debug";
   *
   * const backend = new InstrumentedBackend(new HeapBackend(), { leaks: new LeakDetector({ level: "all" }) });
   * if (backend.sanitizer !== undefined || backend.pageSize !== 4096) throw new Error();
   * ```
   */
  constructor(inner: MemoryBackend, parts: Instrumentation = {}) {
    this.inner = inner;
    this.sanitizer = parts.sanitizer;
    this.leaks = parts.leaks;
    this.pageSize = inner.pageSize;
    this.maxOrder = inner.maxOrder;
    const st = parts.sanitizer === undefined
      ? undefined
      : states.get(parts.sanitizer);
    if (st !== undefined) {
      if (st.backend !== undefined && st.backend !== inner) {
        throw new PageFragError(
          "EINVAL_OPTION",
          "this Sanitizer already serves another backend: make one per backend",
        );
      }
      st.backend = inner;
      st.leaks = parts.leaks;
    }
    this.#st = st;
    // A heap page is its own buffer, dropped when released; arena memory is
    // reused, so a released range is checked again when it comes back.
    this.#arena = typeof (inner as { share?: unknown }).share === "function";
  }

  /**
   * Allocate a page from the inner backend; with the sanitizer, check a
   * reused arena range still holds its poison, then poison the page.
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   * import { InstrumentedBackend, POISON_FREE, Sanitizer } from "@pagefrag/pagefrag/debug";
   *
   * const backend = new InstrumentedBackend(new HeapBackend(), { sanitizer: new Sanitizer() });
   * const page = backend.allocPage(0, false);
   * if (backend.view(page, 1)[0] !== POISON_FREE) throw new Error();
   * backend.free(page);
   * ```
   */
  allocPage(order: number, reserve: boolean): number {
    const page = this.inner.allocPage(order, reserve);
    if (page === 0) return 0;
    const bytes = this.inner.pageBytes(page);
    const mem = this.inner.view(page, bytes);
    claimBuffer(mem.buffer, this);
    const st = this.#st;
    if (st !== undefined) {
      // Reports found here wait for the next fragment call: throwing now
      // would lose the page.
      st.pageAllocated(page, bytes, mem);
      if (!this.#arena) this.#bufferPage.set(mem.buffer, st.pages.get(page)!);
    } else {
      this.leaks?.forgetRange(page, page + bytes);
    }
    return page;
  }

  /**
   * The inner backend's `pageOf`.
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   * import { InstrumentedBackend } from "@pagefrag/pagefrag/debug";
   *
   * const backend = new InstrumentedBackend(new HeapBackend());
   * const page = backend.allocPage(1, false);
   * if (backend.pageOf(page + 5000) !== page) throw new Error();
   * backend.free(page);
   * ```
   */
  pageOf(addr: number): number {
    return this.inner.pageOf(addr);
  }

  /**
   * The inner backend's `pageBytes`.
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   * import { InstrumentedBackend } from "@pagefrag/pagefrag/debug";
   *
   * const backend = new InstrumentedBackend(new HeapBackend());
   * const page = backend.allocPage(2, false);
   * if (backend.pageBytes(page) !== 16384) throw new Error();
   * backend.free(page);
   * ```
   */
  pageBytes(page: number): number {
    return this.inner.pageBytes(page);
  }

  /**
   * The inner backend's `isPfmemalloc`.
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   * import { InstrumentedBackend } from "@pagefrag/pagefrag/debug";
   *
   * const backend = new InstrumentedBackend(new HeapBackend({ maxBytes: 0, reserveBytes: 4096 }));
   * const page = backend.allocPage(0, true);
   * if (!backend.isPfmemalloc(page)) throw new Error();
   * backend.free(page);
   * ```
   */
  isPfmemalloc(addr: number): boolean {
    return this.inner.isPfmemalloc(addr);
  }

  /**
   * The inner backend's `pageRefAdd` (a bulk add marks the page as held by
   * a cache, for `pinnedPages()`).
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   * import { InstrumentedBackend } from "@pagefrag/pagefrag/debug";
   *
   * const backend = new InstrumentedBackend(new HeapBackend());
   * const page = backend.allocPage(0, false);
   * backend.pageRefAdd(page, 1);
   * backend.free(page);
   * backend.free(page);
   * ```
   */
  pageRefAdd(page: number, n: number): void {
    this.inner.pageRefAdd(page, n);
    const p = this.#st?.pages.get(page);
    if (p !== undefined) {
      p.drained = false;
      if (n >= p.bytes) p.held = p.cached = true;
    }
  }

  /**
   * The inner backend's `pageRefSubAndTest`; with the sanitizer, a page
   * whose count reaches zero is checked and re-poisoned.
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   * import { InstrumentedBackend } from "@pagefrag/pagefrag/debug";
   *
   * const backend = new InstrumentedBackend(new HeapBackend());
   * const page = backend.allocPage(0, false);
   * if (!backend.pageRefSubAndTest(page, 1)) throw new Error();
   * backend.releasePage(page);
   * ```
   */
  pageRefSubAndTest(page: number, n: number): boolean {
    const zero = this.inner.pageRefSubAndTest(page, n);
    const st = this.#st;
    const p = st?.pages.get(page);
    if (p !== undefined) {
      if (n > 1 || zero) p.held = false;
      // Reports wait for the next fragment call: the caller must still
      // recycle or release the page.
      if (zero) st!.pageDrained(p);
    }
    return zero;
  }

  /**
   * The inner backend's `releasePage`.
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   * import { InstrumentedBackend } from "@pagefrag/pagefrag/debug";
   *
   * const backend = new InstrumentedBackend(new HeapBackend());
   * const page = backend.allocPage(0, false);
   * backend.pageRefSubAndTest(page, 1);
   * backend.releasePage(page);
   * if (backend.stats().pagesInUse !== 0) throw new Error();
   * ```
   */
  releasePage(page: number): void {
    this.inner.releasePage(page);
    this.#gone(page);
  }

  /** The page at `page` went back to the inner backend. */
  #gone(page: number): void {
    const st = this.#st;
    const p = st?.pages.get(page);
    if (p === undefined) return;
    st!.depth++;
    try {
      st!.pageReleased(p, this.#arena);
    } finally {
      st!.depth--;
    }
    st!.flush();
  }

  /**
   * Free a fragment (`page_frag_free`). With the sanitizer: a fragment freed
   * twice is `EDOUBLEFREE` (and not freed again); a red zone overwritten is
   * `EOVERFLOW` (the fragment is freed); the fragment is poisoned. The leak
   * detector stops tracking it.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   *
   * const cache = createPageFragCache({ sanitize: true });
   * const addr = cache.allocHandle(100)!;
   * cache.backend.free(addr);
   * ```
   */
  free(addr: number): void {
    const st = this.#st;
    if (st === undefined) {
      this.inner.free(addr);
      this.leaks?.untrack(addr);
      return;
    }
    const f = typeof addr === "number" ? st.liveAt(addr) : undefined;
    if (f === undefined) {
      // Not live: freed before (in this life of its page), or unknown to us.
      const p = typeof addr === "number" ? st.pageOf(addr) : undefined;
      const old = st.freedAt(addr, p);
      if (old !== undefined) {
        st.report(
          "EDOUBLEFREE",
          `double free: the ${old.size}-byte fragment at ${old.addr} was already freed`,
          addr,
          old,
        );
        st.flush(); // throws, or hands it over; nothing was freed either way
        return;
      }
      if (p === undefined) this.#freeUnknown(st, addr);
      else {
        this.inner.free(addr);
        this.#afterFree(p);
      }
      return;
    }
    const p = st.pageFor(f)!;
    st.depth++;
    try {
      st.freeing(f, p);
      this.leaks?.untrack(f.addr);
      this.inner.free(f.addr);
      this.#afterFree(p);
    } finally {
      st.depth--;
    }
    st.flush();
  }

  /**
   * Free an address on no page we watch: the inner backend decides (and
   * throws `EFOREIGN` / `EDOUBLEFREE` for junk). A double free of a
   * fragment we remember is reported with its sites.
   */
  #freeUnknown(st: State, addr: number): void {
    try {
      this.inner.free(addr);
    } catch (e) {
      const old = e instanceof PageFragError && e.code === "EDOUBLEFREE"
        ? st.freed.get(addr)
        : undefined;
      if (old === undefined) throw e;
      throw st.counted(
        new SanitizerError(
          "EDOUBLEFREE",
          `double free: the ${old.size}-byte fragment at ${old.addr} was already freed and its page went back`,
          addr,
          { address: old.addr, size: old.size },
          formatSite(old.alloc),
          formatSite(old.free),
        ),
      );
    }
  }

  /** Did that free return the page? Then check it and let it go. */
  #afterFree(p: Page): void {
    let live: boolean;
    try {
      live = this.inner.pageOf(p.base) === p.base;
    } catch {
      live = false;
    }
    if (!live) this.#gone(p.base);
  }

  /**
   * The inner backend's view of `size` bytes at `addr`, its buffer tagged so
   * `pageFragFree` routes it here.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { ownerOf } from "@pagefrag/pagefrag/core";
   *
   * const cache = createPageFragCache({ sanitize: true });
   * const addr = cache.allocHandle(16)!;
   * if (ownerOf(cache.backend.view(addr, 16)) !== cache.backend) throw new Error();
   * cache.free(addr);
   * ```
   */
  view(addr: number, size: number): Uint8Array {
    const inner = this.inner.view(addr, size);
    // Never a recycled view: a stale one must stay detectable and a leaked
    // one collectable, so every fragment gets a view object of its own.
    const v = new Uint8Array(inner.buffer, inner.byteOffset, inner.length);
    if (ownerOf(v) !== this) claimBuffer(v.buffer, this);
    return v;
  }

  /**
   * The inner backend's `addressOf`. A view whose page already went back is
   * `EDOUBLEFREE`, naming the fragment when the sanitizer remembers it.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   *
   * const cache = createPageFragCache({ sanitize: true });
   * const frag = cache.alloc(32)!;
   * if (cache.backend.view(cache.backend.addressOf(frag), 1).byteOffset !== frag.byteOffset) throw new Error();
   * cache.free(frag);
   * ```
   */
  addressOf(view: Uint8Array): number {
    try {
      return this.inner.addressOf(view);
    } catch (e) {
      if (
        !(e instanceof PageFragError) || e.code !== "EFOREIGN" ||
        ownerOf(view) !== this
      ) throw e;
    }
    // One of our heap pages' views, its page gone: a free of it is a double free.
    const st = this.#st;
    const p = st === undefined ? undefined : this.#bufferPage.get(view.buffer);
    const addr = p === undefined ? NaN : p.base + view.byteOffset;
    const old = p === undefined ? undefined : st!.freedAt(addr, p);
    const e = new SanitizerError(
      "EDOUBLEFREE",
      old === undefined
        ? "addressOf(): the view's page is no longer live (freed twice?)"
        : `double free: the ${old.size}-byte fragment at ${old.addr} was already freed and its page went back`,
      addr,
      old === undefined ? undefined : { address: old.addr, size: old.size },
      formatSite(old?.alloc),
      formatSite(old?.free),
    );
    throw st === undefined ? e : st.counted(e);
  }

  /**
   * The inner backend's stats.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   *
   * const cache = createPageFragCache({ sanitize: true });
   * cache.allocHandle(8);
   * if (cache.backend.stats().pagesInUse !== 1) throw new Error();
   * ```
   */
  stats(): BackendStats {
    return this.inner.stats();
  }
}

/**
 * The instrumentation of a cache or backend: the {@linkcode InstrumentedBackend}
 * it runs on (with `.sanitizer` and `.leaks`), or undefined when neither the
 * sanitizer nor the leak detector is on.
 *
 * @example
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { instrumentationOf } from "@pagefrag/pagefrag/debug";
 *
 * if (instrumentationOf(createPageFragCache()) !== undefined) throw new Error("off by default");
 * const cache = createPageFragCache({ sanitize: true, leakDetection: "all" });
 * const { sanitizer, leaks } = instrumentationOf(cache)!;
 * if (sanitizer === undefined || leaks === undefined) throw new Error();
 * ```
 */
export function instrumentationOf(
  of: PageFragCache | MemoryBackend,
): InstrumentedBackend | undefined {
  const b = of instanceof InstrumentedBackend
    ? of
    : (of as { backend?: unknown } | null)?.backend;
  return b instanceof InstrumentedBackend ? b : undefined;
}

// --------------------------------------------------------------- caches

/** A cache class (one of the flavours, or your subclass). */
// deno-lint-ignore no-explicit-any
type CacheClass = new (...args: any[]) => PageFragCache;

/**
 * Make the instrumented subclass of a cache class (internal: the composition
 * root makes one per flavour). Its instances must be built over an
 * {@linkcode InstrumentedBackend}. When the backend has no sanitizer only
 * `alloc()` and `abort()` differ (views go to the leak detector).
 */
export function instrumentCacheClass<C extends CacheClass>(Base: C): C {
  const Instrumented = class extends Base {
    readonly #st: State | undefined;
    readonly #leaks: LeakDetector | undefined;
    readonly #maxFrag: number;
    /** Bytes the pending prepare offered (the caller may have written there). */
    #span: Span | undefined;
    /** The address the last prepare/probe returned. */
    #prepAddr = 0;
    /** The most recent fragment carved (what commitNoref extends). */
    #last: Frag | undefined;

    // deno-lint-ignore no-explicit-any
    constructor(...args: any[]) {
      super(...args);
      const backend = this.backend;
      if (!(backend instanceof InstrumentedBackend)) {
        throw new PageFragError(
          "EINVAL_OPTION",
          "an instrumented cache needs an InstrumentedBackend",
        );
      }
      this.#st = backend.sanitizer === undefined
        ? undefined
        : states.get(backend.sanitizer);
      this.#leaks = backend.leaks;
      this.#maxFrag = backend.pageSize * 2 ** backend.maxOrder;
    }

    override allocHandle(size: number, opts?: AllocOptions): number | null {
      const st = this.#st;
      if (st === undefined) return super.allocHandle(size, opts);
      const valid = typeof size === "number" && size >= 1 &&
        size <= this.#maxFrag && (size | 0) === size;
      if (
        !valid ||
        (opts !== undefined && (opts === null || typeof opts !== "object"))
      ) {
        return super.allocHandle(size, opts); // throws what a plain cache throws
      }
      const rz = Math.min(st.redZone, this.#maxFrag - size);
      let align = opts?.align;
      if (align === undefined) {
        align = this.alignment.alignFor !== undefined
          ? this.alignment.alignFor(size)
          : this.alignment.align;
      }
      const zero = opts?.zero === undefined ? this.zero : opts.zero === true;
      const site = st.site();
      let addr: number | null;
      st.depth++;
      try {
        // The red zone is carved with the fragment; zeroing is ours to do,
        // after the poison check.
        addr = super.allocHandle(size + rz, {
          align,
          memalloc: opts?.memalloc === true,
          zero: false,
        });
        this.#settle();
        this.#last = addr === null
          ? undefined
          : st.allocated(addr, size, rz, site, true, zero);
      } finally {
        st.depth--;
      }
      if (addr !== null) this.#undoIfThrowing(addr);
      st.flush();
      return addr;
    }

    override alloc(size: number, opts?: AllocOptions): Uint8Array | null {
      const addr = this.allocHandle(size, opts);
      if (addr === null) return null;
      const view = this.backend.view(addr, size);
      const leaks = this.#leaks;
      if (leaks !== undefined) {
        leaks.track(view, addr, size, siteOf(this.#st, addr));
      }
      return view;
    }

    override prepare(
      minSize: number,
      opts?: AllocOptions,
    ): PreparedFragment | null {
      const st = this.#st;
      if (st === undefined) return super.prepare(minSize, opts);
      let p: PreparedFragment | null;
      st.depth++;
      try {
        p = super.prepare(minSize, opts);
        this.#prepared(p, minSize, true);
      } finally {
        st.depth--;
      }
      st.flush();
      return p;
    }

    override probe(
      minSize: number,
      opts?: { align?: number },
    ): PreparedFragment | null {
      const st = this.#st;
      if (st === undefined) return super.probe(minSize, opts);
      let p: PreparedFragment | null;
      st.depth++;
      try {
        p = super.probe(minSize, opts);
        this.#prepared(p, minSize, false);
      } finally {
        st.depth--;
      }
      st.flush();
      return p;
    }

    /** After prepare/probe: track the offered bytes (a null prepare dropped them). */
    #prepared(
      p: PreparedFragment | null,
      minSize: number,
      refills: boolean,
    ): void {
      const st = this.#st!;
      if (p === null) {
        if (refills) {
          this.#settle(); // the cache gave its page up trying
          this.#prepAddr = 0;
        }
        return;
      }
      this.#prepAddr = p.addr;
      const page = st.pageOf(p.addr);
      if (page === undefined) return;
      const span = this.#span;
      if (
        span !== undefined && span.page === page.base &&
        span.life === page.life && p.addr >= span.start && p.addr < span.end
      ) {
        page.dirtyStart = span.start; // the same offer, continued
        page.dirtyEnd = span.end;
        return;
      }
      this.#settle();
      const off = p.addr - page.base;
      const bad = firstNot(page.mem, off, off + minSize, POISON_FREE);
      if (bad >= 0) {
        st.reportByte(
          page,
          page.base + bad,
          page.mem[bad],
          "when prepare() offered it",
        );
        page.mem.fill(POISON_FREE, off, off + minSize);
      }
      this.#span = {
        page: page.base,
        life: page.life,
        start: p.addr,
        end: p.addr + p.size,
      };
      page.dirtyStart = p.addr;
      page.dirtyEnd = p.addr + p.size;
    }

    /** The pending prepare is over: poison what it offered. */
    #settle(): void {
      const span = this.#span;
      if (span === undefined) return;
      this.#span = undefined;
      this.#st!.settle(span);
    }

    /** commit/commitNoref took the offered bytes [start, end). */
    #consume(start: number, end: number): void {
      this.#prepAddr = 0;
      const span = this.#span;
      if (span === undefined) return;
      const st = this.#st!;
      const page = st.pages.get(span.page);
      if (page === undefined || page.life !== span.life) {
        this.#span = undefined;
        return;
      }
      // Bytes skipped for alignment were offered before: poison them.
      if (start > span.start) {
        page.mem.fill(POISON_FREE, span.start - page.base, start - page.base);
      }
      span.start = end;
      page.dirtyStart = end;
      page.dirtyEnd = span.end;
      if (span.start >= span.end) {
        this.#span = undefined;
        page.dirtyStart = page.dirtyEnd = 0;
      }
    }

    override commit(size: number): number {
      const st = this.#st;
      if (st === undefined) return super.commit(size);
      const site = st.site();
      let addr: number;
      st.depth++;
      try {
        addr = super.commit(size);
        // The caller wrote the bytes before committing: no poison check.
        this.#last = st.allocated(addr, size, 0, site, false, false);
        this.#consume(addr, addr + size);
      } finally {
        st.depth--;
      }
      this.#undoIfThrowing(addr);
      st.flush();
      return addr;
    }

    override commitNoref(size: number): void {
      const st = this.#st;
      if (st === undefined) return super.commitNoref(size);
      st.depth++;
      try {
        const at = this.#prepAddr;
        super.commitNoref(size);
        this.#extend(at, size);
        this.#consume(at, at + size);
      } finally {
        st.depth--;
      }
      st.flush();
    }

    /** commitNoref added `size` bytes at `at` to the fragment ending there. */
    #extend(at: number, size: number): void {
      const st = this.#st!;
      const page = st.pageOf(at);
      if (page === undefined) return;
      let f = this.#last;
      if (
        f === undefined || f.base !== page.base || f.life !== page.life ||
        f.addr + f.size + f.rz !== at
      ) {
        f = undefined;
        for (const g of page.live) if (g.addr + g.size + g.rz === at) f = g;
      }
      if (f === undefined || !f.live) {
        const old = f ?? st.freedAt(at - 1, page);
        if (old !== undefined && old.addr + old.size + old.rz === at) {
          st.report(
            "EUSEAFTERFREE",
            `commitNoref() extends the ${old.size}-byte fragment at ${old.addr}, which was already freed`,
            at,
            old,
          );
        }
        return;
      }
      const off = at - page.base;
      page.mem.fill(POISON_FREE, off - f.rz, off); // the red zone becomes data
      f.size = at + size - f.addr;
      f.rz = 0;
    }

    override abort(fragment: Uint8Array | number): void {
      const st = this.#st;
      if (st === undefined) {
        super.abort(fragment);
        this.#leaks?.untrack(this.#addrOf(fragment));
        return;
      }
      const last = this.#last;
      if (
        last !== undefined && !last.live && this.#addrOf(fragment) === last.addr
      ) {
        // The most recent fragment, already freed: aborting it would give
        // its reference back a second time.
        st.report(
          "EDOUBLEFREE",
          `abort() of the ${last.size}-byte fragment at ${last.addr}, which was already freed`,
          last.addr,
          last,
        );
        st.flush();
        return;
      }
      st.depth++;
      try {
        super.abort(fragment);
        this.#forget(this.#addrOf(fragment));
        this.#settle();
        this.#prepAddr = 0;
      } finally {
        st.depth--;
      }
      st.flush();
    }

    /** The address `abort` means by `fragment` (as the plain cache reads it). */
    #addrOf(fragment: Uint8Array | number): number {
      return typeof fragment === "number"
        ? fragment
        : fragment instanceof Uint8Array
        ? this.backend.addressOf(fragment)
        : NaN;
    }

    /** The fragment at `addr` went back to this cache. */
    #forget(addr: number): void {
      const st = this.#st!;
      const f = st.live.get(addr);
      if (f !== undefined) st.aborted(f);
      if (this.#last === f) this.#last = undefined;
      this.#leaks?.untrack(addr);
    }

    /**
     * Reports are about to be thrown from a call that carved a fragment:
     * take it back first, so the throw loses nothing.
     */
    #undoIfThrowing(addr: number): void {
      const st = this.#st!;
      if (st.depth !== 0 || st.pending.length === 0 || st.onReport) return;
      try {
        super.abort(addr);
        this.#forget(addr);
        this.#prepAddr = 0;
      } catch {
        // Not the most recent fragment any more (re-entry): it stays.
      }
    }

    override drain(): void {
      const st = this.#st;
      if (st === undefined) return super.drain();
      st.depth++;
      try {
        this.#settle();
        this.#last = undefined;
        this.#prepAddr = 0;
        super.drain();
      } finally {
        st.depth--;
      }
      st.flush();
    }
  };
  return Instrumented as unknown as C;
}

/** A lazy allocation-site getter that holds the state and address, not the view. */
function siteOf(
  st: State | undefined,
  addr: number,
): (() => string | undefined) | undefined {
  if (st === undefined || !st.sites) return undefined;
  return () => formatSite(st.live.get(addr)?.alloc);
}
