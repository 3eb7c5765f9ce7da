import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  cacheLineAlignment,
  denyPfmemalloc,
  fixedAlignment,
  HeapBackend,
  kernelPfmemalloc,
  kernelRefill,
  noAlignment,
  order0Refill,
  type RefillPolicy,
} from "../mod.ts";
import { contractSuite, policySuite, type TestRunner } from "./contract.ts";

// The built-in policies keep the invariants they ask of everyone else's.
policySuite("kernel policies", {
  refill: kernelRefill,
  align: noAlignment,
  pfmemalloc: kernelPfmemalloc,
});
policySuite("order0 + cache lines + deny", {
  refill: order0Refill,
  align: cacheLineAlignment,
  pfmemalloc: denyPfmemalloc,
});
policySuite("factories", {
  refill: () => ({ ...kernelRefill }),
  align: () => fixedAlignment(16),
});

/** Registers tests without running them, and counts them. */
function collector(): TestRunner & { names: string[] } {
  const names: string[] = [];
  const prefix: string[] = [];
  return {
    names,
    describe(name, body) {
      prefix.push(name);
      body();
      prefix.pop();
    },
    it(name) {
      names.push([...prefix, name].join(" > "));
    },
  };
}

describe("testing entry point", () => {
  it("contractSuite registers with any runner", () => {
    const runner = collector();
    contractSuite("x", (o) => new HeapBackend(o), { runner });
    assert.ok(runner.names.length >= 50, `${runner.names.length} tests`);
    assert.ok(runner.names.every((n) => n.startsWith("x: ")));
    assert.equal(new Set(runner.names).size, runner.names.length, "unique");
  });

  it("policySuite catches a refill policy with no fallback (the bgmac stuck state)", async () => {
    const onlyMaxOrder: RefillPolicy = {
      name: "max-only",
      plan: (_size, _min, max) => [{ order: max, reserve: false }],
    };
    const tests: [string, () => unknown][] = [];
    policySuite("broken", { refill: onlyMaxOrder }, {
      runner: {
        describe: (_n, body) => body(),
        it: (n, body) => tests.push([n, body]),
      },
    });
    const failed: string[] = [];
    for (const [name, body] of tests) {
      try {
        await body();
      } catch {
        failed.push(name);
      }
    }
    assert.ok(
      failed.some((n) => n.startsWith("no stuck state")),
      `failed: ${failed.join("; ")}`,
    );
  });

  it("policySuite catches an alignment policy that answers a non-power of two", async () => {
    const tests: [string, () => unknown][] = [];
    policySuite("broken", {
      align: { name: "odd", align: 1, alignFor: (size) => size > 100 ? 3 : 1 },
    }, {
      runner: {
        describe: (_n, body) => body(),
        it: (n, body) => tests.push([n, body]),
      },
    });
    const first = tests.find(([n]) => n.startsWith("alignments"))!;
    await assert.rejects(async () => await first[1]());
  });
});
