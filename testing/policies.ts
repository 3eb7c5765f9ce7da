/**
 * The invariants every refill, alignment and pfmemalloc policy must keep:
 * well-formed answers, and caches built with the policies that never
 * overlap fragments, honour alignment, never get stuck and give every byte
 * back.
 *
 * @module
 */
import {
  type BackendOptions,
  HeapBackend,
  type PageFragCache,
} from "../mod.ts";
import type {
  AlignmentPolicy,
  PfmemallocPolicy,
  RefillPolicy,
} from "../mod.ts";
import type { Assert } from "./assert.ts";
import { prng } from "./prng.ts";
import {
  type BackendFactory,
  type SuiteContext,
  suiteContext,
  type SuiteOptions,
} from "./runner.ts";

/**
 * A policy, or a function that makes a fresh one. Pass a function for a
 * policy with state (one that learns from what it is asked), so that each
 * test starts from a fresh instance.
 *
 * @example
 * ```ts
 * import { kernelRefill, type RefillPolicy } from "@pagefrag/pagefrag";
 * import type { PolicyOrFactory } from "@pagefrag/pagefrag/testing";
 *
 * const shared: PolicyOrFactory<RefillPolicy> = kernelRefill;
 * const fresh: PolicyOrFactory<RefillPolicy> = () => ({ ...kernelRefill });
 * if (typeof fresh !== "function" || shared.name !== "kernel") throw new Error();
 * ```
 */
export type PolicyOrFactory<P extends object> = P | (() => P);

/**
 * The policies {@linkcode policySuite} tests; the ones left out are the
 * kernel's defaults.
 *
 * @example
 * ```ts
 * import { cacheLineAlignment, order0Refill } from "@pagefrag/pagefrag";
 * import type { PolicySet } from "@pagefrag/pagefrag/testing";
 *
 * const set: PolicySet = { refill: order0Refill, align: cacheLineAlignment };
 * if (set.pfmemalloc !== undefined) throw new Error();
 * ```
 */
export interface PolicySet {
  /** The refill-order policy under test. */
  refill?: PolicyOrFactory<RefillPolicy>;
  /** The alignment policy under test (for 4 KiB pages). */
  align?: PolicyOrFactory<AlignmentPolicy>;
  /** The pfmemalloc policy under test. */
  pfmemalloc?: PolicyOrFactory<PfmemallocPolicy>;
}

/**
 * Options of {@linkcode policySuite}.
 *
 * @example
 * ```ts
 * import { HeapBackend } from "@pagefrag/pagefrag";
 * import type { PolicySuiteOptions } from "@pagefrag/pagefrag/testing";
 *
 * const options: PolicySuiteOptions = { backend: (o) => new HeapBackend(o) };
 * if (options.backend === undefined) throw new Error();
 * ```
 */
export interface PolicySuiteOptions extends SuiteOptions {
  /** The backend the caches use. Default: a {@linkcode HeapBackend}. */
  backend?: BackendFactory;
}

function fresh<P extends object>(
  p: PolicyOrFactory<P> | undefined,
): P | undefined {
  return typeof p === "function" ? (p as () => P)() : p;
}

/** What the policy tests are written against: a context and the policies. */
interface PolicyContext extends SuiteContext {
  /** The policies under test. */
  readonly policies: PolicySet;
  /** A cache over a fresh backend, with fresh instances of the policies. */
  readonly policyCache: (backendOptions: BackendOptions) => PageFragCache;
}

const isPow2 = (n: unknown) =>
  typeof n === "number" && Number.isInteger(n) && n > 0 &&
  (n & (n - 1)) === 0;

