/**
 * Your own policies: a refill-order policy that picks the page order from
 * the fragment sizes it has seen, and an alignment policy that lets every
 * fragment back a typed array. Both are written against the contracts of
 * `pagefrag/core` and registered through `pagefrag/di` (tsyringe) in an
 * application container (no decorators here; `examples/decorators/` is the
 * same with `@injectable()`), caches are resolved with them, and their
 * effect shows in `stats()`. The guide is `docs/plugins.md`.
 *
 * ```sh
 * deno run -A examples/custom_policy.ts
 * npx bun examples/custom_policy.ts
 * npx tsx examples/custom_policy.ts
 * ```
 *
 * `--quick` (or `PAGEFRAG_QUICK=1`) runs smaller workloads. The policies
 * pass the policy contract suite: see `examples/custom_policy_test.ts`.
 *
 * This example imports the entry files of this repository; in your own code
 * import the same names from the package: `../mod.ts` is `"pagefrag"` (npm)
 * or `"@pagefrag/pagefrag"` (JSR), `../core/mod.ts` is `pagefrag/core`,
 * `../di/mod.ts` is `pagefrag/di`.
 *
 * @module
 */
import "reflect-metadata"; // before tsyringe, once per program
import process from "node:process";
import { pathToFileURL } from "node:url";
import { container } from "tsyringe";
import {
  createPageFragCache,
  type PageFragCache,
  type PageFragOptions,
} from "../mod.ts";
import type { AlignmentPolicy, RefillPolicy, RefillStep } from "../core/mod.ts";
import { registerPageFrag, TOKENS } from "../di/mod.ts";

// ------------------------------------------------------------ the policies

/** Options of {@linkcode SizeAwareRefill}. */
export interface SizeAwareRefillOptions {
  /** The backend's order-0 page size in bytes. Default 4096. */
  pageSize?: number;
  /** How many fragments of the typical size a page should hold. Default 64. */
  fragmentsPerPage?: number;
}

/**
 * A refill-order policy that learns. The kernel's policy always tries the
 * largest page first: few refills, but one long-lived fragment pins up to
 * 32 KiB. This one keeps a moving average of the fragment sizes it is asked
 * to refill for and picks the smallest order whose page holds
 * `fragmentsPerPage` of them: 4 KiB pages while fragments are small, larger
 * ones when they grow. Its plan still ends with the smallest order that holds
 * the fragment, so it never gets stuck when memory is tight.
 *
 * `plan` is called once per page, never per fragment, and returns frozen
 * arrays it made once: a refill allocates nothing.
 */
export class SizeAwareRefill implements RefillPolicy {
  readonly name = "size-aware";
  readonly pageSize: number;
  readonly fragmentsPerPage: number;
  /** How many refills started with each page order (this policy's own stats). */
  readonly chosen: number[] = new Array(11).fill(0);
  #typical = 0;
  #samples = 0;
  readonly #plans = new Map<number, readonly RefillStep[]>();

  constructor(options: SizeAwareRefillOptions = {}) {
    this.pageSize = options.pageSize ?? 4096;
    this.fragmentsPerPage = options.fragmentsPerPage ?? 64;
  }

  plan(
    size: number,
    minOrder: number,
    maxOrder: number,
  ): readonly RefillStep[] {
    // An exponentially weighted moving average (weight 1/8): it follows a
    // change of workload within a few refills.
    this.#samples++;
    this.#typical = this.#samples === 1
      ? size
      : this.#typical + (size - this.#typical) / 8;
    const want = this.#typical * this.fragmentsPerPage;
    let order = minOrder;
    while (order < maxOrder && this.pageSize * 2 ** order < want) order++;
    this.chosen[order]++;
    const key = order * 32 + minOrder;
    let steps = this.#plans.get(key);
    if (steps === undefined) {
      // First the order we want, cheap to fail (no reserve); then the
      // smallest order that holds the fragment, which may use the reserve.
      steps = Object.freeze(
        order === minOrder ? [Object.freeze({ order, reserve: true })] : [
          Object.freeze({ order, reserve: false }),
          Object.freeze({ order: minOrder, reserve: true }),
        ],
      );
      this.#plans.set(key, steps);
    }
    return steps;
  }

