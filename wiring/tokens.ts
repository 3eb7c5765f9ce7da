/**
 * The names of pagefrag's parts, as plain symbols: the DI entry point
 * (`pagefrag/di`) registers a provider for each, and `configurePageFrag`
 * accepts any container that resolves them. Defined here, without tsyringe,
 * so the root entry can take a container without loading DI.
 *
 * @module
 */

/**
 * The injection tokens of pagefrag. Register your own provider for any of
 * them to replace a part.
 *
 * | token                     | resolves to                                  |
 * | ------------------------- | -------------------------------------------- |
 * | `TOKENS.Options`          | the validated `PageFragOptions`              |
 * | `TOKENS.Backend`          | the `MemoryBackend` (one per container)      |
 * | `TOKENS.AlignmentPolicy`  | the `AlignmentPolicy`                        |
 * | `TOKENS.RefillPolicy`     | the `RefillPolicy`                           |
 * | `TOKENS.PfmemallocPolicy` | the `PfmemallocPolicy`                       |
 * | `TOKENS.Cache`            | a new `PageFragCache` on each resolve        |
 * | `TOKENS.NetdevCache`      | a new `NetdevFragCache` on each resolve      |
 * | `TOKENS.NapiCache`        | a new `NapiFragCache` on each resolve        |
 * | `TOKENS.Sanitizer`        | the `Sanitizer`, or `null` when it is off    |
 * | `TOKENS.LeakDetector`     | the `LeakDetector`, or `null` when it is off |
 *
 * When `TOKENS.Sanitizer` or `TOKENS.LeakDetector` resolves to an instance,
 * the caches are instrumented subclasses of their flavour over an
 * `InstrumentedBackend` wrapping `TOKENS.Backend`: register your own
 * `Sanitizer` (say, with an `onReport` of your own) to plug it in.
 *
 * @example
 * ```ts
 * import "reflect-metadata";
 * import { container } from "tsyringe";
 * import { order0Refill, type PageFragCache } from "@pagefrag/pagefrag";
 * import { registerPageFrag, TOKENS } from "@pagefrag/pagefrag/di";
 *
 * const app = container.createChildContainer();
 * registerPageFrag(app);
 * app.register(TOKENS.RefillPolicy, { useValue: order0Refill });
 * const cache = app.resolve<PageFragCache>(TOKENS.Cache);
 * if (cache.refillPolicy !== order0Refill) throw new Error();
 * ```
 */
export const TOKENS: {
  readonly Options: symbol;
  readonly Backend: symbol;
  readonly AlignmentPolicy: symbol;
  readonly RefillPolicy: symbol;
  readonly PfmemallocPolicy: symbol;
  readonly Cache: symbol;
  readonly NetdevCache: symbol;
  readonly NapiCache: symbol;
  readonly Sanitizer: symbol;
  readonly LeakDetector: symbol;
} = Object.freeze({
  Options: Symbol.for("pagefrag.Options"),
  Backend: Symbol.for("pagefrag.Backend"),
  AlignmentPolicy: Symbol.for("pagefrag.AlignmentPolicy"),
  RefillPolicy: Symbol.for("pagefrag.RefillPolicy"),
  PfmemallocPolicy: Symbol.for("pagefrag.PfmemallocPolicy"),
  Cache: Symbol.for("pagefrag.Cache"),
  NetdevCache: Symbol.for("pagefrag.NetdevCache"),
  NapiCache: Symbol.for("pagefrag.NapiCache"),
  Sanitizer: Symbol.for("pagefrag.Sanitizer"),
  LeakDetector: Symbol.for("pagefrag.LeakDetector"),
});

/**
 * The part of a tsyringe `DependencyContainer` pagefrag uses: any tsyringe
 * container (root, child, or your application's) fits.
 *
 * @example
 * ```ts
 * import "reflect-metadata";
 * import { container } from "tsyringe";
 * import { type PageFragContainer, registerPageFrag } from "@pagefrag/pagefrag/di";
 *
 * const app: PageFragContainer = container.createChildContainer();
 * registerPageFrag(app);
 * ```
 */
export interface PageFragContainer {
  /** Register a factory provider for `token` (tsyringe's `register`). */
  register(
    token: symbol,
    provider: { useFactory: (c: PageFragContainer) => unknown },
  ): unknown;
  /** Register a value for `token`. */
  register(token: symbol, provider: { useValue: unknown }): unknown;
  /** Resolve `token` (tsyringe's `resolve`). */
  resolve<T>(token: symbol): T;
}
