import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import {
  createNapiCache,
  createNetdevCache,
  createPageFragCache,
  PageFragCache,
  pageFragFree,
} from "../mod.ts";
import { instrumentationOf, LeakDetector } from "../debug/mod.ts";
import {
  findGc,
  leakScenario,
  type LeakScenarioResult,
} from "./leak_scenario.ts";
import { throwsCode } from "./contract.ts";

describe("leak detector: tracking", () => {
  it('off by default and at "off": plain cache, no detector', () => {
    for (
      const cache of [
        createPageFragCache(),
        createPageFragCache({ leakDetection: "off" }),
      ]
    ) {
      assert.equal(instrumentationOf(cache), undefined);
      assert.equal(Object.getPrototypeOf(cache), PageFragCache.prototype);
    }
  });

  it('"all" tracks every view alloc() hands out; every kind of free and abort untracks it', () => {
    const cache = createPageFragCache({ leakDetection: "all" });
    const leaks = instrumentationOf(cache)!.leaks!;
    assert.equal(leaks.level, "all");
    assert.equal(instrumentationOf(cache)!.sanitizer, undefined);
    cache.allocHandle(64); // addresses are never tracked
    const views = [1, 2, 3, 4, 5].map(() => cache.alloc(64)!);
    assert.equal(leaks.stats().tracked, 5);
    cache.free(views[0]);
    cache.free(cache.backend.addressOf(views[1]));
    pageFragFree(views[2]);
    cache.backend.free(cache.backend.addressOf(views[3]));
    cache.abort(views[4]);
    assert.deepEqual(leaks.stats(), {
      tracked: 0,
      registered: 5,
      leaks: 0,
      leakedBytes: 0,
    });
  });

  it('"sampled" tracks one view in sampleInterval (default 128, as Netty)', () => {
    const cache = createPageFragCache({ leakDetection: "sampled" });
    const leaks = instrumentationOf(cache)!.leaks!;
    assert.equal(leaks.sampleInterval, 128);
    for (let i = 0; i < 1280; i++) cache.free(cache.alloc(8)!);
    assert.equal(leaks.stats().registered, 10);
    const four = createPageFragCache({
      leakDetection: { level: "sampled", sampleInterval: 4 },
    });
    for (let i = 0; i < 40; i++) four.alloc(8);
    assert.equal(instrumentationOf(four)!.leaks!.stats().registered, 10);
  });

  it("every flavour gets it", () => {
    const napi = createNapiCache({ leakDetection: "all" });
    napi.poll(() => napi.alloc(8));
    assert.equal(instrumentationOf(napi)!.leaks!.stats().tracked, 1);
    const netdev = createNetdevCache({
      leakDetection: "all",
      backend: "shared",
    });
    netdev.alloc(8);
    assert.equal(instrumentationOf(netdev)!.leaks!.stats().tracked, 1);
  });

  it("bad options are EINVAL_OPTION", () => {
    throwsCode(
      () => createPageFragCache({ leakDetection: "paranoid" as never }),
      "EINVAL_OPTION",
    );
    throwsCode(
      () => createPageFragCache({ leakDetection: { sampleInterval: 1.5 } }),
      "EINVAL_OPTION",
    );
    throwsCode(
      () => createPageFragCache({ leakDetection: { onLeak: 1 as never } }),
      "EINVAL_OPTION",
    );
    throwsCode(
      () => createPageFragCache({ leakDetection: { levels: "all" } as never }),
      "EINVAL_OPTION",
    );
    throwsCode(
      () => new LeakDetector({ level: "x" as never }),
      "EINVAL_OPTION",
    );
  });
});

/** Run the GC scenario here if this process can force a collection, else in a child started with --expose-gc. */
async function runScenario(): Promise<LeakScenarioResult & { where: string }> {
  const gc = findGc();
  if (gc !== undefined) {
    return { ...(await leakScenario(gc)), where: "in process" };
  }
  const child = fileURLToPath(
    new URL("./workers/leak_child.ts", import.meta.url),
  );
  const root = fileURLToPath(new URL("..", import.meta.url));
  const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";
  const args = isDeno
    ? ["run", "-A", "--v8-flags=--expose-gc", child]
    : ["--expose-gc", "--import", "tsx", child];
  const r = spawnSync(process.execPath, args, {
    cwd: root,
    encoding: "utf8",
    timeout: 60_000,
    env: { ...process.env, NO_COLOR: "1" },
  });
  assert.equal(
    r.status,
    0,
    `child ${process.execPath} ${args.join(" ")} failed:\n${r.stderr}`,
  );
  const line = r.stdout.trim().split("\n").pop()!;
  return {
    ...(JSON.parse(line) as LeakScenarioResult),
    where: `child: ${args.slice(0, -1).join(" ")}`,
  };
}

describe("leak detector: garbage-collected views", () => {
  it("a view collected without being freed is reported (size, address, count, site with the sanitizer); freed and live views are not", async () => {
    const r = await runScenario();
    // Exactly the ten dropped fragments (sizes 100..109), with sites.
    assert.deepEqual(r.withSites.map((l) => l.size), [
      100,
      101,
      102,
      103,
      104,
      105,
      106,
      107,
      108,
      109,
    ], r.where);
    for (const l of r.withSites) {
      assert.match(
        l.site ?? "",
        /leak_scenario/,
        "the allocation site names the allocating code",
      );
      assert.ok(l.address > 0);
    }
    assert.deepEqual(r.withSites.map((l) => l.leaks).sort((a, b) => a - b), [
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8,
      9,
      10,
    ]);
    // Without the sanitizer: the same leaks, no sites.
    assert.deepEqual(r.withoutSites.map((l) => l.size), [
      100,
      101,
      102,
      103,
      104,
      105,
      106,
      107,
      108,
      109,
    ]);
    assert.ok(r.withoutSites.every((l) => l.site === undefined));
    // The five views kept alive are still tracked, not reported.
    assert.equal(r.stillTracked, 5);
    // Sampled, one in 4: of the 56 views alloc() made, 14 were tracked; 10
    // of those were dropped unfreed (the others were freed or kept).
    assert.equal(r.sampledRegistered, 14);
    assert.equal(r.sampled, 10, `sampled leaks: ${r.sampled}`);
  });
});
