/**
 * The shared backend: every page lives in one `SharedArrayBuffer` arena and
 * every page's metadata lives in shared memory too, so a fragment allocated
 * in one worker can be freed (by address) in any other.
 *
 * The page allocator itself (buddy allocator, shared metadata, lock,
 * budget, attachments and recovery) is {@linkcode ArenaBackend}
 * (`backends/arena.ts`), which the wasm backend uses too; this file supplies
 * the arena: a growable `SharedArrayBuffer`, and the descriptor other
 * workers attach with. It also re-exports the arena's public pieces for
 * this entry point (`pagefrag/backends/shared`).
 *
 * A worker that dies while it holds the arena's lock no longer leaves it
 * held for good: every wait is bounded (`ETIMEDOUT` names the holder), and
 * the owner recovers with `backend.recover(id)` (docs/hardening.md).
 *
 * @module
 */
import { PageFragError } from "../core/errors.ts";
import { show } from "../core/format.ts";
import { ArenaBackend, type AttachOptions, isDescriptorOf } from "./arena.ts";
import { ArenaMeta, ownProps } from "./arena_meta.ts";
import { checkLockTimeout, DEFAULT_LOCK_TIMEOUT_MS } from "../core/lock.ts";
import { type BackendOptions, resolveBackendOptions } from "./options.ts";
import { requireSharedMemory } from "./isolation.ts";

export {
  ArenaBackend,
  type AttachOptions,
  type RecoveryReport,
} from "./arena.ts";
export { ArenaPages } from "./arena_pages.ts";
export { ArenaViews } from "./arena_views.ts";
export {
  checkLockTimeout,
  DEFAULT_LOCK_TIMEOUT_MS,
  type LockOptions,
  SharedLock,
} from "../core/lock.ts";

function badOption(message: string): PageFragError {
  return new PageFragError("EINVAL_OPTION", message);
}

/**
 * Options of {@linkcode SharedBackend}: page geometry and budget, and the
 * arena's initial size.
 *
 * @example
 * ```ts
 * import { SharedBackend, type SharedBackendOptions } from "@pagefrag/pagefrag";
 *
 * const opts: SharedBackendOptions = { maxBytes: 16 << 20, initialBytes: 1 << 20 };
 * const backend = new SharedBackend(opts);
 * if (backend.stats().bytesTotal !== 16 << 20) throw new Error();
 * ```
 */
export interface SharedBackendOptions extends BackendOptions {
  /**
   * Bytes the arena starts with (rounded up to `pageSize`); it grows on
   * demand up to its maximum, which derives from `maxBytes + reserveBytes`
   * (just under 1 GiB when unlimited). Default: 1 MiB, or the maximum if
   * smaller.
   */
  initialBytes?: number;
  /**
   * Bound on every wait for the arena's lock, in milliseconds; past it the
   * call throws `ETIMEDOUT` (or `EOWNERDEAD`) naming the holder. Recorded
   * in the arena: workers that attach start with it. Default 2000.
   */
  lockTimeoutMs?: number;
}

/**
 * What {@linkcode SharedBackend.share} returns and
 * {@linkcode SharedBackend.attach} takes: a plain, structured-cloneable
 * object holding the arena's two `SharedArrayBuffer`s and its geometry.
 * Post it to a worker (`postMessage`, `workerData`).
 *
 * @example
 * ```ts
 * import { SharedBackend, type SharedBackendDescriptor } from "@pagefrag/pagefrag";
 *
 * const d: SharedBackendDescriptor = new SharedBackend({ pageSize: 8192 }).share();
 * if (d.kind !== "pagefrag.shared" || d.version !== 1 || d.pageSize !== 8192) throw new Error();
 * ```
 */
export interface SharedBackendDescriptor {
  /** Always `"pagefrag.shared"`. */
  readonly kind: "pagefrag.shared";
  /** Layout version of the descriptor: 1. */
  readonly version: 1;
  /** The arena's identity: attach checks it against the metadata and the memory. */
  readonly uid: number;
  /** The pages: a growable `SharedArrayBuffer`; addresses are offsets in it. */
  readonly arena: SharedArrayBuffer;
  /** The metadata: lock, free lists, counters, per-page reference counts and flags. */
  readonly meta: SharedArrayBuffer;
  /** Bytes in an order-0 page. */
  readonly pageSize: number;
  /** Highest page order. */
  readonly maxOrder: number;
  /** Budget in bytes (`Infinity` when unlimited). */
  readonly maxBytes: number;
  /** Reserve in bytes. */
  readonly reserveBytes: number;
}

