/**
 * pagefrag's dependency-injection entry point: the tsyringe composition root.
 *
 * `registerPageFrag(container, options)` registers a provider for every
 * {@linkcode TOKENS} entry; override any token afterwards (your backend, your
 * refill policy, your sanitizer) and the caches resolved from the container
 * change accordingly. Library classes carry no decorators: everything is
 * registered with factories, so it works whatever decorator settings your
 * application compiles with. This entry loads `reflect-metadata` and
 * tsyringe; the root entry (`pagefrag`) loads neither.
 *
 * @example
 * ```ts
 * import "reflect-metadata"; // tsyringe's polyfill, first (this entry loads it too)
 * import { container } from "tsyringe";
 * import { order0Refill, type PageFragCache } from "@pagefrag/pagefrag";
 * import { registerPageFrag, TOKENS } from "@pagefrag/pagefrag/di";
 * import assert from "node:assert/strict";
 *
 * const app = registerPageFrag(container.createChildContainer(), { maxBytes: 1 << 20 });
 * app.register(TOKENS.RefillPolicy, { useValue: order0Refill });
 * const cache = app.resolve<PageFragCache>(TOKENS.Cache);
 * assert.equal(cache.refillPolicy, order0Refill, "the override is used");
 * ```
 *
 * @module
 */
import "reflect-metadata";
import { container as rootContainer } from "tsyringe";
import type { MemoryBackend } from "../core/backend.ts";
import type {
  AlignmentPolicy,
  PfmemallocPolicy,
  RefillPolicy,
} from "../core/policy.ts";
import type { Sanitizer } from "../debug/sanitizer.ts";
import type { LeakDetector } from "../debug/leaks.ts";
import {
  alignmentFrom,
  backendFrom,
  type PageFragOptions,
  parseOptions,
  pfmemallocFrom,
  refillFrom,
} from "../wiring/options.ts";
import {
  assemble,
  type Flavour,
  instrument,
  leakDetectorFrom,
  sanitizerFrom,
} from "../wiring/create.ts";
import { type PageFragContainer, TOKENS } from "../wiring/tokens.ts";

export { type PageFragContainer, TOKENS };

/**
 * Register pagefrag's defaults in `container`: the options, a backend built
 * from them (one per container), the three policies, and `TOKENS.Cache`,
 * which makes a new cache over them on every resolve. Register your own
 * provider for a token afterwards to replace that part.
 *
 * @example
 * ```ts
 * import "reflect-metadata";
 * import { container } from "tsyringe";
 * import type { PageFragCache } from "@pagefrag/pagefrag";
 * import { registerPageFrag, TOKENS } from "@pagefrag/pagefrag/di";
 *
 * const app = container.createChildContainer();
 * registerPageFrag(app, { maxBytes: 1 << 20, align: 64 });
 * const rx = app.resolve<PageFragCache>(TOKENS.Cache);
 * const tx = app.resolve<PageFragCache>(TOKENS.Cache);
 * if (rx === tx || rx.backend !== tx.backend) throw new Error("two caches, one backend");
 * ```
 */
export function registerPageFrag<C extends PageFragContainer>(
  container: C,
  options: PageFragOptions = {},
): C {
  const o = parseOptions(options);
  const opts = (c: PageFragContainer) =>
    c.resolve<PageFragOptions>(TOKENS.Options);
  // One backend, sanitizer and leak detector per registration, made on
  // first use (pages and records are their state).
  let backend: MemoryBackend | undefined;
  let sanitizer: Sanitizer | null | undefined;
  let leaks: LeakDetector | null | undefined;
  container.register(TOKENS.Options, { useFactory: () => o });
  container.register(TOKENS.Backend, {
    useFactory: (c) => backend ??= backendFrom(opts(c)),
  });
  container.register(TOKENS.AlignmentPolicy, {
    useFactory: (c) => alignmentFrom(opts(c)),
  });
  container.register(TOKENS.RefillPolicy, {
    useFactory: (c) => refillFrom(opts(c)),
  });
  container.register(TOKENS.PfmemallocPolicy, {
    useFactory: (c) => pfmemallocFrom(opts(c)),
  });
  container.register(TOKENS.Sanitizer, {
    useFactory: (c) => sanitizer ??= sanitizerFrom(opts(c)) ?? null,
  });
  container.register(TOKENS.LeakDetector, {
    useFactory: (c) => leaks ??= leakDetectorFrom(opts(c)) ?? null,
  });
  // The instrumented wrapper of each backend (one per backend).
  const wrappers = new WeakMap<MemoryBackend, MemoryBackend>();
  const backendOf = (c: PageFragContainer): MemoryBackend => {
    const raw = c.resolve<MemoryBackend>(TOKENS.Backend);
    let w = wrappers.get(raw);
    if (w === undefined) {
      w = instrument(
        raw,
        c.resolve<Sanitizer | null>(TOKENS.Sanitizer) ?? undefined,
        c.resolve<LeakDetector | null>(TOKENS.LeakDetector) ?? undefined,
      );
      wrappers.set(raw, w);
    }
    return w;
  };
  // The three flavours are the same state machine over the same parts.
  const cacheOf = (flavour: Flavour) => (c: PageFragContainer) =>
    assemble(
      flavour,
      backendOf(c),
      c.resolve<AlignmentPolicy>(TOKENS.AlignmentPolicy),
      c.resolve<RefillPolicy>(TOKENS.RefillPolicy),
      c.resolve<PfmemallocPolicy>(TOKENS.PfmemallocPolicy),
      opts(c).zero === true,
    );
  container.register(TOKENS.Cache, { useFactory: cacheOf("cache") });
  container.register(TOKENS.NetdevCache, { useFactory: cacheOf("netdev") });
  container.register(TOKENS.NapiCache, { useFactory: cacheOf("napi") });
  return container;
}

/**
 * A fresh child of tsyringe's root container with pagefrag registered in it:
 * the shortest way to a container you can override tokens in.
 *
 * @example
 * ```ts
 * import { createPageFragContainer, TOKENS } from "@pagefrag/pagefrag/di";
 * import type { PageFragCache } from "@pagefrag/pagefrag";
 * import assert from "node:assert/strict";
 *
 * const c = createPageFragContainer({ align: 64 });
 * const a = c.resolve<PageFragCache>(TOKENS.Cache);
 * const b = c.resolve<PageFragCache>(TOKENS.Cache);
 * assert.notEqual(a, b, "a new cache per resolve");
 * assert.equal(a.backend, b.backend, "one backend per container");
 * ```
 */
export function createPageFragContainer(
  options: PageFragOptions = {},
): PageFragContainer {
  return registerPageFrag(rootContainer.createChildContainer(), options);
}
