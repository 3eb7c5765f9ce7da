import "reflect-metadata";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { container } from "tsyringe";
import {
  cacheLineAlignment,
  createPageFragCache,
  HeapBackend,
  type MemoryBackend,
  type PageFragCache,
  type RefillPolicy,
  type RefillStep,
} from "../mod.ts";
import { registerPageFrag, TOKENS } from "../di/mod.ts";
import { throwsCode } from "./contract.ts";

/** A refill policy that records what it was asked and always wants order 1. */
class RecordingRefill implements RefillPolicy {
  readonly name = "recording";
  readonly asked: number[] = [];
  readonly #steps: RefillStep[] = [{ order: 1, reserve: true }];
  plan(size: number): readonly RefillStep[] {
    this.asked.push(size);
    return this.#steps;
  }
}

describe("DI composition root", () => {
  it("registerPageFrag registers every token; TOKENS.Cache resolves a new cache over one backend", () => {
    const app = registerPageFrag(container.createChildContainer(), {
      maxBytes: 1 << 20,
    });
    const a = app.resolve<PageFragCache>(TOKENS.Cache);
    const b = app.resolve<PageFragCache>(TOKENS.Cache);
    assert.notEqual(a, b);
    assert.equal(a.backend, b.backend);
    assert.equal(app.resolve<MemoryBackend>(TOKENS.Backend), a.backend);
    assert.equal(a.backend.stats().bytesTotal, 1 << 20);
    assert.equal(a.refillPolicy.name, "kernel");
    assert.equal(a.pfmemallocPolicy.name, "kernel");
    assert.equal(a.alignment.align, 1);
  });

  it("overriding TOKENS.RefillPolicy in a user's container changes the resolved cache's decisions", () => {
    const policy = new RecordingRefill();
    const app = registerPageFrag(container.createChildContainer());
    app.register(TOKENS.RefillPolicy, { useValue: policy });
    const cache = app.resolve<PageFragCache>(TOKENS.Cache);
    assert.equal(cache.refillPolicy, policy);
    cache.allocHandle(100);
    assert.deepEqual(policy.asked, [100]);
    assert.equal(
      cache.backend.stats().bytesInUse,
      8192,
      "order-1 page, not the kernel's order 3",
    );
    // A default cache from another container is untouched.
    const other = registerPageFrag(container.createChildContainer())
      .resolve<PageFragCache>(TOKENS.Cache);
    other.allocHandle(100);
    assert.equal(other.backend.stats().bytesInUse, 32768);
  });

  it("overriding the backend and alignment tokens works the same way", () => {
    const backend = new HeapBackend({ maxBytes: 4096 });
    const app = registerPageFrag(container.createChildContainer());
    app.register(TOKENS.Backend, { useValue: backend });
    app.register(TOKENS.AlignmentPolicy, { useValue: cacheLineAlignment });
    const cache = app.resolve<PageFragCache>(TOKENS.Cache);
    assert.equal(cache.backend, backend);
    cache.allocHandle(1);
    assert.equal(cache.allocHandle(1)! % 64, 0);
    assert.equal(
      backend.stats().bytesInUse,
      4096,
      "budget of the injected backend",
    );
  });

  it("a child container inherits the parent's backend, or registers its own", () => {
    const parent = registerPageFrag(container.createChildContainer(), {
      refill: "order0",
    });
    const inherited = parent.createChildContainer()
      .resolve<PageFragCache>(TOKENS.Cache);
    const fromParent = parent.resolve<PageFragCache>(TOKENS.Cache);
    assert.equal(
      inherited.backend,
      fromParent.backend,
      "one backend per registration",
    );
    assert.equal(inherited.refillPolicy.name, "order0");
    const own = registerPageFrag(parent.createChildContainer(), {
      pageSize: 8192,
    }).resolve<PageFragCache>(TOKENS.Cache);
    assert.equal(own.backend.pageSize, 8192);
    assert.equal(own.refillPolicy.name, "kernel");
    assert.equal(fromParent.backend.pageSize, 4096);
  });

  it("createPageFragCache gives each call its own backend", () => {
    const a = createPageFragCache();
    const b = createPageFragCache();
    assert.notEqual(a.backend, b.backend);
  });

  it("registerPageFrag validates options up front", () => {
    throwsCode(
      () =>
        registerPageFrag(container.createChildContainer(), { maxOrder: 11 }),
      "EINVAL_OPTION",
    );
  });
});
