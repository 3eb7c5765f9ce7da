/**
 * The wasm backend: pages live in a `WebAssembly.Memory`, and a fragment's
 * address is a wasm pointer (a byte offset in the memory), so an exported
 * wasm function can read and write a fragment in place.
 *
 * The page allocator itself (buddy allocator, shared metadata, lock, budget,
 * attachments and recovery) is {@linkcode ArenaBackend} in
 * `backends/arena.ts`, shared with the shared backend; this file supplies
 * the arena: which memory, from which byte, and how it grows.
 *
 * - **Own memory** (the default): a new *shared* memory sized from the budget
 *   (at most 1 GiB, so addresses stay below 2^30). It grows with
 *   `memory.grow()`; growing a shared memory never detaches a view, and
 *   `memory.buffer` is then a new `SharedArrayBuffer` object: views made
 *   before stay valid, and `addressOf` accepts views of every buffer object
 *   this backend made views of.
 * - **Your memory** (`memory` option): the backend owns every byte from
 *   `base` up (default: the memory's current size, rounded up to
 *   `pageSize`, so the module's existing data is never touched). A shared
 *   memory grows as above. An unshared memory is **never grown**: growing it
 *   would detach every view handed out, so the backend uses only the bytes
 *   between `base` and the memory's current end, and `allocPage` returns 0
 *   when they are spent. If your own code grows it anyway, every view is
 *   dead: `view`, `addressOf` and `allocPage` then throw `ESTATE` (and no
 *   page is taken).
 *
 * A shared memory grown by another worker is seen at once: before a view
 * reaches past the length this worker knows, the backend reads
 * `memory.buffer` again (and, where a runtime keeps a stale one, refreshes
 * it with `memory.grow(0)`).
 *
 * Metadata (reference counts, free lists, counters) is kept outside the
 * memory, in a `SharedArrayBuffer`, where the module cannot overwrite it.
 *
 * @module
 */
import { PageFragError } from "../core/errors.ts";
import { type BackendOptions, resolveBackendOptions } from "./options.ts";
import { show } from "../core/format.ts";
import { ArenaBackend, type AttachOptions, isDescriptorOf } from "./arena.ts";
import { ArenaMeta, ownProps } from "./arena_meta.ts";
import { checkLockTimeout, DEFAULT_LOCK_TIMEOUT_MS } from "../core/lock.ts";
import { requireSharedMemory } from "./isolation.ts";

/**
 * The structural minimum of a `WebAssembly.Memory` a backend uses (its
 * buffer, `grow`), for programs type-checked without the DOM lib.
 *
 * @example
 * ```ts
 * import type { WasmMemoryLike } from "@pagefrag/pagefrag/backends/wasm";
 *
 * const memory: WasmMemoryLike = new WebAssembly.Memory({ initial: 1 });
 * if (memory.buffer.byteLength !== 65536) throw new Error();
 * ```
 */
export interface WasmMemoryLike {
  /** The memory's bytes (a `SharedArrayBuffer` for a shared memory). */
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  /** Grow by `delta` 64 KiB pages; returns the old size in pages. */
  grow(delta: number): number;
}

/**
 * The type of a wasm backend's memory: `WebAssembly.Memory` when the
 * program's libs declare it (DOM, Deno, `@types/node` with DOM), else
 * {@linkcode WasmMemoryLike}. Declarations name this instead of
 * `WebAssembly.Memory` so that they type-check with `lib: ["es2024"]`
 * alone (`WebAssembly` is a DOM-lib namespace), while programs that have
 * the namespace still get the real type (to pass in an import object).
 *
 * @example
 * ```ts
 * import { WasmBackend, type WasmMemory } from "@pagefrag/pagefrag/backends/wasm";
 *
 * const memory: WasmMemory = new WasmBackend().memory;
 * const same: WebAssembly.Memory = memory; // with Deno's libs it is the real type
 * if (!(same instanceof WebAssembly.Memory)) throw new Error();
 * ```
 */
export type WasmMemory = typeof globalThis extends
  { WebAssembly: { Memory: { prototype: infer M } } } ? M : WasmMemoryLike;

