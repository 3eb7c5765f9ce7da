/**
 * The wasm backend: pages live in a `WebAssembly.Memory`, and a fragment's
 * address is a wasm pointer (a byte offset in the memory), so an exported
 * wasm function can read and write a fragment in place.
 *
 * The page allocator itself (buddy allocator, shared metadata, lock, budget)
 * is {@linkcode ArenaBackend} in `backends/shared.ts`; this file supplies the
 * arena: which memory, from which byte, and how it grows.
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
 *   dead: `view` and `addressOf` then throw `ESTATE`.
 *
 * Metadata (reference counts, free lists, counters) is kept outside the
 * memory, in a `SharedArrayBuffer`, where the module cannot overwrite it.
 *
 * @module
 */
import { PageFragError } from "../core/errors.ts";
import { type BackendOptions, resolveBackendOptions } from "./options.ts";
import { show } from "../core/format.ts";
import { ArenaBackend } from "./shared.ts";
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
  /** Layout version of the descriptor and metadata: 1. */
  readonly version: 1;
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
 * // The binary of this module (what `wat2wasm --enable-threads` makes of it;
 * // a doc example cannot compile text, so here it is byte by byte):
 * //   (module (import "env" "memory" (memory 1 16384 shared))
 * //     (func (export "first") (param i32) (result i32) (i32.load8_u (local.get 0))))
 * const bytes = new Uint8Array([
 *   0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
 *   // type section (1), 6 bytes, 1 type: func (param i32) (result i32)
 *   0x01, 0x06, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f,
 *   // import section (2), 18 bytes, 1 import: "env" "memory", a memory (2)
 *   // with shared limits (3): min 1, max 16384 (LEB128 0x80 0x80 0x01)
 *   0x02, 0x12, 0x01,
 *   0x03, 0x65, 0x6e, 0x76, // "env"
 *   0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, // "memory"
 *   0x02, 0x03, 0x01, 0x80, 0x80, 0x01,
 *   // function section (3), 2 bytes, 1 function, of type 0
 *   0x03, 0x02, 0x01, 0x00,
 *   // export section (7), 9 bytes, 1 export: "first", a function (0), index 0
 *   0x07, 0x09, 0x01, 0x05, 0x66, 0x69, 0x72, 0x73, 0x74, 0x00, 0x00,
 *   // code section (10), 9 bytes, 1 body of 7 bytes, no locals:
 *   // local.get 0 (0x20 0x00), i32.load8_u align 0 offset 0 (0x2d 0x00 0x00), end
 *   0x0a, 0x09, 0x01, 0x07, 0x00, 0x20, 0x00, 0x2d, 0x00, 0x00, 0x0b,
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
  constructor(descriptor: WasmBackendDescriptor);
  constructor(options: WasmBackendOptions | WasmBackendDescriptor = {}) {
    requireSharedMemory("WasmBackend", true); // EUNSUPPORTED, naming COOP/COEP
    const d = isDescriptor(options)
      ? WasmBackend.#check(options)
      : WasmBackend.#create(options);
    const buffer = d.memory.buffer;
    super(d.meta, buffer);
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
  } {
    const o = resolveBackendOptions(options);
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
    let slotLimit = ArenaBackend.arenaSlots(o, firstSlot);
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
    return {
      memory,
      meta: ArenaBackend.createMetadata(o, firstSlot, slotLimit),
      base: firstSlot * o.pageSize,
      limitBytes,
    };
  }

  /** Validate an attach descriptor: shape, version, shared memory, metadata. */
  static #check(d: WasmBackendDescriptor): {
    memory: WebAssembly.Memory;
    meta: SharedArrayBuffer;
    base: number;
    limitBytes: number;
  } {
    if (d.version !== 1) {
      throw badOption(
        `attach(): descriptor version ${show(d.version)} is not supported (1)`,
      );
    }
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
    const { firstSlot, slotLimit } = ArenaBackend.checkMetadata(d.meta, d);
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
      version: 1,
      memory: this.memory,
      meta: this.metadata,
      base: this.base,
      pageSize: this.pageSize,
      maxOrder: this.maxOrder,
      maxBytes: this.maxBytes,
      reserveBytes: this.reserveBytes,
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
  static attach(descriptor: WasmBackendDescriptor): WasmBackend {
    if (!isDescriptor(descriptor)) {
      throw badOption(
        `attach(): expected a descriptor from WasmBackend.share(), got ${
          show(descriptor)
        }`,
      );
    }
    return new WasmBackend(descriptor);
  }

  /**
   * Make the memory at least `bytes` long (under the arena's lock). A shared
   * memory grows (doubling when it can); an unshared one never does.
   */
  protected growArena(bytes: number): boolean {
    if (!this.shared) return bytes <= this.#limitBytes;
    const memory = this.memory;
    const length = memory.buffer.byteLength;
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
   * The memory's current buffer. For an unshared memory that is only ever
   * the first one: a new one means the memory was grown outside the
   * backend and every view handed out is detached (`ESTATE`).
   */
  protected currentBuffer(): ArrayBufferLike {
    const buffer = this.memory.buffer;
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
  return typeof x === "object" && x !== null &&
    (x as { kind?: unknown }).kind === "pagefrag.wasm";
}
