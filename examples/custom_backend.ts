/**
 * A third-party backend in a few lines: every page is its own
 * `SharedArrayBuffer` (so no `postMessage` transfer can ever detach a page).
 * The bookkeeping a backend needs (the page table mapping any address to its
 * page, reference counts, budget and emergency reserve, `stats()`, a pool of
 * released pages, recycled views, transfer detection) comes from
 * `PagedBackend`; the author writes only how a page is made and dropped. It
 * passes the core contract suite (`examples/custom_backend_test.ts`).
 *
 * ```sh
 * deno run -A examples/custom_backend.ts
 * npx bun examples/custom_backend.ts
 * npx tsx examples/custom_backend.ts
 * ```
 *
 * A backend that keeps its own page table (an arena) implements the
 * `MemoryBackend` interface directly and may still reuse `PageBudget` and
 * `ViewTable` from the same entry point.
 *
 * In your own code import from `"pagefrag"` / `"pagefrag/backends/page_table"`
 * (npm) or `"@pagefrag/pagefrag"` / `"@pagefrag/pagefrag/backends/page_table"`
 * (JSR); this example imports the sources of this repository.
 *
 * @module
 */
import "reflect-metadata";
import process from "node:process";
import { pathToFileURL } from "node:url";
import { container } from "tsyringe";
import {
  createPageFragCache,
  type PageFragCache,
  pageFragFree,
} from "../mod.ts";
import { registerPageFrag, TOKENS } from "../di/mod.ts";
import { PagedBackend } from "../backends/page_table.ts";

/** Pages as separate `SharedArrayBuffer`s; counts what it made and dropped. */
export class SabPageBackend extends PagedBackend {
  made = 0;
  dropped = 0;

  /** A new page's memory (`null`, or a throw, means "no memory"). */
  protected makePage(bytes: number): ArrayBufferLike | null {
    this.made++;
    return typeof SharedArrayBuffer === "function"
      ? new SharedArrayBuffer(bytes)
      : new ArrayBuffer(bytes);
  }

  /** A page leaves for good (beyond the pool): the GC takes it. */
  protected override dropPage(_buffer: ArrayBufferLike): void {
    this.dropped++;
  }
}

// --------------------------------------------------------------- the demo

function isMain(): boolean {
  const meta = import.meta as ImportMeta & { main?: boolean };
  if (typeof meta.main === "boolean") return meta.main; // Deno, Bun
  const arg = process.argv[1]; // Node
  return arg !== undefined && pathToFileURL(arg).href === import.meta.url;
}

function main(): void {
  console.log("== a third-party backend ==\n");
  const backend = new SabPageBackend({ maxBytes: 1 << 20 });

  // Hand it to a cache as an option...
  const cache = createPageFragCache({ backend });
  const frag = cache.alloc(256)!;
  frag.set([1, 2, 3]);
  const addr = cache.allocHandle(1500)!;
  cache.backend.view(addr, 1500).fill(0xab);
  pageFragFree(frag); // found through claimBuffer
  cache.free(addr);

  // ...or register it in an application container: every cache resolved
  // there shares it.
  const app = registerPageFrag(container.createChildContainer());
  app.register(TOKENS.Backend, { useValue: backend });
  const rx = app.resolve<PageFragCache>(TOKENS.Cache);
  const tx = app.resolve<PageFragCache>(TOKENS.Cache);
  for (let i = 0; i < 10_000; i++) {
    rx.free(rx.allocHandle(200)!);
    tx.free(tx.alloc(1000)!);
  }
  for (const c of [cache, rx, tx]) c.drain();

  console.log("three caches over one SabPageBackend, 20,002 fragments:");
  console.log("rx.stats():", rx.stats());
  console.log("backend.stats():", backend.stats());
  console.log(
    `buffers made ${backend.made}, dropped ${backend.dropped} (the rest wait in the pool)`,
  );
  if (backend.stats().bytesInUse !== 0) throw new Error("leak");
}

if (isMain()) main();