/** Bytes in a wasm page. */
const WASM_PAGE = 65536;
/** Addresses stay below 2^30 (1 GiB = 16384 wasm pages). */
const ADDRESS_LIMIT = 2 ** 30;

/** Memories a backend manages (in this worker), mapped to their arena's metadata. */
const managed = new WeakMap<WebAssembly.Memory, SharedArrayBuffer>();

function badOption(message: string): PageFragError {
  return new PageFragError("EINVAL_OPTION", message);
}

function isSharedBuffer(buffer: ArrayBufferLike): boolean {
  return typeof SharedArrayBuffer !== "undefined" &&
    buffer instanceof SharedArrayBuffer;
}

/**
 * Options of {@linkcode WasmBackend}: page geometry and budget, and which
 * memory to use from where.
 *
 * @example
 * ```ts
 * import { WasmBackend, type WasmBackendOptions } from "@pagefrag/pagefrag";
 *
 * const memory = new WebAssembly.Memory({ initial: 4, maximum: 64, shared: true });
 * const opts: WasmBackendOptions = { memory, base: 65536, maxBytes: 1 << 20 };
 * const backend = new WasmBackend(opts);
 * if (backend.base !== 65536 || backend.memory !== memory) throw new Error();
 * ```
 */
export interface WasmBackendOptions extends BackendOptions {
  /**
   * Your own memory (e.g. the one your module exports or imports). Default:
   * the backend makes a shared memory sized from the budget.
   */
  memory?: WasmMemory;
  /**
   * First byte the backend may use (rounded up to `pageSize`; never below
   * `pageSize`, so an address is never 0). Default: `pageSize` for the
   * backend's own memory; the memory's current size for yours.
   */
  base?: number;
  /**
   * Bytes the backend's own memory starts with (rounded up to 64 KiB); it
   * grows on demand. Not for your own memory. Default: 1 MiB, or the
   * maximum if smaller.
   */
  initialBytes?: number;
  /**
   * Bound on every wait for the arena's lock, in milliseconds (`ETIMEDOUT`
   * / `EOWNERDEAD` past it, naming the holder). Default 2000.
   */
  lockTimeoutMs?: number;
}

/**
 * What {@linkcode WasmBackend.share} returns and
 * {@linkcode WasmBackend.attach} takes: a plain, structured-cloneable object
 * holding the shared memory, the metadata and the geometry.
 *
 * @example
 * ```ts
 * import { WasmBackend, type WasmBackendDescriptor } from "@pagefrag/pagefrag";
 *
 * const d: WasmBackendDescriptor = new WasmBackend().share();
 * if (d.kind !== "pagefrag.wasm" || d.version !== 1 || d.base !== 4096) throw new Error();
 * ```
 */
export interface WasmBackendDescriptor {
  /** Always `"pagefrag.wasm"`. */
  readonly kind: "pagefrag.wasm";
  /** Layout version of the descriptor: 1. */
  readonly version: 1;
  /** The arena's identity: attach checks it against the metadata (and the backend's own memory). */
  readonly uid: number;
  /** The pages: a shared `WebAssembly.Memory`; addresses are offsets in it. */
  readonly memory: WasmMemory;
  /** The metadata: lock, free lists, counters, per-page reference counts and flags. */
  readonly meta: SharedArrayBuffer;
  /** The first byte the backend uses. */
  readonly base: number;
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
 * Pages in a `WebAssembly.Memory`: a fragment's address is a wasm pointer,
 * so wasm code can work on it in place, and views of it are views of the
 * memory. Import {@linkcode WasmBackend.memory} into your module, or pass
 * your module's memory as the `memory` option.
 *
 * Over a shared memory (the default), fragments may be freed by address in
 * any worker attached with {@linkcode WasmBackend.attach}, exactly as with
 * `SharedBackend`. Over an unshared memory the backend never grows it and
 * cannot be shared.
 *
 * @example A wasm function reads a fragment in place
 * ```ts
 * import { createPageFragCache, WasmBackend } from "@pagefrag/pagefrag";
 *
 * // (module (import "env" "memory" (memory 1 16384 shared))
 * //   (func (export "first") (param i32) (result i32) (i32.load8_u (local.get 0))))
 * const bytes = new Uint8Array([
 *   0, 97, 115, 109, 1, 0, 0, 0, 1, 6, 1, 96, 1, 127, 1, 127, 2, 18, 1, 3, 101, 110, 118, 6,
 *   109, 101, 109, 111, 114, 121, 2, 3, 1, 128, 128, 1, 3, 2, 1, 0, 7, 9, 1, 5, 102, 105,
 *   114, 115, 116, 0, 0, 10, 9, 1, 7, 0, 32, 0, 45, 0, 0, 11,
 * ]);
 * const backend = new WasmBackend({ maxBytes: 1 << 20 });
 * const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
 *   env: { memory: backend.memory },
 * });
 * const cache = createPageFragCache({ backend });
 * const frag = cache.alloc(16)!;
 * frag[0] = 42;
 * const first = exports.first as (ptr: number) => number;
 * if (first(backend.addressOf(frag)) !== 42) throw new Error();
 * cache.free(frag);
 * ```
 */
export class WasmBackend extends ArenaBackend {
  /** The memory pages live in (import it into your module). */
  readonly memory: WasmMemory;
  /** The first byte the backend uses: addresses are at least this. */
  readonly base: number;
  /** Whether the memory is shared (growable without detaching, attachable from other workers). */
  readonly shared: boolean;
  /** Bytes the arena may reach (its slot limit). */
  readonly #limitBytes: number;
  /** The only buffer an unshared memory may have: another one means it was grown behind our back. */
  readonly #fixedBuffer: ArrayBufferLike | undefined;

