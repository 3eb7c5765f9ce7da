/// <reference lib="dom" />
// The contract suites in a browser page (bundled by scripts/browser_test.mjs
// with esbuild, from `pagefrag/testing/portable`: no node: module). Heap everywhere; shared and wasm when the page is
// cross-origin isolated, and otherwise a check that they refuse with
// EUNSUPPORTED naming COOP/COEP. Results go to the static server
// (POST /report), which ends the run.
import {
  HeapBackend,
  kernelPfmemalloc,
  kernelRefill,
  noAlignment,
  PageFragError,
  SharedBackend,
  WasmBackend,
} from "../../mod.ts";
import {
  contractSuite,
  policySuite,
  type TestRunner,
} from "../../testing/portable.ts";

type Test = { name: string; body: () => unknown };
const tests: Test[] = [];
const prefix: string[] = [];
const runner: TestRunner = {
  describe(name: string, body: () => void) {
    prefix.push(name);
    try {
      body();
    } finally {
      prefix.pop();
    }
  },
  it(name: string, body: () => unknown) {
    tests.push({ name: [...prefix, name].join(" > "), body });
  },
};

const isolated = globalThis.crossOriginIsolated === true;
contractSuite("heap", (o?: object) => new HeapBackend(o), { runner });
policySuite("kernel policies", {
  refill: kernelRefill,
  align: noAlignment,
  pfmemalloc: kernelPfmemalloc,
}, { runner });
if (isolated) {
  contractSuite("shared", (o?: object) => new SharedBackend(o), { runner });
  contractSuite("wasm", (o?: object) => new WasmBackend(o), { runner });
} else {
  for (
    const [name, make] of [
      ["shared", () => new SharedBackend()],
      ["wasm", () => new WasmBackend()],
    ] as const
  ) {
    runner.it(
      `${name} backend without isolation: EUNSUPPORTED naming COOP/COEP`,
      () => {
        try {
          make();
        } catch (e) {
          if (!(e instanceof PageFragError) || e.code !== "EUNSUPPORTED") {
            throw e;
          }
          if (!/Cross-Origin-Opener-Policy/.test(e.message)) {
            throw new Error(`no COOP in: ${e.message}`);
          }
          if (!/Cross-Origin-Embedder-Policy/.test(e.message)) {
            throw new Error(`no COEP in: ${e.message}`);
          }
          return;
        }
        throw new Error(
          `${name} backend constructed without SharedArrayBuffer`,
        );
      },
    );
  }
}

const skipped: string[] = [];
const failures: { name: string; error: string }[] = [];
const started = performance.now();
for (const t of tests) {
  try {
    await t.body();
  } catch (e) {
    failures.push({
      name: t.name,
      error: e instanceof Error ? `${e.stack ?? e}` : String(e),
    });
  }
}
const report = {
  isolated,
  sharedArrayBuffer: typeof SharedArrayBuffer === "function",
  userAgent: navigator.userAgent,
  total: tests.length - skipped.length,
  passed: tests.length - skipped.length - failures.length,
  skipped,
  failures,
  ms: Math.round(performance.now() - started),
};
document.body.textContent = JSON.stringify(report, null, 2);
await fetch("/report", { method: "POST", body: JSON.stringify(report) });
