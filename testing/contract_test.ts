import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import {
  cacheLineAlignment,
  createPageFragCache,
  denyPfmemalloc,
  fixedAlignment,
  HeapBackend,
  kernelPfmemalloc,
  kernelRefill,
  noAlignment,
  order0Refill,
  type RefillPolicy,
} from "../mod.ts";
import {
  contractSuite,
  policySuite,
  prng,
  type TestRunner,
  throwsCode,
} from "./mod.ts";
import * as portable from "./portable.ts";

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
    const same = collector();
    portable.contractSuite("x", (o) => new HeapBackend(o), { runner: same });
    assert.deepEqual(same.names, runner.names, "both entries, one suite");
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

/** Every module `entry` imports, transitively (static imports and re-exports). */
function importGraph(entry: URL): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const todo = [entry];
  while (todo.length > 0) {
    const url = todo.pop()!;
    if (graph.has(url.href)) continue;
    // Strip comments first: doc examples import node:assert in prose.
    const code = readFileSync(url, "utf8")
      .replace(/\/\*[\s\S]*?\*\//g, "")
      .replace(/^\s*\/\/.*$/gm, "");
    const specs = [
      ...code.matchAll(/(?:^|\n)\s*(?:import|export)[^"';]*?from\s*"([^"]+)"/g),
    ]
      .concat([...code.matchAll(/(?:^|\n)\s*import\s*"([^"]+)"/g)])
      .map((m) => m[1]);
    graph.set(url.href, specs);
    for (const spec of specs) {
      if (spec.startsWith(".")) todo.push(new URL(spec, url));
    }
  }
  return graph;
}

// The portable suites pass as they are, checking with their built-in assert
// (registered with node:test here; in a page, with any runner).
portable.contractSuite("portable, heap", (o) => new HeapBackend(o), {
  runner: { describe, it },
});
portable.policySuite("portable, order0", { refill: order0Refill }, {
  runner: { describe, it },
});

describe("testing/portable: the suites without node:", () => {
  it("imports no node: module and no package, transitively", () => {
    const graph = importGraph(new URL("./portable.ts", import.meta.url));
    assert.ok(
      graph.size > 10,
      `only ${graph.size} modules: the walk is broken`,
    );
    const outside = [...graph].flatMap(([file, specs]) =>
      specs.filter((s) => !s.startsWith(".")).map((s) => `${file}: ${s}`)
    );
    assert.deepEqual(outside, [], "non-relative imports");
    // The walker does see a node: import where there is one.
    const node = importGraph(new URL("./mod.ts", import.meta.url));
    assert.ok(
      node.get(new URL("./mod.ts", import.meta.url).href)!.includes(
        "node:test",
      ),
    );
  });

  it("the built-in assert fails where node:assert/strict does", () => {
    const a: portable.Assert = portable.assert;
    a.ok(1);
    a.equal(NaN, NaN);
    a.deepEqual({ x: [1, { y: 2 }] }, { x: [1, { y: 2 }] });
    a.deepEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2));
    const fails: [string, () => void][] = [
      ["ok(0)", () => a.ok(0)],
      ["equal(1, '1')", () => a.equal(1, "1")],
      ["equal(0, -0)", () => a.equal(0, -0)],
      ["notEqual(2, 2)", () => a.notEqual(2, 2)],
      ["deepEqual extra key", () => a.deepEqual({ x: 1 }, { x: 1, y: 2 })],
      ["deepEqual nested", () => a.deepEqual({ x: [1, 2] }, { x: [1, 3] })],
      ["deepEqual array vs object", () => a.deepEqual([1], { 0: 1 })],
      [
        "deepEqual bytes",
        () => a.deepEqual(Uint8Array.of(1), Uint8Array.of(2)),
      ],
    ];
    for (const [label, call] of fails) {
      assert.throws(call, portable.AssertionFailure, label);
      assert.throws(call, (e: Error) => e.name === "AssertionError", label);
    }
  });

  it("throwsCode fails on no error, another error and another code", () => {
    for (const check of [throwsCode, portable.throwsCode]) {
      check(() => createPageFragCache().alloc(0), "EINVAL_SIZE");
      assert.throws(() => check(() => 1, "EINVAL_SIZE"), /nothing was thrown/);
      assert.throws(() =>
        check(() => {
          throw new TypeError("x");
        }, "EINVAL_SIZE")
      );
      assert.throws(
        () => check(() => createPageFragCache().alloc(0), "EFOREIGN"),
      );
    }
  });

  it("with no runner and no global describe/it: EINVAL_OPTION", () => {
    const g = globalThis as { describe?: unknown };
    if (typeof g.describe === "function") return; // bun: globals exist
    throwsCode(
      () => portable.contractSuite("none", (o) => new HeapBackend(o)),
      "EINVAL_OPTION",
    );
    throwsCode(
      () => contractSuite("bad", (o) => new HeapBackend(o), 5 as never),
      "EINVAL_OPTION",
    );
  });
});

/** mulberry32's first outputs from seed 0, and from seed 1 (from the C original). */
const REFERENCE_0 = [1144304738, 1416247, 958946056];
const REFERENCE_1 = 2693262067;

describe("prng", () => {
  it("is mulberry32: the C original's first outputs for seeds 0 and 1", () => {
    const r0 = prng(0);
    assert.deepEqual([r0.u32(), r0.u32(), r0.u32()], REFERENCE_0);
    assert.equal(prng(1)(), REFERENCE_1 / 2 ** 32);
  });

  it("helpers stay in range, cover it, and one seed fixes the stream", () => {
    const rand = prng(99);
    const seen = new Set<number>();
    for (let i = 0; i < 10000; i++) {
      const x = rand.range(3, 9);
      assert.ok(Number.isInteger(x) && x >= 3 && x <= 9, `range gave ${x}`);
      seen.add(x);
      const f = rand.float();
      assert.ok(f >= 0 && f < 1, `float gave ${f}`);
      assert.ok(rand.int(5) < 5);
    }
    assert.equal(seen.size, 7, "every value of [3, 9] comes up");
    const a = prng(5), b = prng(5);
    const draw = (
      r: typeof a,
    ) => [r(), r.int(100), r.pick(["x", "y", "z"]), r.bool(0.3), r.u32()];
    assert.deepEqual(draw(a), draw(b));
    assert.notDeepEqual(
      draw(prng(5)),
      draw(prng(6)),
      "another seed, another stream",
    );
    assert.equal(prng(-1).seed, 2 ** 32 - 1, "seeds are taken modulo 2^32");
  });
});
