/**
 * The policies of `../custom_policy.ts`, registered by an application that
 * uses tsyringe's decorators in its own code: `@injectable()` classes whose
 * constructor parameters are injected with `@inject(token)`, including
 * pagefrag's own tokens (`TOKENS.Options`, `TOKENS.Cache`).
 *
 * Decorators need a compiler option in the application (not in pagefrag):
 * `experimentalDecorators` in this directory's `deno.json` (Deno) and
 * `tsconfig.json` (Bun, tsx, tsc). Run it from this directory, so that each
 * runtime finds them:
 *
 * ```sh
 * cd examples/decorators
 * deno run -A app.ts
 * npx bun app.ts
 * npx tsx app.ts
 * npx tsc -p .        # type-check
 * ```
 *
 * pagefrag's DI comes from its `pagefrag/di` entry, the only one that loads
 * tsyringe; the root entry does not, so this application imports
 * `reflect-metadata` itself, before tsyringe. This example imports the entry
 * files of this repository; in your own code import the same names from the
 * package: `../../mod.ts` is `"pagefrag"` (npm) or `"@pagefrag/pagefrag"`
 * (JSR), `../../di/mod.ts` is `pagefrag/di`.
 *
 * @module
 */
import "reflect-metadata"; // first: tsyringe needs the Reflect API
import process from "node:process";
import { container, inject, injectable, Lifecycle } from "tsyringe";
import { type PageFragCache, type PageFragOptions } from "../../mod.ts";
import { registerPageFrag, TOKENS } from "../../di/mod.ts";
import { SizeAwareRefill, TypedArrayAlignment } from "../custom_policy.ts";

const QUICK = process.argv.slice(2).includes("--quick") ||
  process.env.PAGEFRAG_QUICK === "1";

/** The application's own token for the refill policy's settings. */
const REFILL_SETTINGS = Symbol("app.RefillSettings");
interface RefillSettings {
  fragmentsPerPage: number;
}

/**
 * The refill policy, as the application's own injectable class: its page
 * size comes from pagefrag's registered options, its settings from the
 * application's token.
 */
@injectable()
class AppRefill extends SizeAwareRefill {
  constructor(
    @inject(TOKENS.Options) options: PageFragOptions,
    @inject(REFILL_SETTINGS) settings: RefillSettings,
  ) {
    super({ pageSize: options.pageSize, ...settings });
  }
}

/** The alignment policy: no dependencies, one instance for every cache. */
@injectable()
class AppAlignment extends TypedArrayAlignment {}

/** An application service that gets two caches (one backend) injected. */
@injectable()
class Connection {
  constructor(
    @inject(TOKENS.Cache) readonly rx: PageFragCache,
    @inject(TOKENS.Cache) readonly tx: PageFragCache,
  ) {}

  /** Receive `n` small headers, keeping every 500th (a session cookie...). */
  receive(n: number): number[] {
    const kept: number[] = [];
    for (let i = 0; i < n; i++) {
      const frag = this.rx.alloc(64);
      if (frag === null) throw new Error("out of memory");
      new Float64Array(frag.buffer, frag.byteOffset, 8).fill(i); // 8-aligned
      if (i % 500 === 0) kept.push(this.rx.backend.addressOf(frag));
      else this.rx.free(frag);
    }
    return kept;
  }
}

// The application's container: pagefrag's defaults, then its own parts.
const app = registerPageFrag(container.createChildContainer(), {
  pageSize: 4096,
  maxOrder: 3,
  maxBytes: 64 << 20,
});
app.register(REFILL_SETTINGS, { useValue: { fragmentsPerPage: 64 } });
// Transient (tsyringe's default): each cache gets its own learning policy.
app.register(TOKENS.RefillPolicy, { useClass: AppRefill });
app.register(TOKENS.AlignmentPolicy, { useClass: AppAlignment }, {
  lifecycle: Lifecycle.Singleton,
});

const conn = app.resolve(Connection);
console.log("== custom policies through decorators ==\n");
console.log(
  `rx: refill "${conn.rx.refillPolicy.name}", align "${conn.rx.alignment.name}"; ` +
    `tx: a different cache (${conn.rx !== conn.tx}), same backend (${
      conn.rx.backend === conn.tx.backend
    }), same alignment policy (${conn.rx.alignment === conn.tx.alignment}), ` +
    `its own refill policy (${
      conn.rx.refillPolicy !== conn.tx.refillPolicy
    })\n`,
);

const kept = conn.receive(QUICK ? 20_000 : 200_000);
conn.rx.drain();
const refill = conn.rx.refillPolicy as AppRefill;
console.log("rx.stats():", conn.rx.stats());
console.log("backend.stats():", conn.rx.backend.stats());
console.log("what the refill policy learnt:", refill.stats());
if (refill.chosen[0] === 0) throw new Error("expected order-0 pages");
for (const addr of kept) conn.rx.free(addr);
if (conn.rx.backend.stats().bytesInUse !== 0) throw new Error("leak");
