/**
 * The leak detector: a fragment view that is garbage-collected while its
 * fragment was never freed is reported, as Netty's `ResourceLeakDetector`
 * reports a `ByteBuf` collected without `release()`.
 *
 * Views handed out by `alloc()` are registered with a
 * `FinalizationRegistry` (every view at level `"all"`, one in
 * `sampleInterval` at `"sampled"`); every free of the fragment, by view or
 * by address and from any cache of the backend, unregisters it. When the
 * engine collects a registered view, the fragment is still allocated and
 * nobody can free it by that view any more: a leak. Reports carry the
 * address, the size and, when the sanitizer records allocation sites, where
 * the fragment was allocated.
 *
 * Only views are tracked: `allocHandle` returns a number, which has no
 * lifetime of its own. Keep a tracked view alive until you free its
 * fragment (or free it by the view): dropping the view and freeing later by
 * address is reported as a leak. Frees made in another worker are not seen
 * here either.
 *
 * @module
 */
import { PageFragError } from "../core/errors.ts";
import { show } from "../core/format.ts";

/**
 * How many fragment views the leak detector tracks: none, one in
 * `sampleInterval` (cheap enough to leave on in production), or every one
 * (for tests).
 *
 * @example
 * ```ts
 * import { createPageFragCache, type LeakDetectionLevel } from "@pagefrag/pagefrag";
 *
 * const level: LeakDetectionLevel = "sampled";
 * const cache = createPageFragCache({ leakDetection: level });
 * cache.free(cache.alloc(64)!);
 * ```
 */
export type LeakDetectionLevel = "off" | "sampled" | "all";

/**
 * One leaked fragment: a view of it was garbage-collected before the
 * fragment was freed. The fragment stays allocated (its page stays pinned);
 * the report tells you where to look.
 *
 * @example
 * ```ts
 * import type { LeakReport } from "@pagefrag/pagefrag/debug";
 *
 * const onLeak = (r: LeakReport) =>
 *   console.error(`leak #${r.leaks}: ${r.size} bytes at ${r.address}\n${r.allocatedAt ?? ""}`);
 * onLeak({ address: 4096, size: 100, leaks: 1, leakedBytes: 100 });
 * ```
 */
export interface LeakReport {
  /** Address of the leaked fragment. */
  readonly address: number;
  /** Its size in bytes. */
  readonly size: number;
  /** Where it was allocated (a stack trace), when the sanitizer records sites. */
  readonly allocatedAt?: string;
  /** Leaks this detector has reported so far, this one included. */
  readonly leaks: number;
  /** Bytes of all the fragments reported so far. */
  readonly leakedBytes: number;
}

/**
 * Options of the leak detector: the `leakDetection` option of
 * `createPageFragCache` takes these or just a level.
 *
 * @example
 * ```ts
 * import { createPageFragCache, type LeakDetectorOptions } from "@pagefrag/pagefrag";
 * import { type LeakReport } from "@pagefrag/pagefrag/debug";
 *
 * const found: LeakReport[] = [];
 * const options: LeakDetectorOptions = { level: "sampled", sampleInterval: 16, onLeak: (r) => found.push(r) };
 * const cache = createPageFragCache({ leakDetection: options });
 * cache.free(cache.alloc(64)!);
 * ```
 */
export interface LeakDetectorOptions {
  /** Which views to track. Default `"sampled"`. */
  level?: LeakDetectionLevel;
  /** At `"sampled"`, track one view in this many (default 128, Netty's). */
  sampleInterval?: number;
  /** Called for each leak. Default: a warning on `console.warn`. */
  onLeak?: (report: LeakReport) => void;
}

/**
 * Validate the `leakDetection` option (internal: the composition root calls
 * it). Returns the detector options, or undefined when detection is off.
 */
