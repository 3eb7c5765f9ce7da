/**
 * The contenders of the suite's allocation benchmark: for one fragment size,
 * what users write today, the closest JS peer, the two floors, and pagefrag
 * on every backend, in both flavours and both forms. Each body runs
 * {@linkcode BATCH} (64) times: allocate one buffer, keep it alive with
 * `do_not_optimize`, free it (when there is anything to free), so the
 * pagefrag caches recycle one page in place. A loop of 64 in every
 * contender lets napi enter its poll scope once per 64 pairs, as a driver
 * does, and keeps mitata's per-call overhead out of nanosecond figures.
 *
 * - `new Uint8Array(n)`: the baseline, a fresh zeroed `ArrayBuffer` each time;
 * - `Buffer.allocUnsafe(n)`: Node's pooled buffer (8 KiB slabs for requests
 *   under 4 KiB; Bun and Deno do not pool it);
 * - `MemPool malloc(n)+free` and `MemPool mallocAs(n)+free`: `@thi.ng/malloc`,
 *   a first-fit allocator over one `ArrayBuffer`, in address and view form;
 * - `view floor(n)` and `handle floor(n)`: see `bench/floors.ts`;
 * - `<backend> <flavour> alloc(n)+free` (view form: a `Uint8Array`, freed by
 *   view) and `<backend> <flavour> allocHandle(n)+free` (address form: a
 *   number, freed by address), for the heap, shared and wasm backends, on a
 *   napi cache (one `poll()` entry per 64 pairs) and a netdev cache
 *   (private state and a re-entry counter on the heap backend; state in
 *   shared memory and an `Atomics` lock on the shared and wasm backends, as
 *   `createNetdevCache` makes them).
 *
 * The pagefrag bodies live in `bench/bodies.ts`, one function literal per
 * (flavour, form) so that each call site sees one cache class, loaded with
 * the library from a private copy per backend (`bench/isolate.ts`).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { MemPool } from "@thi.ng/malloc";
import { do_not_optimize } from "mitata";
import type { NapiFragCache, NetdevFragCache } from "../mod.ts";
import { floorBodies } from "./floors.ts";
import type { Copy } from "./isolate.ts";

/** The fragment sizes of the allocation benchmark. */
export const SIZES = [64, 256, 1500, 2048] as const;
/** The size the targets and the chart are about. */
export const MAIN_SIZE = 256;
/**
 * Alloc + free pairs per benchmark call (the NAPI poll budget): every
 * contender runs the same loop of 64, so mitata's time per iteration is per
 * 64 pairs; the suite's tables divide by it.
 */
export const BATCH = 64;

export type BackendName = "heap" | "shared" | "wasm";
export type Flavour = "napi" | "netdev";
export type Form = "view" | "handle";

/** What a contender is, for the report. */
export interface ContenderInfo {
  /** The benchmark's name (unique across sizes). */
  name: string;
  /** Fragment size in bytes. */
  size: number;
  /** Short label, the same for every size (`heap napi alloc`, `view floor`, ...). */
  label: string;
  kind: "baseline" | "peer" | "floor" | "pagefrag";
  form: Form;
  backend?: BackendName;
  flavour?: Flavour;
}

/** A contender: what it is and its benchmark body. */
export interface Contender extends ContenderInfo {
  fn: () => void;
}

export const BACKENDS: readonly BackendName[] = ["heap", "shared", "wasm"];
export const FLAVOURS: readonly Flavour[] = ["napi", "netdev"];

function oom(): never {
  throw new Error("out of memory");
}

/** The label of a pagefrag contender (`heap napi alloc`). */
export function pagefragLabel(b: BackendName, f: Flavour, form: Form): string {
  return `${b} ${f} ${form === "view" ? "alloc" : "allocHandle"}`;
}

/** The caches the pagefrag contenders use, and the loops that call them. */
export interface Caches {
  napi: Record<BackendName, NapiFragCache>;
  netdev: Record<BackendName, NetdevFragCache>;
  copies: Record<BackendName, Copy>;
}

/**
 * One napi and one netdev cache on each backend (each cache with its own
 * backend), made by that backend's copy of the library.
 */
export function makeCaches(copies: Record<BackendName, Copy>): Caches {
  const napi = {} as Record<BackendName, NapiFragCache>;
  const netdev = {} as Record<BackendName, NetdevFragCache>;
  for (const backend of BACKENDS) {
    napi[backend] = copies[backend].lib.createNapiCache({ backend });
    netdev[backend] = copies[backend].lib.createNetdevCache({ backend });
  }
  return { napi, netdev, copies };
}

/** Every contender for fragments of `n` bytes, the baseline first. */
export function contenders(n: number, caches: Caches): Contender[] {
  const pool = new MemPool({ size: 1 << 20 });
  const floors = floorBodies(n, BATCH);
  const list: Omit<Contender, "size">[] = [
    {
      name: `new Uint8Array(${n})`,
      label: "new Uint8Array",
      kind: "baseline",
      form: "view",
      fn: () => {
        for (let i = 0; i < BATCH; i++) do_not_optimize(new Uint8Array(n));
      },
    },
    {
      name: `Buffer.allocUnsafe(${n})`,
      label: "Buffer.allocUnsafe",
      kind: "baseline",
      form: "view",
      fn: () => {
        for (let i = 0; i < BATCH; i++) {
          do_not_optimize(Buffer.allocUnsafe(n));
        }
      },
    },
    {
      name: `MemPool malloc(${n})+free`,
      label: "MemPool malloc",
      kind: "peer",
      form: "handle",
      fn: () => {
        for (let i = 0; i < BATCH; i++) {
          const addr = pool.malloc(n);
          if (addr === 0) oom();
          do_not_optimize(addr);
          pool.free(addr);
        }
      },
    },
    {
      name: `MemPool mallocAs(${n})+free`,
      label: "MemPool mallocAs",
      kind: "peer",
      form: "view",
      fn: () => {
        for (let i = 0; i < BATCH; i++) {
          const view = pool.mallocAs("u8", n) ?? oom();
          do_not_optimize(view);
          pool.free(view);
        }
      },
    },
  ];
  for (const backend of BACKENDS) {
    for (const flavour of FLAVOURS) {
      for (const form of ["view", "handle"] as const) {
        const b = caches.copies[backend].bodies;
        const fn = flavour === "napi"
          ? (form === "view" ? b.napiView : b.napiHandle)(
            caches.napi[backend],
            n,
            BATCH,
          )
          : (form === "view" ? b.netdevView : b.netdevHandle)(
            caches.netdev[backend],
            n,
            BATCH,
          );
        const label = pagefragLabel(backend, flavour, form);
        list.push({
          name: `${label}(${n})+free`,
          label,
          kind: "pagefrag",
          form,
          backend,
          flavour,
          fn,
        });
      }
    }
  }
  list.push(
    {
      name: `view floor(${n})`,
      label: "view floor",
      kind: "floor",
      form: "view",
      fn: floors.view,
    },
    {
      name: `handle floor(${n})`,
      label: "handle floor",
      kind: "floor",
      form: "handle",
      fn: floors.handle,
    },
  );
  return list.map((c) => ({ ...c, size: n }));
}

/** A contender's description without its body (for the results file). */
export function info(c: Contender): ContenderInfo {
  const { fn: _, ...rest } = c;
  return rest;
}
