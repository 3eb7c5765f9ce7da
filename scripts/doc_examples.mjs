#!/usr/bin/env node
// Every export of every entry point (deno.json "exports") carries an
// `@example`, and so does every public method of an exported class; the
// examples themselves run as doc tests (`deno test --doc`). `deno doc
// --lint` checks that each export has documentation, not that it has an
// example: this script does, from `deno doc --json`.
//
//   node scripts/doc_examples.mjs
import { spawnSync } from "node:child_process";
import { denoEntries } from "./exports.mjs";

// Exports that still lack an example in code this script's owner may not
// edit. Each is printed as a warning; remove it here once its example lands.
const PENDING = new Set([]);

const files = denoEntries().map(([, file]) => file);
const run = spawnSync("deno", ["doc", "--json", ...files], {
  encoding: "utf8",
  maxBuffer: 256 << 20,
});
if (run.status !== 0) {
  console.error(run.stderr);
  process.exit(1);
}
const doc = JSON.parse(run.stdout);
const hasExample = (jsDoc) =>
  (jsDoc?.tags ?? []).some((t) => t.kind === "example");

const missing = [];
const pending = [];
const seen = new Set();
let checked = 0;
for (const [module, { symbols }] of Object.entries(doc.nodes)) {
  for (const symbol of symbols) {
    for (const decl of symbol.declarations) {
      // A re-export ("reference") is checked where it is declared.
      if (decl.kind === "reference") continue;
      const where = `${decl.location.filename}:${decl.location.line}`;
      if (seen.has(where)) continue;
      seen.add(where);
      checked++;
      const name = symbol.name;
      if (!hasExample(decl.jsDoc)) {
        (PENDING.has(name) ? pending : missing).push(`${name} (${where})`);
      }
      if (decl.kind !== "class") continue;
      for (const m of decl.def.methods ?? []) {
        if (m.accessibility === "private" || m.accessibility === "protected") {
          continue;
        }
        checked++;
        if (!hasExample(m.jsDoc)) {
          const label = `${name}.${m.isStatic ? "" : "prototype."}${m.name}`;
          (PENDING.has(label) ? pending : missing).push(`${label} (${where})`);
        }
      }
    }
  }
  void module;
}
for (const p of pending) {
  console.warn(`warning: no @example yet (pending): ${p}`);
}
if (missing.length > 0) {
  console.error(`exports without an @example (${missing.length}):`);
  for (const m of missing) console.error("  - " + m);
  process.exit(1);
}
console.log(
  `doc examples: ${
    checked - pending.length
  } of ${checked} exported symbols and public methods have an @example`,
);