export function leakOptionsFrom(
  value: unknown,
): LeakDetectorOptions | undefined {
  if (value === undefined || value === "off") return undefined;
  if (value === "sampled" || value === "all") return { level: value };
  const bad = (what: string) =>
    new PageFragError("EINVAL_OPTION", `leakDetection${what}`);
  if (value === null || typeof value !== "object") {
    throw bad(
      ` must be "off", "sampled", "all" or an object, got ${show(value)}`,
    );
  }
  const known = new Set(["level", "sampleInterval", "onLeak"]);
  for (const key of Object.keys(value)) {
    if (!known.has(key)) {
      throw bad(
        `: unknown option "${key}" (known: ${[...known].join(", ")})`,
      );
    }
  }
  const o = value as LeakDetectorOptions;
  if (
    o.level !== undefined && o.level !== "off" && o.level !== "sampled" &&
    o.level !== "all"
  ) {
    throw bad(`.level must be "off", "sampled" or "all", got ${show(o.level)}`);
  }
  const n = o.sampleInterval;
  if (
    n !== undefined &&
    (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > 2 ** 30)
  ) {
    throw bad(
      `.sampleInterval must be an integer from 1 to 2^30, got ${show(n)}`,
    );
  }
  if (o.onLeak !== undefined && typeof o.onLeak !== "function") {
    throw bad(`.onLeak must be a function, got ${show(o.onLeak)}`);
  }
  return o.level === "off" ? undefined : o;
}

/** What the registry keeps per tracked view (also its unregister token). */
interface Tracked {
  readonly address: number;
  readonly size: number;
  readonly site: (() => string | undefined) | undefined;
}

/**
 * Counters of a {@linkcode LeakDetector}.
 *
 * @example
 * ```ts
 * import { LeakDetector, type LeakStats } from "@pagefrag/pagefrag/debug";
 *
 * const s: LeakStats = new LeakDetector({ level: "all" }).stats();
 * if (s.tracked !== 0 || s.leaks !== 0) throw new Error();
 * ```
 */
export interface LeakStats {
  /** Views currently tracked (allocated, not yet freed or collected). */
  tracked: number;
  /** Views registered since the detector was made (cumulative). */
  registered: number;
  /** Leaks reported (cumulative). */
  leaks: number;
  /** Bytes of the fragments reported as leaked (cumulative). */
  leakedBytes: number;
}

function defaultOnLeak(r: LeakReport): void {
  console.warn(
    `pagefrag LEAK: a fragment view (${r.size} bytes at address ${r.address}) was garbage-collected without being freed; its page stays pinned. ${
      r.allocatedAt === undefined
        ? "Turn on the sanitizer (sanitize: true) to record where it was allocated."
        : `Allocated at:\n${r.allocatedAt}`
    }`,
  );
}

/**
 * Tracks fragment views with a `FinalizationRegistry` and reports those
 * collected unfreed. The composition root makes one per backend when the
 * `leakDetection` option is not `"off"`; it is wired into the backend's
 * frees and the cache's `alloc()`, so you rarely call it yourself. Reach it
 * as `instrumentationOf(cache)?.leaks`.
 *
 * @example
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { instrumentationOf } from "@pagefrag/pagefrag/debug";
 *
 * const cache = createPageFragCache({ leakDetection: "all" });
 * const frag = cache.alloc(100)!;
 * const leaks = instrumentationOf(cache)!.leaks!;
 * if (leaks.stats().tracked !== 1) throw new Error();
 * cache.free(frag);
 * if (leaks.stats().tracked !== 0) throw new Error();
 * ```
 */
export class LeakDetector {
  /** The level this detector tracks at. */
  readonly level: LeakDetectionLevel;
  /** At `"sampled"`: one view in this many is tracked. */
  readonly sampleInterval: number;
  readonly #onLeak: (report: LeakReport) => void;
  readonly #registry: FinalizationRegistry<Tracked> | undefined;
  readonly #tracked = new Map<number, Tracked>();
  #countdown: number;
  #registered = 0;
  #leaks = 0;
  #leakedBytes = 0;