  /**
   * Make a wasm backend over a new shared memory or over `options.memory`.
   * Throws `EINVAL_OPTION` for a bad option, for a memory another
   * `WasmBackend` manages already (attach to that one instead), and for an
   * unshared memory with no room for a page above `base`.
   *
   * @example
   * ```ts
   * import { WasmBackend } from "@pagefrag/pagefrag";
   *
   * const backend = new WasmBackend({ maxBytes: 8 << 20 });
   * if (!backend.shared || !(backend.memory.buffer instanceof SharedArrayBuffer)) throw new Error();
   * ```
   */
  constructor(options?: WasmBackendOptions);
  /**
   * Wrap an existing arena (used by {@linkcode WasmBackend.attach}).
   *
   * @example
   * ```ts
   * import { WasmBackend } from "@pagefrag/pagefrag";
   *
   * const other = WasmBackend.attach(new WasmBackend().share());
   * if (other.pageSize !== 4096) throw new Error();
   * ```
   */
  constructor(descriptor: WasmBackendDescriptor, options?: AttachOptions);
  constructor(
    options: WasmBackendOptions | WasmBackendDescriptor = {},
    attach?: AttachOptions,
  ) {
    requireSharedMemory("WasmBackend", true); // EUNSUPPORTED, naming COOP/COEP
    const d = isDescriptor(options)
      ? WasmBackend.#check(ownProps(options), attach)
      : WasmBackend.#create(options);
    const buffer = d.memory.buffer;
    super(d.meta, buffer, d.lockTimeoutMs);
    this.memory = d.memory;
    this.base = d.base;
    this.shared = isSharedBuffer(buffer);
    this.#limitBytes = d.limitBytes;
    this.#fixedBuffer = this.shared ? undefined : buffer;
    managed.set(d.memory, d.meta);
  }