  /** What the policy has learnt. */
  stats(): { samples: number; typicalSize: number; chosen: string } {
    return {
      samples: this.#samples,
      typicalSize: Math.round(this.#typical),
      chosen: this.chosen
        .map((n, order) => n > 0 ? `order ${order}: ${n}` : "")
        .filter(Boolean).join(", "),
    };
  }
}

/**
 * An alignment policy for fragments that back typed arrays:
 * `new Float64Array(frag.buffer, frag.byteOffset, n)` needs a `byteOffset`
 * that is a multiple of 8, an `Int32Array` one of 4. Fragments of 8 bytes
 * or more start on 8 bytes, of 4..7 bytes on 4, of 2..3 on 2; fragments of
 * 256 bytes or more start on a 64-byte cache line, so two big buffers
 * written by different workers never share a line.
 *
 * `alignFor` runs on every allocation that names no alignment of its own:
 * keep it to a few comparisons, and a function of the size alone.
 */
export class TypedArrayAlignment implements AlignmentPolicy {
  readonly name = "typed-array";
  /** Used only by code that reads `align`; `alignFor` decides. */
  readonly align = 8;
  alignFor(size: number): number {
    return size >= 256 ? 64 : size >= 8 ? 8 : size >= 4 ? 4 : size >= 2 ? 2 : 1;
  }
}

// --------------------------------------------------------------- the demo

const QUICK = process.argv.slice(2).includes("--quick") ||
  process.env.PAGEFRAG_QUICK === "1";

/** Run only when started as a program, not when imported (by the test or the decorators example). */
function isMain(): boolean {
  const meta = import.meta as ImportMeta & { main?: boolean };
  if (typeof meta.main === "boolean") return meta.main; // Deno, Bun
  const arg = process.argv[1]; // Node
  return arg !== undefined && pathToFileURL(arg).href === import.meta.url;
}

/**
 * A workload that pins pages: many small short-lived fragments, and every
 * 500th kept (a connection's header, a cached key...). Returns the bytes of
 * pages the kept fragments hold.
 */
function pinningWorkload(cache: PageFragCache, size: number): number {
  const kept: number[] = [];
  const n = (QUICK ? 2_000_000 : 20_000_000) / Math.max(size, 100);
  for (let i = 0; i < n; i++) {
    const addr = cache.allocHandle(size);
    if (addr === null) throw new Error("out of memory");
    if (i % 500 === 0) kept.push(addr);
    else cache.free(addr);
  }
  cache.drain(); // the cache lets go of its page: only the kept fragments hold pages
  const pinned = cache.backend.stats().bytesInUse;
  for (const addr of kept) cache.free(addr);
  return pinned;
}

/**
 * Whether `frag` can back the widest typed array whose element fits in it:
 * a `Float64Array` if it has 8 bytes or more, an `Int32Array` if 4..7, an
 * `Int16Array` if 2..3 (their views need a byteOffset that is a multiple
 * of the element size).
 */
function backsTypedArray(frag: Uint8Array): boolean {
  const width = frag.length >= 8
    ? 8
    : frag.length >= 4
    ? 4
    : frag.length >= 2
    ? 2
    : 1;
  return frag.byteOffset % width === 0;
}

function row(label: string, cells: (string | number)[]): void {
  console.log(
    label.padEnd(26) + cells.map((c) => String(c).padStart(14)).join(""),
  );
}

function main(): void {
  console.log("== custom policies, registered through pagefrag/di ==\n");

  // 1. An application container of your own, with pagefrag's defaults in it
  //    (createPageFragContainer(options) is the same over a fresh child of
  //    tsyringe's root container).
  const app = registerPageFrag(container.createChildContainer(), {
    pageSize: 4096,
    maxOrder: 3,
  });

  // 2. Replace the refill policy with a factory: each resolved cache gets
  //    its own SizeAwareRefill (it has state: what it has seen), made from
  //    the registered options.
  app.register(TOKENS.RefillPolicy, {
    useFactory: (c) =>
      new SizeAwareRefill({
        pageSize: c.resolve<PageFragOptions>(TOKENS.Options).pageSize,
      }),
  });
  // 3. Replace the alignment policy with a class (no constructor arguments,
  //    so tsyringe can build it without decorators).
  app.register(TOKENS.AlignmentPolicy, { useClass: TypedArrayAlignment });

  // 4. Resolve caches: every one is built over the app's backend with them.
  const custom = app.resolve<PageFragCache>(TOKENS.Cache);
  const kernel = createPageFragCache({ pageSize: 4096, maxOrder: 3 });
  console.log(
    `custom cache: refill "${custom.refillPolicy.name}", align "${custom.alignment.name}"`,
  );
  console.log(
    `kernel cache: refill "${kernel.refillPolicy.name}", align "${kernel.alignment.name}"\n`,
  );

  // The refill policy's effect: pages pinned by a few long-lived fragments.
  console.log("every 500th 64-byte fragment kept, the rest freed at once:");
  row("", ["kernel", "size-aware"]);
  const pinnedKernel = pinningWorkload(kernel, 64);
  const pinnedCustom = pinningWorkload(custom, 64);
  row("bytes pinned by kept", [pinnedKernel, pinnedCustom]);
  row("cache.stats().refills", [
    kernel.stats().refills,
    custom.stats().refills,
  ]);
  row("backend peakBytesInUse", [
    kernel.backend.stats().peakBytesInUse,
    custom.backend.stats().peakBytesInUse,
  ]);
  const learnt = (custom.refillPolicy as SizeAwareRefill).stats();
  console.log(
    `size-aware learnt: typical size ${learnt.typicalSize} bytes over ${learnt.samples} refills (${learnt.chosen})\n`,
  );
  if (pinnedCustom >= pinnedKernel) {
    throw new Error("expected the size-aware policy to pin less memory");
  }

  // It adapts: when the fragments grow, it picks larger pages.
  const policy = custom.refillPolicy as SizeAwareRefill;
  const order0Before = policy.chosen[0];
  const order3Before = policy.chosen[3];
  pinningWorkload(custom, 1500);
  console.log(
    `then 1500-byte fragments: typical size ${policy.stats().typicalSize} bytes, ` +
      `${policy.chosen[3] - order3Before} more refills with order-3 pages, ` +
      `${policy.chosen[0] - order0Before} with order 0\n`,
  );
  if (policy.chosen[3] === order3Before) {
    throw new Error("expected larger pages for larger fragments");
  }

  // The alignment policy's effect: every fragment can back a typed array,
  // for a little padding (more refills than packing back to back).
  const sizes: number[] = [];
  for (let i = 0; i < (QUICK ? 5000 : 50_000); i++) {
    sizes.push(1 + ((i * 2654435761) >>> 0) % 400);
  }
  const packed = createPageFragCache({ refill: "order0" });
  const typed = createPageFragCache({
    refill: "order0",
    align: new TypedArrayAlignment(),
  });
  let packedOk = 0;
  let typedOk = 0;
  for (const size of sizes) {
    const a = packed.alloc(size)!;
    const b = typed.alloc(size)!;
    if (backsTypedArray(a)) packedOk++;
    if (backsTypedArray(b)) typedOk++;
    packed.free(a);
    typed.free(b);
  }
  console.log(`${sizes.length} fragments of 1..400 bytes:`);
  row("", ["packed", "typed-array"]);
  row("can back a typed array", [packedOk, typedOk]);
  row("refills + recycles", [
    packed.stats().refills + packed.stats().recycles,
    typed.stats().refills + typed.stats().recycles,
  ]);
  if (typedOk !== sizes.length) throw new Error("a fragment was misaligned");
}

if (isMain()) main();
