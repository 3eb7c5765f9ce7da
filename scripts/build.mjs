#!/usr/bin/env node
// Build the npm package: compile every entry point of deno.json "exports"
// (and whatever they import) to ESM JavaScript + declarations in dist/ with
// tsc, using the settings of tsconfig.build.json.
//
//   npm run build        (also run by `npm pack` / `npm publish` as prepack)
//
// The sources import each other with ".ts" extensions (Deno's way); tsc's
// rewriteRelativeImportExtensions turns them into ".js" in the JavaScript it
// emits, but leaves them as ".ts" in the declaration files (TypeScript
// accepts that, other tools do not: microsoft/TypeScript#61037), so the
// declarations are rewritten here too. The build fails if any emitted file
// still names a relative ".ts" module.
//
// Declarations that name `Symbol.dispose` (the `using` support) get a
// `/// <reference lib="esnext.disposable" />`: `Symbol.dispose` is not in
// lib es2024, so a consumer with `lib: ["es2024"]` and no @types/node would
// otherwise see TS2550 in our .d.ts. The reference adds only the disposable
// declarations (TypeScript >= 5.2 has them). Only the npm build does this:
// JSR bans lib references, and Deno's libs have Symbol.dispose anyway.
import { spawnSync } from "node:child_process";
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { denoEntries } from "./exports.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
const started = Date.now();

rmSync(dist, { recursive: true, force: true });

// A throw-away project file: tsconfig.build.json's options, the entry points as
// the only roots, emit into dist/.
const cacheDir = join(root, "node_modules", ".cache", "pagefrag-build");
mkdirSync(cacheDir, { recursive: true });
const project = join(cacheDir, "tsconfig.json");
writeFileSync(
  project,
  JSON.stringify(
    {
      extends: join(root, "tsconfig.build.json"),
      compilerOptions: {
        noEmit: false,
        declaration: true,
        outDir: dist,
        rootDir: root,
        tsBuildInfoFile: null,
      },
      include: [],
      files: denoEntries().map(([, file]) => join(root, file)),
    },
    null,
    2,
  ),
);

const tscBin = join(root, "node_modules", "typescript", "bin", "tsc");
const tsc = spawnSync(process.execPath, [tscBin, "-p", project], {
  cwd: root,
  stdio: "inherit",
});
if (tsc.status !== 0) {
  console.error(`build: tsc failed (exit ${tsc.status})`);
  process.exit(1);
}

// Rewrite relative ".ts" specifiers in the declarations, then make sure no
// emitted file names a ".ts" module any more.
const relTs = /((?:from|import)\s*\(?\s*["'])(\.{1,2}\/[^"']*?)\.ts(["'])/g;
const disposableRef = '/// <reference lib="esnext.disposable" />\n';
let files = 0;
let rewritten = 0;
let referenced = 0;
const bad = [];
(function walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      walk(path);
      continue;
    }
    if (!/\.(d\.ts|js)$/.test(entry.name)) continue;
    files++;
    let text = readFileSync(path, "utf8");
    if (entry.name.endsWith(".d.ts")) {
      let next = text.replace(relTs, (_m, a, spec, b) => {
        rewritten++;
        return `${a}${spec}.js${b}`;
      });
      if (next.includes("[Symbol.dispose]")) {
        next = disposableRef + next;
        referenced++;
      }
      if (next !== text) writeFileSync(path, text = next);
    }
    // Only code lines: the module docs quote ".ts" paths in prose.
    const code = text.split("\n").filter((l) => !/^\s*(\*|\/\/|\/\*)/.test(l));
    if (code.some((l) => new RegExp(relTs.source).test(l))) bad.push(path);
  }
})(dist);
if (bad.length > 0) {
  console.error("build: relative .ts imports left in:\n  " + bad.join("\n  "));
  process.exit(1);
}
console.log(
  `build: dist/ has ${files} files (${rewritten} declaration imports rewritten to .js, ${referenced} with the esnext.disposable lib) in ${
    Date.now() - started
  } ms`,
);
