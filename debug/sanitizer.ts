/**
 * The sanitizer: poisoning, red zones, precise double-free detection and
 * allocation sites, in the manner of KASAN and SLUB debugging. The kernel's
 * allocator says of itself "does not support red zones or poisoning"; this
 * one does, when asked (`createPageFragCache({ sanitize: true })`).
 *
 * This file is its public face: the {@linkcode Sanitizer} (what a user
 * makes, passes and inspects), its options and the shapes of what it
 * reports. The work is done elsewhere in `debug/`, wired by the
 * composition root and costing nothing when off (plain caches and backends
 * are used then, unchanged):
 *
 * - `checker.ts` keeps the records of pages and fragments and makes the
 *   checks below; a `Sanitizer` hides one.
 * - `instrumented_backend.ts`: `InstrumentedBackend` wraps the backend.
 *   Every free passes through it, whichever cache or worker-local code
 *   frees (by view, by address, `pageFragFree`), and every page comes from
 *   it.
 * - `instrumented_cache.ts`: an instrumented subclass of each cache flavour
 *   (made by `instrumentCacheClass`) records each fragment it hands out.
 * - `sanitizer_error.ts`: `SanitizerError`, the report.
 *
 * What it checks:
 *
 * - **Poison.** Fresh pages and freed fragments are filled with
 *   `POISON_FREE`. A fragment handed out must still hold it (else
 *   something wrote into freed memory: `EUSEAFTERFREE`, naming the freed
 *   fragment and where it was allocated and freed), and a page whose last
 *   reference is dropped must hold it everywhere no live fragment is.
 *   Fragments are handed out holding the poison unless zeroing is asked
 *   for: reading one before writing it shows `0x6b` bytes.
 * - **Red zones.** `redZone` bytes of `POISON_REDZONE` after each
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
 * Reports are `SanitizerError`s (a `PageFragError`). Without an
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
import { PageFragError } from "../core/errors.ts";
import { show } from "../core/format.ts";
import { Checker, formatSite, type Frag } from "./checker.ts";
import type { SanitizerError } from "./sanitizer_error.ts";

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

/** Sanitizer -> its checker (kept off the public object). */
const checkers = new WeakMap<Sanitizer, Checker>();

/**
 * The checker behind `sanitizer` (internal: the instrumented backend and
 * cache classes drive it).
 */
export function checkerOf(sanitizer: Sanitizer): Checker | undefined {
  return checkers.get(sanitizer);
}

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
 * to `InstrumentedBackend` or to register as `TOKENS.Sanitizer`.
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
    const checker = new Checker({
      redZone: o.redZone ?? 16,
      sites: o.sites ?? true,
      history: o.history ?? 4096,
      onReport: o.onReport,
    });
    checkers.set(this, checker);
    this.redZone = checker.redZone;
    this.sites = checker.sites;
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
    const s = checkers.get(this)!;
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
    return [...checkers.get(this)!.recent];
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
    const f = checkers.get(this)!.liveAt(address);
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
    return [...checkers.get(this)!.live.values()]
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
    for (const p of checkers.get(this)!.pages.values()) {
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