/**
 * Pages in one `SharedArrayBuffer` arena shared by workers: a fragment
 * allocated by a cache in one worker can be freed by address in any worker
 * attached to the arena, and `stats()` counts the whole arena.
 *
 * Each worker makes its own caches over its own backend object
 * (`SharedBackend.attach(descriptor)`); only pages are shared. Addresses
 * (small integers) are the currency between workers: a view that crossed a
 * worker boundary is a view of another buffer object, which `addressOf`
 * refuses.
 *
 * The arena is a growable `SharedArrayBuffer` whose maximum derives from the
 * budget (`(maxBytes + reserveBytes)` times `2^maxOrder`, enough that
 * fragmentation never refuses a page the budget allows, capped at 1 GiB so
 * addresses stay below 2^30). It grows on demand; growing never moves or
 * detaches a view.
 *
 * @example Free in another worker
 * ```ts
 * import { createPageFragCache, SharedBackend } from "@pagefrag/pagefrag";
 *
 * const backend = new SharedBackend({ maxBytes: 64 << 20 });
 * const cache = createPageFragCache({ backend });
 * const addr = cache.allocHandle(1500)!;
 * backend.view(addr, 1500).fill(1);
 *
 * // In a worker, given the descriptor (e.g. as workerData):
 * const there = SharedBackend.attach(backend.share());
 * if (there.view(addr, 1500)[1499] !== 1) throw new Error();
 * there.free(addr);
 * ```
 */
export class SharedBackend extends ArenaBackend<SharedArrayBuffer> {
  /** The arena (pages); addresses are byte offsets in it. */
  readonly arena: SharedArrayBuffer;

  /**
   * Make a shared backend with a new arena. Throws `EINVAL_OPTION` for a bad
   * option.
   *
   * @example
   * ```ts
   * import { SharedBackend } from "@pagefrag/pagefrag";
   *
   * const backend = new SharedBackend({ pageSize: 16384, maxOrder: 0, maxBytes: 1 << 20 });
   * if (backend.pageSize !== 16384 || !(backend.arena instanceof SharedArrayBuffer)) throw new Error();
   * ```
   */
  constructor(options?: SharedBackendOptions);
  /**
   * Wrap an existing arena (used by {@linkcode SharedBackend.attach}).
   *
   * @example
   * ```ts
   * import { SharedBackend } from "@pagefrag/pagefrag";
   *
   * const other = SharedBackend.attach(new SharedBackend().share());
   * if (other.pageSize !== 4096) throw new Error();
   * ```
   */
  constructor(descriptor: SharedBackendDescriptor, options?: AttachOptions);
  constructor(
    options: SharedBackendOptions | SharedBackendDescriptor = {},
    attach?: AttachOptions,
  ) {
    requireSharedMemory("SharedBackend"); // EUNSUPPORTED, naming COOP/COEP
    const d = isDescriptor(options)
      ? SharedBackend.#check(ownProps(options), attach)
      : SharedBackend.#create(options);
    super(d.meta, d.arena, d.lockTimeoutMs);
    this.arena = d.arena;
  }