  /**
   * Make a detector. Throws `EINVAL_OPTION` for a bad option.
   *
   * @example
   * ```ts
   * import { LeakDetector } from "@pagefrag/pagefrag/debug";
   *
   * const d = new LeakDetector({ level: "sampled", sampleInterval: 4 });
   * if (d.level !== "sampled" || d.sampleInterval !== 4) throw new Error();
   * ```
   */
  constructor(options: LeakDetectorOptions = {}) {
    leakOptionsFrom(options);
    this.level = options.level ?? "sampled";
    this.sampleInterval = options.sampleInterval ?? 128;
    this.#onLeak = options.onLeak ?? defaultOnLeak;
    this.#countdown = this.level === "all" ? 1 : this.sampleInterval;
    this.#registry = this.level === "off" || typeof FinalizationRegistry !==
        "function"
      ? undefined
      : new FinalizationRegistry<Tracked>((t) => this.#collected(t));
  }

  /**
   * Consider tracking `view`, the fragment of `size` bytes at `address`
   * (called by the cache's `alloc()`). `site`, when given, is asked for the
   * allocation site only if a leak is reported. Returns whether the view is
   * tracked.
   *
   * @example
   * ```ts
   * import { LeakDetector } from "@pagefrag/pagefrag/debug";
   *
   * const d = new LeakDetector({ level: "all" });
   * const view = new Uint8Array(16);
   * if (!d.track(view, 4096, 16)) throw new Error();
   * d.untrack(4096);
   * ```
   */
  track(
    view: Uint8Array,
    address: number,
    size: number,
    site?: () => string | undefined,
  ): boolean {
    const registry = this.#registry;
    if (registry === undefined || --this.#countdown > 0) return false;
    this.#countdown = this.level === "all" ? 1 : this.sampleInterval;
    const old = this.#tracked.get(address);
    if (old !== undefined) registry.unregister(old); // freed where we could not see it
    const t: Tracked = { address, size, site };
    this.#tracked.set(address, t);
    registry.register(view, t, t);
    this.#registered++;
    return true;
  }

  /**
   * The fragment at `address` was freed or aborted: stop tracking its view
   * (called by the backend's `free`).
   *
   * @example
   * ```ts
   * import { LeakDetector } from "@pagefrag/pagefrag/debug";
   *
   * const d = new LeakDetector({ level: "all" });
   * d.track(new Uint8Array(8), 8192, 8);
   * d.untrack(8192);
   * if (d.stats().tracked !== 0) throw new Error();
   * ```
   */
  untrack(address: number): void {
    const t = this.#tracked.get(address);
    if (t === undefined) return;
    this.#tracked.delete(address);
    this.#registry!.unregister(t);
  }

  /**
   * Stop tracking every fragment inside `[start, end)` (a page that went
   * back to the allocator: whatever was tracked there was freed where this
   * detector could not see it, e.g. in another worker).
   *
   * @example
   * ```ts
   * import { LeakDetector } from "@pagefrag/pagefrag/debug";
   *
   * const d = new LeakDetector({ level: "all" });
   * d.track(new Uint8Array(8), 4100, 8);
   * d.forgetRange(4096, 8192);
   * if (d.stats().tracked !== 0) throw new Error();
   * ```
   */
  forgetRange(start: number, end: number): void {
    if (this.#tracked.size === 0) return;
    for (const [address, t] of this.#tracked) {
      if (address >= start && address < end) {
        this.#tracked.delete(address);
        this.#registry!.unregister(t);
      }
    }
  }

  /**
   * This detector's counters.
   *
   * @example
   * ```ts
   * import { LeakDetector } from "@pagefrag/pagefrag/debug";
   *
   * const d = new LeakDetector({ level: "all" });
   * d.track(new Uint8Array(8), 4096, 8);
   * if (d.stats().registered !== 1) throw new Error();
   * ```
   */
  stats(): LeakStats {
    return {
      tracked: this.#tracked.size,
      registered: this.#registered,
      leaks: this.#leaks,
      leakedBytes: this.#leakedBytes,
    };
  }

  #collected(t: Tracked): void {
    if (this.#tracked.get(t.address) !== t) return; // freed, then reused
    this.#tracked.delete(t.address);
    this.#leaks++;
    this.#leakedBytes += t.size;
    let allocatedAt: string | undefined;
    try {
      allocatedAt = t.site?.();
    } catch {
      allocatedAt = undefined;
    }
    this.#onLeak({
      address: t.address,
      size: t.size,
      allocatedAt,
      leaks: this.#leaks,
      leakedBytes: this.#leakedBytes,
    });
  }
}