/** Register the `${name}: policy answers are well-formed` group. */
function policyAnswerTests(ctx: PolicyContext): void {
  const { name, describe, it, policies } = ctx;
  const assert: Assert = ctx.assert;
  describe(`${name}: policy answers are well-formed`, () => {
    if (policies.refill !== undefined) {
      it("every refill plan has steps, and one between minOrder and maxOrder", () => {
        const refill = fresh(policies.refill)!;
        assert.equal(typeof refill.name, "string", "refill.name");
        for (const pageSize of [1024, 4096]) {
          for (let maxOrder = 0; maxOrder <= 4; maxOrder++) {
            for (let minOrder = 0; minOrder <= maxOrder; minOrder++) {
              const lo = minOrder === 0 ? 1 : (pageSize << (minOrder - 1)) + 1;
              const hi = pageSize << minOrder;
              for (const size of [lo, (lo + hi) >>> 1, hi]) {
                const steps = refill.plan(size, minOrder, maxOrder);
                const where = `plan(${size}, ${minOrder}, ${maxOrder})`;
                assert.ok(
                  Array.isArray(steps) && steps.length > 0,
                  `${where} is empty`,
                );
                for (const step of steps) {
                  assert.ok(
                    Number.isInteger(step.order),
                    `${where}: order ${step.order}`,
                  );
                  assert.equal(
                    typeof step.reserve,
                    "boolean",
                    `${where}: reserve`,
                  );
                }
                assert.ok(
                  steps.some((s) => s.order >= minOrder && s.order <= maxOrder),
                  `${where} has no step that can hold the fragment: the cache could never refill`,
                );
              }
            }
          }
        }
      });
    }
    if (policies.align !== undefined) {
      it("alignments are powers of two up to the page size", () => {
        const align = fresh(policies.align)!;
        assert.equal(typeof align.name, "string", "align.name");
        assert.ok(
          isPow2(align.align) && align.align <= 4096,
          `align ${align.align}`,
        );
        if (typeof align.alignFor === "function") {
          for (let size = 1; size <= 32768; size += size < 4096 ? 1 : 97) {
            const a: number = align.alignFor(size);
            assert.ok(isPow2(a) && a <= 4096, `alignFor(${size}) = ${a}`);
            assert.equal(align.alignFor(size), a, `alignFor(${size}) changed`);
          }
        }
      });
    }
    if (policies.pfmemalloc !== undefined) {
      it("mayUseReserve and mayRecycle answer booleans", () => {
        const pf = fresh(policies.pfmemalloc)!;
        assert.equal(typeof pf.name, "string", "pfmemalloc.name");
        for (const flag of [false, true]) {
          assert.equal(typeof pf.mayUseReserve(flag), "boolean");
          assert.equal(typeof pf.mayRecycle(flag), "boolean");
        }
      });
    }
  });
}