  /** Make the arena and metadata of a new shared backend. */
  static #create(options: SharedBackendOptions): {
    meta: SharedArrayBuffer;
    arena: SharedArrayBuffer;
    lockTimeoutMs: number;
  } {
    if (options === null || typeof options !== "object") {
      throw badOption(
        `SharedBackend options must be an object, got ${show(options)}`,
      );
    }
    options = ownProps(options);
    const o = resolveBackendOptions(options);
    const lockTimeoutMs = checkLockTimeout(
      options.lockTimeoutMs,
      DEFAULT_LOCK_TIMEOUT_MS,
    );
    const slotLimit = ArenaMeta.slots(o, 1);
    const maxLength = slotLimit * o.pageSize;
    const initial = options.initialBytes ?? Math.min(maxLength, 1 << 20);
    if (
      typeof initial !== "number" || !Number.isSafeInteger(initial) ||
      initial < 0 || initial > maxLength
    ) {
      throw badOption(
        `initialBytes must be an integer from 0 to ${maxLength} (the arena's maximum for this budget), got ${
          show(initial)
        }`,
      );
    }
    const length = Math.max(
      o.pageSize,
      Math.ceil(initial / o.pageSize) * o.pageSize,
    );
    let arena = new SharedArrayBuffer(length, { maxByteLength: maxLength });
    // An engine without growable SharedArrayBuffers gets the whole arena at
    // once (memory never touched costs no RAM on the usual systems).
    if (!arena.growable) arena = new SharedArrayBuffer(maxLength);
    const meta = ArenaMeta.create(o, 1, slotLimit, lockTimeoutMs, true);
    // Slot 0 is never a page: its first bytes name the arena's metadata.
    ArenaMeta.stamp(arena, new ArenaMeta(meta).uid);
    return { meta, arena, lockTimeoutMs };
  }

  /** Validate an attach descriptor: shape, version, identity, metadata, arena. */
  static #check(
    d: SharedBackendDescriptor,
    attach: AttachOptions | undefined,
  ): {
    meta: SharedArrayBuffer;
    arena: SharedArrayBuffer;
    lockTimeoutMs: number | undefined;
  } {
    const { firstSlot, slotLimit, uid, lockTimeoutMs } = ArenaBackend
      .checkDescriptor(d, attach);
    const arena: unknown = d.arena;
    if (
      firstSlot !== 1 || !(arena instanceof SharedArrayBuffer) ||
      arena.byteLength < d.pageSize ||
      (arena.growable ? arena.maxByteLength : arena.byteLength) !==
        slotLimit * d.pageSize
    ) {
      throw badOption(
        `attach(): the descriptor's arena must be the SharedArrayBuffer from share(), got ${
          show(arena)
        }`,
      );
    }
    if (!ArenaMeta.stampedWith(arena, uid)) {
      throw badOption(
        "attach(): the descriptor's arena is not the memory of its meta (parts of two descriptors?)",
      );
    }
    return { meta: d.meta, arena, lockTimeoutMs };
  }

  /**
   * A structured-cloneable descriptor of this arena, for
   * {@linkcode SharedBackend.attach} in another worker.
   *
   * @example
   * ```ts
   * import { SharedBackend } from "@pagefrag/pagefrag";
   *
   * const d = new SharedBackend().share();
   * const copy = structuredClone(d); // what a worker receives
   * if (SharedBackend.attach(copy).pageSize !== 4096) throw new Error();
   * ```
   */
  share(): SharedBackendDescriptor {
    return { kind: "pagefrag.shared", ...this.describe(), arena: this.arena };
  }

  /**
   * A backend over the arena `descriptor` describes (from
   * {@linkcode SharedBackend.share}, possibly in another worker), as a new
   * attachment of this thread (see `attachmentId`). Throws `EINVAL_OPTION`
   * for anything that is not such a descriptor, including one whose parts
   * come from two arenas.
   *
   * @example
   * ```ts
   * import { createPageFragCache, SharedBackend } from "@pagefrag/pagefrag";
   *
   * const home = new SharedBackend();
   * const away = SharedBackend.attach(structuredClone(home.share()));
   * const cache = createPageFragCache({ backend: away });
   * const addr = cache.allocHandle(64)!;
   * home.free(addr); // freed through the other backend object
   * ```
   */
  static attach(
    descriptor: SharedBackendDescriptor,
    options?: AttachOptions,
  ): SharedBackend {
    if (!isDescriptor(descriptor)) {
      throw badOption(
        `attach(): expected a descriptor from SharedBackend.share(), got ${
          show(descriptor)
        }`,
      );
    }
    return new SharedBackend(descriptor, options);
  }

  /** Grow the arena (under the lock) to at least `bytes`, doubling when it can. */
  protected growArena(bytes: number): boolean {
    const arena = this.arena;
    const length = arena.byteLength;
    if (bytes <= length) return true;
    if (!arena.growable || bytes > arena.maxByteLength) return false;
    const target = Math.min(arena.maxByteLength, Math.max(bytes, length * 2));
    try {
      arena.grow(target);
    } catch {
      try {
        arena.grow(bytes);
      } catch {
        return false; // the engine is out of memory: a failed page
      }
    }
    return true;
  }

  /** The arena: a growable buffer is one object forever, its length always current. */
  protected currentBuffer(): ArrayBufferLike {
    return this.arena;
  }
}

function isDescriptor(x: unknown): x is SharedBackendDescriptor {
  return isDescriptorOf(x, "pagefrag.shared");
}
