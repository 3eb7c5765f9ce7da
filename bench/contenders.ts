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
 * The pagefrag loops come from `bench/bodies.ts` (a loop compiled for each
 * cache), over the library loaded from a private copy per backend
 * (`bench/isolate.ts`).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { MemPool } from "@thi.ng/malloc";
import { do_not_optimize } from "mitata";
import type { NapiFragCache, NetdevFragCache } from "../mod.ts";
import { type Form, pairs } from "./bodies.ts";
import { floorBodies } from "./floors.ts";
import type { Case } from "./harness.ts";
import type { Library } from "./isolate.ts";

/** The fragment sizes of the allocation benchmark. */
export const SIZES = [64, 256, 1500, 2048] as const;
/** The size the targets and the chart are about. */
export const MAIN_SIZE = 256;
/**
 * Alloc + free pairs per benchmark call (the NAPI poll budget): every
 * contender runs the same loop of 64, and figures are per pair.
 */
export const BATCH = 64;

export type BackendName = "heap" | "shared" | "wasm";
export type Flavour = "napi" | "netdev";
export const BACKENDS: readonly BackendName[] = ["heap", "shared", "wasm"];
export const FLAVOURS: readonly Flavour[] = ["napi", "netdev"];

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
export type Contender = ContenderInfo & Case;

/** The label of a pagefrag contender (`heap napi alloc`). */
export function pagefragLabel(b: BackendName, f: Flavour, form: Form): string {
  return `${b} ${f} ${form === "view" ? "alloc" : "allocHandle"}`;
}

/** One napi and one netdev cache per backend, each made by that backend's copy. */
export interface Caches {
  napi: Record<BackendName, NapiFragCache>;
  netdev: Record<BackendName, NetdevFragCache>;
}

/** The caches of the pagefrag contenders (each with its own backend). */
export function makeCaches(copies: Record<BackendName, Library>): Caches {
  const c = { napi: {}, netdev: {} } as Caches;
  for (const backend of BACKENDS) {
    c.napi[backend] = copies[backend].createNapiCache({ backend });
    c.netdev[backend] = copies[backend].createNetdevCache({ backend });
  }
  return c;
}

/** Every contender for fragments of `n` bytes, the baseline first. */
export function contenders(n: number, caches: Caches): Contender[] {
  const pool = new MemPool({ size: 1 << 20 });
  const floors = floorBodies(n, BATCH);
  const oom = () => {
    throw new Error("out of memory");
  };
  const list: Omit<Contender, "size" | "per">[] = [
    {
      name: `new Uint8Array(${n})`,
      label: "new Uint8Array",
      kind: "baseline",
      form: "view",
      body: () => {
        for (let i = 0; i < BATCH; i++) do_not_optimize(new Uint8Array(n));
      },
    },
    {
      name: `Buffer.allocUnsafe(${n})`,
      label: "Buffer.allocUnsafe",
      kind: "baseline",
      form: "view",
      body: () => {
        for (let i = 0; i < BATCH; i++) do_not_optimize(Buffer.allocUnsafe(n));
      },
    },
    {
      name: `MemPool malloc(${n})+free`,
      label: "MemPool malloc",
      kind: "peer",
      form: "handle",
      body: () => {
        for (let i = 0; i < BATCH; i++) {
          const addr = pool.malloc(n) || oom();
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
      body: () => {
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
        const label = pagefragLabel(backend, flavour, form);
        list.push({
          name: `${label}(${n})+free`,
          label,
          kind: "pagefrag",
          form,
          backend,
          flavour,
          body: pairs(
            caches[flavour][backend],
            n,
            form,
            BATCH,
            flavour === "napi",
          ),
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
      body: floors.view,
    },
    {
      name: `handle floor(${n})`,
      label: "handle floor",
      kind: "floor",
      form: "handle",
      body: floors.handle,
    },
  );
  return list.map((c) => ({ ...c, size: n, per: BATCH }));
}

/** A contender's description without its body (for the results file). */
export function info(c: Contender): ContenderInfo {
  const { body: _, per: __, ...rest } = c;
  return rest;
}