  /** Make (or adopt) the memory and make the metadata of a new backend. */
  static #create(options: WasmBackendOptions): {
    memory: WebAssembly.Memory;
    meta: SharedArrayBuffer;
    base: number;
    limitBytes: number;
    lockTimeoutMs: number | undefined;
  } {
    if (options === null || typeof options !== "object") {
      throw badOption(
        `WasmBackend options must be an object, got ${show(options)}`,
      );
    }
    options = ownProps(options);
    const o = resolveBackendOptions(options);
    const lockTimeoutMs = checkLockTimeout(
      options.lockTimeoutMs,
      DEFAULT_LOCK_TIMEOUT_MS,
    );
    const user = options.memory;
    if (user !== undefined && !(user instanceof WebAssembly.Memory)) {
      throw badOption(
        `memory must be a WebAssembly.Memory, got ${show(user)}`,
      );
    }
    if (user !== undefined && managed.has(user)) {
      throw badOption(
        "memory is already managed by a WasmBackend: attach to it (WasmBackend.attach(backend.share())) instead of making a second one",
      );
    }
    if (user !== undefined && options.initialBytes !== undefined) {
      throw badOption(
        "initialBytes is for the backend's own memory; size your own memory yourself",
      );
    }
    const length = user?.buffer.byteLength ?? 0;
    const base = options.base ?? (user === undefined ? o.pageSize : length);
    if (
      typeof base !== "number" || !Number.isSafeInteger(base) || base < 0 ||
      base >= ADDRESS_LIMIT
    ) {
      throw badOption(
        `base must be an integer from 0 to ${ADDRESS_LIMIT - 1}, got ${
          show(base)
        }`,
      );
    }
    const firstSlot = Math.max(1, Math.ceil(base / o.pageSize));
    let slotLimit = ArenaMeta.slots(o, firstSlot);
    if (user !== undefined && !isSharedBuffer(user.buffer)) {
      slotLimit = Math.min(slotLimit, Math.floor(length / o.pageSize));
      if (slotLimit <= firstSlot) {
        throw badOption(
          `the unshared memory has no room for a page between base ${
            firstSlot * o.pageSize
          } and its end ${length}; it is never grown (that would detach every view): pass a lower base or grow it before making the backend`,
        );
      }
    } else if (slotLimit <= firstSlot) {
      throw badOption(
        `base ${show(base)} leaves no room below 1 GiB for a page`,
      );
    }
    const limitBytes = slotLimit * o.pageSize;
    let memory = user;
    if (memory === undefined) {
      const maximum = Math.ceil(limitBytes / WASM_PAGE);
      const initialBytes = options.initialBytes ??
        Math.min(limitBytes, 1 << 20);
      if (
        typeof initialBytes !== "number" ||
        !Number.isSafeInteger(initialBytes) || initialBytes < 0 ||
        initialBytes > limitBytes
      ) {
        throw badOption(
          `initialBytes must be an integer from 0 to ${limitBytes} (the memory's maximum for this budget), got ${
            show(initialBytes)
          }`,
        );
      }
      const initial = Math.min(
        maximum,
        Math.ceil(
          Math.max(initialBytes, (firstSlot + 1) * o.pageSize) / WASM_PAGE,
        ),
      );
      memory = new WebAssembly.Memory({ initial, maximum, shared: true });
    }
    // The backend's own memory has bytes below base no page uses: they name
    // the metadata, so attach can check a descriptor's memory against it.
    const own = user === undefined;
    const meta = ArenaMeta.create(o, firstSlot, slotLimit, lockTimeoutMs, own);
    if (own) ArenaMeta.stamp(memory.buffer, new ArenaMeta(meta).uid);
    return {
      memory,
      meta,
      base: firstSlot * o.pageSize,
      limitBytes,
      lockTimeoutMs,
    };
  }