/** Register the `${name}: caches with these policies` group. */
function policyCacheTests(ctx: PolicyContext): void {
  const { name, describe, it } = ctx;
  const cacheOf = ctx.policyCache;
  const assert: Assert = ctx.assert;
  describe(`${name}: caches with these policies`, () => {
    it("random churn: no overlap, pages and alignment kept, every byte back", () => {
      const rand = prng(7);
      const cache = cacheOf({
        pageSize: 4096,
        maxOrder: 3,
        maxBytes: 16 << 20,
      });
      const b = cache.backend;
      const policy = cache.alignment;
      const live: { addr: number; size: number }[] = [];
      for (let step = 0; step < 20000; step++) {
        if (rand() < live.length / 200) {
          const i = Math.floor(rand() * live.length);
          const f = live[i];
          assert.ok(
            b.view(f.addr, f.size).every((x) => x === f.addr % 251),
            `fragment ${f.addr}+${f.size} was overwritten`,
          );
          cache.free(f.addr);
          live[i] = live[live.length - 1];
          live.pop();
          continue;
        }
        const size = 1 + Math.floor(rand() ** 3 * 16384);
        const explicit = rand() < 0.3 ? 1 << Math.floor(rand() * 8) : undefined;
        const want = explicit ??
          (policy.alignFor ? policy.alignFor(size) : policy.align);
        const view = rand() < 0.5;
        const memalloc = rand() < 0.1;
        const opts = explicit === undefined
          ? { memalloc }
          : { align: explicit, memalloc };
        const addr = view
          ? (() => {
            const v = cache.alloc(size, opts);
            return v === null ? null : b.addressOf(v);
          })()
          : cache.allocHandle(size, opts);
        assert.notEqual(addr, null, "the budget is ample here");
        assert.equal(
          addr! % want,
          0,
          `fragment of ${size} bytes not aligned to ${want}`,
        );
        const page = b.pageOf(addr!);
        assert.equal(b.pageOf(addr! + size - 1), page, "crosses its page");
        b.view(addr!, size).fill(addr! % 251);
        live.push({ addr: addr!, size });
      }
      const sorted = [...live].sort((x, y) => x.addr - y.addr);
      for (let i = 1; i < sorted.length; i++) {
        assert.ok(
          sorted[i - 1].addr + sorted[i - 1].size <= sorted[i].addr,
          "overlap",
        );
      }
      for (const f of live) cache.free(f.addr);
      cache.drain();
      const s = b.stats();
      assert.equal(s.bytesInUse, 0, "bytes still in use after free + drain");
      assert.equal(s.pagesInUse, 0);
      assert.equal(cache.stats().allocFailures, 0);
      assert.equal(
        cache.stats().refills,
        s.pagesAllocated,
        "refills = pages taken",
      );
    });

    it("no stuck state: with a budget below the largest page, what fits is handed out", () => {
      const rand = prng(11);
      const cache = cacheOf({ pageSize: 4096, maxOrder: 3, maxBytes: 16384 });
      for (let i = 0; i < 2000; i++) {
        const size = 1 + Math.floor(rand() * 16384);
        const addr = cache.allocHandle(size);
        assert.notEqual(addr, null, `allocation ${i} of ${size} bytes failed`);
        cache.free(addr!);
      }
      assert.equal(cache.stats().allocFailures, 0);
      cache.drain();
      assert.equal(cache.backend.stats().bytesInUse, 0);
    });

    it("the reserve is bounded, marked, recycled only if allowed, and flows back", () => {
      const rand = prng(13);
      const reserveBytes = 32768;
      const cache = cacheOf({
        pageSize: 4096,
        maxOrder: 3,
        maxBytes: 0,
        reserveBytes,
      });
      const b = cache.backend;
      const live: number[] = [];
      for (let i = 0; i < 3000; i++) {
        if (live.length > 0 && rand() < 0.5) {
          cache.free(live.splice(Math.floor(rand() * live.length), 1)[0]);
          continue;
        }
        const addr = cache.allocHandle(1 + Math.floor(rand() * 4096), {
          memalloc: true,
        });
        assert.ok(b.stats().reserveInUse <= reserveBytes, "reserve exceeded");
        if (addr === null) continue;
        assert.ok(
          b.isPfmemalloc(addr),
          "a page with no budget must come from the reserve",
        );
        assert.ok(cache.isPfmemalloc());
        live.push(addr);
      }
      if (!cache.pfmemallocPolicy.mayRecycle(true)) {
        assert.equal(cache.stats().recycles, 0, "a reserve page was recycled");
      }
      for (const a of live) cache.free(a);
      cache.drain();
      assert.equal(b.stats().reserveInUse, 0, "the reserve did not flow back");
      assert.equal(b.stats().bytesInUse, 0);
    });
  });
}

/**
 * Register the policy suite (see `policySuite` in `pagefrag/testing`), with
 * `defaults` for the options the caller leaves out.
 */
export function registerPolicySuite(
  name: string,
  policies: PolicySet,
  options: PolicySuiteOptions,
  defaults: SuiteOptions,
): void {
  const make: BackendFactory = options.backend ??
    ((o) => new HeapBackend(o));
  const base = suiteContext(name, make, options, defaults);
  const ctx: PolicyContext = {
    ...base,
    policies,
    policyCache: (backendOptions) =>
      base.cacheOf(backendOptions, {
        refill: fresh(policies.refill),
        align: fresh(policies.align),
        pfmemalloc: fresh(policies.pfmemalloc),
      }),
  };
  policyAnswerTests(ctx);
  policyCacheTests(ctx);
}
