// A CommonJS user: `require("pagefrag")` loads the same ESM build as
// `import` (require(esm): Node >= 20.19 / 22.12, Bun; the package's exports
// have a `default` condition for it). Run by the install test as
// `node require.cjs` and `bun require.cjs`.
const assert = require("node:assert/strict");
const pagefrag = require("pagefrag");
const { HeapBackend } = require("pagefrag/backends/heap");
const { SharedBackend } = require("pagefrag/backends/shared");
const { contractSuite } = require("pagefrag/testing");

const cache = pagefrag.createPageFragCache({ backend: new HeapBackend() });
const frag = cache.alloc(100);
assert.ok(frag instanceof Uint8Array && frag.length === 100, "a fragment");
cache.free(frag);
assert.equal(typeof cache[Symbol.dispose], "function", "disposable");
cache[Symbol.dispose]();
assert.ok(cache.isDestroyed(), "disposed = destroyed");
assert.equal(typeof SharedBackend, "function", "subpath entries load");
assert.equal(typeof contractSuite, "function", "the testing entry loads");
// One module instance for import and require: the classes are the same.
import("pagefrag").then((esm) => {
  assert.equal(
    esm.HeapBackend,
    HeapBackend,
    "import and require share the build",
  );
  const where = process.versions.bun
    ? "bun " + process.versions.bun
    : "node " + process.versions.node;
  console.log(`require("pagefrag") ok on ${where}`);
});