  /** Validate an attach descriptor: shape, version, shared memory, metadata. */
  static #check(d: WasmBackendDescriptor, attach: AttachOptions | undefined): {
    memory: WebAssembly.Memory;
    meta: SharedArrayBuffer;
    base: number;
    limitBytes: number;
    lockTimeoutMs: number | undefined;
  } {
    const memory: unknown = d.memory;
    if (!(memory instanceof WebAssembly.Memory)) {
      throw badOption(
        `attach(): the descriptor's memory must be a WebAssembly.Memory, got ${
          show(memory)
        }`,
      );
    }
    if (!isSharedBuffer(memory.buffer)) {
      throw badOption(
        "attach(): the memory is not shared; only a shared memory can be used from several workers",
      );
    }
    const { firstSlot, slotLimit, uid, stamped, lockTimeoutMs } = ArenaBackend
      .checkDescriptor(d, attach);
    if (stamped && !ArenaMeta.stampedWith(memory.buffer, uid)) {
      throw badOption(
        "attach(): the descriptor's memory is not the memory of its meta (parts of two descriptors?)",
      );
    }
    if (d.base !== firstSlot * d.pageSize) {
      throw badOption(
        `attach(): the descriptor's base ${
          show(d.base)
        } disagrees with the arena's ${firstSlot * d.pageSize}`,
      );
    }
    const owner = managed.get(memory);
    if (owner !== undefined && owner !== d.meta) {
      throw badOption(
        "attach(): this memory object is already managed by another WasmBackend",
      );
    }
    return {
      memory,
      meta: d.meta,
      base: d.base,
      limitBytes: slotLimit * d.pageSize,
      lockTimeoutMs,
    };
  }

  /**
   * A structured-cloneable descriptor of this backend, for
   * {@linkcode WasmBackend.attach} in another worker. Only a backend over a
   * shared memory can be shared: `EINVAL_OPTION` otherwise.
   *
   * @example
   * ```ts
   * import { WasmBackend } from "@pagefrag/pagefrag";
   *
   * const d = new WasmBackend().share();
   * if (!(d.memory instanceof WebAssembly.Memory)) throw new Error();
   * ```
   */
  share(): WasmBackendDescriptor {
    if (!this.shared) {
      throw badOption(
        "share(): the memory is not shared; only a shared memory can be used from several workers",
      );
    }
    return {
      kind: "pagefrag.wasm",
      ...this.describe(),
      memory: this.memory,
      base: this.base,
    };
  }

  /**
   * A backend over the memory and arena `descriptor` describes (from
   * {@linkcode WasmBackend.share}, possibly in another worker). Throws
   * `EINVAL_OPTION` for anything else, including an unshared memory.
   *
   * @example
   * ```ts
   * import { WasmBackend } from "@pagefrag/pagefrag";
   *
   * const home = new WasmBackend();
   * const away = WasmBackend.attach(structuredClone(home.share()));
   * const page = away.allocPage(0, false);
   * home.free(page);
   * if (away.stats().pagesInUse !== 0) throw new Error();
   * ```
   */
  static attach(
    descriptor: WasmBackendDescriptor,
    options?: AttachOptions,
  ): WasmBackend {
    if (!isDescriptor(descriptor)) {
      throw badOption(
        `attach(): expected a descriptor from WasmBackend.share(), got ${
          show(descriptor)
        }`,
      );
    }
    return new WasmBackend(descriptor, options);
  }

  /**
   * Make the memory at least `bytes` long (under the arena's lock). A shared
   * memory grows (doubling when it can); an unshared one never does.
   */
  protected growArena(bytes: number): boolean {
    if (!this.shared) return bytes <= this.#limitBytes;
    const memory = this.memory;
    if (bytes <= memory.buffer.byteLength) return true;
    // grow(0) answers the current size even where memory.buffer is stale
    // (another worker grew it); it also makes a new buffer object, so only
    // when the size matters.
    const length = memory.grow(0) * WASM_PAGE;
    if (bytes <= length) return true;
    const target = Math.min(this.#limitBytes, Math.max(bytes, length * 2));
    try {
      memory.grow(Math.ceil((target - length) / WASM_PAGE));
    } catch {
      try {
        memory.grow(Math.ceil((bytes - length) / WASM_PAGE));
      } catch {
        return false; // at the memory's maximum, or out of memory
      }
    }
    return true;
  }

  /**
   * The memory's current buffer, at least `minBytes` long when the memory
   * is. Some runtimes (Deno) keep handing out a stale, shorter
   * `memory.buffer` in a worker after another worker grew a shared memory:
   * `memory.grow(0)` makes them take the current length. For an unshared
   * memory the buffer is only ever the first one: a new one means the
   * memory was grown outside the backend and every view handed out is
   * detached (`ESTATE`).
   */
  protected currentBuffer(minBytes: number): ArrayBufferLike {
    let buffer = this.memory.buffer;
    if (this.shared && buffer.byteLength < minBytes) {
      this.memory.grow(0);
      buffer = this.memory.buffer;
    }
    if (this.#fixedBuffer !== undefined && buffer !== this.#fixedBuffer) {
      throw new PageFragError(
        "ESTATE",
        "the unshared WebAssembly.Memory was grown outside the backend: every view of it is detached. Do not grow an unshared memory a WasmBackend uses (use a shared memory to grow)",
      );
    }
    return buffer;
  }
}

function isDescriptor(x: unknown): x is WasmBackendDescriptor {
  return isDescriptorOf(x, "pagefrag.wasm");
}
