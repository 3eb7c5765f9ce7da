#!/usr/bin/env node
// The export list of pagefrag has one source of truth: the "exports" map of
// deno.json (what JSR publishes). Everything else is derived from it:
//
// - package.json "exports": per entry a `types` and a `default` condition,
//   pointing at the compiled ESM in dist/. `default` (not `import`) so that
//   `require("pagefrag")` loads the same ESM build where require(esm) works
//   (Node >= 20.19 / 22.12, Bun), and bundlers that ask for neither still
//   resolve; one build, so `import` and `require` share one module instance.
//   The one `types` serves both (TypeScript >= 5.8 resolves a require of an
//   ESM package under module nodenext).
// - package.json "main" and "types" (for tools that ignore "exports"),
// - package.json "sideEffects": the compiled files of modules that import a
//   module only for its effect (`import "reflect-metadata"` in di/mod.ts), so
//   bundlers may drop every other unused module but keep the polyfill,
// - the files scripts/build.mjs hands to tsc,
// - the entry points `deno doc --lint` and the install test look at.
//
//   node scripts/exports.mjs            check that package.json and deno.json agree (exit 1 if not)
//   node scripts/exports.mjs --write    rewrite package.json's derived fields from deno.json
//   node scripts/exports.mjs --dist     also check that dist/ holds every entry (after a build)
//   node scripts/exports.mjs --entries  print the source file of every entry, one per line
//   node scripts/exports.mjs --json     print { subpath: source file } as JSON
//
// Besides the export map, the check compares name, version, license and
// description, and that every runtime dependency in package.json is mapped in
// deno.json "imports" to the same npm range.
import {
  existsSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const readJson = (f) => JSON.parse(readFileSync(join(root, f), "utf8"));

/** The entries of deno.json "exports", as [subpath, "./file.ts"] pairs. */
export function denoEntries(deno = readJson("deno.json")) {
  const exp = typeof deno.exports === "string"
    ? { ".": deno.exports }
    : deno.exports;
  if (exp === null || typeof exp !== "object" || !exp["."]) {
    throw new Error(
      'deno.json: "exports" must map "." (and subpaths) to files',
    );
  }
  return Object.entries(exp).map(([sub, file]) => {
    if (!/^\.(\/[a-z0-9_\-/]+)?$/.test(sub)) {
      throw new Error(`deno.json: bad export subpath ${JSON.stringify(sub)}`);
    }
    if (!/^\.\/[a-z0-9_\-/]+\.ts$/.test(file) || file.endsWith("_test.ts")) {
      throw new Error(
        `deno.json: export ${sub} must name a .ts source file, got ${file}`,
      );
    }
    return [sub, file];
  });
}

/** "./backends/heap.ts" -> "./dist/backends/heap" */
const distBase = (file) => "./dist/" + file.slice(2, -3);

/** The package.json fields derived from deno.json. */
export function derivedPackageFields(deno = readJson("deno.json")) {
  const exports = {};
  for (const [sub, file] of denoEntries(deno)) {
    exports[sub] = {
      types: distBase(file) + ".d.ts",
      default: distBase(file) + ".js",
    };
  }
  exports["./package.json"] = "./package.json";
  return {
    exports,
    main: exports["."].default,
    types: exports["."].types,
    sideEffects: sideEffectFiles(deno),
  };
}

/**
 * The published source files (deno.json "publish.include", tests excluded)
 * that import a module for its side effect alone (`import "x";`), as the
 * dist/ files bundlers see: package.json "sideEffects".
 */
export function sideEffectFiles(deno = readJson("deno.json")) {
  const out = [];
  const visit = (rel) => {
    const path = join(root, rel);
    if (!existsSync(path)) return;
    if (statSync(path).isDirectory()) {
      for (const name of readdirSync(path).sort()) {
        visit(rel.replace(/\/?$/, "/") + name);
      }
      return;
    }
    if (!rel.endsWith(".ts") || rel.endsWith("_test.ts")) return;
    const text = readFileSync(path, "utf8");
    if (/^\s*import\s+["'][^"']+["']\s*;?\s*$/m.test(text)) {
      out.push("./dist/" + rel.slice(0, -3) + ".js");
    }
  };
  for (const p of deno.publish?.include ?? []) visit(p.replace(/\/$/, ""));
  return out;
}

function problems({ dist }) {
  const deno = readJson("deno.json");
  const pkg = readJson("package.json");
  const out = [];
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
  const want = derivedPackageFields(deno);
  for (const [key, value] of Object.entries(want)) {
    if (!same(pkg[key], value)) {
      out.push(
        `package.json "${key}" is ${JSON.stringify(pkg[key])}, deno.json says ${
          JSON.stringify(value)
        }`,
      );
    }
  }
  if (pkg.name !== "pagefrag") {
    out.push(`package.json name is ${pkg.name}, expected pagefrag`);
  }
  if (deno.name !== "@pagefrag/pagefrag") {
    out.push(`deno.json name is ${deno.name}, expected @pagefrag/pagefrag`);
  }
  for (const key of ["version", "license"]) {
    if (pkg[key] !== deno[key]) {
      out.push(
        `${key}: package.json has ${pkg[key]}, deno.json has ${deno[key]}`,
      );
    }
  }
  if (pkg.type !== "module") out.push('package.json "type" must be "module"');
  // Runtime dependencies: same npm range on both sides.
  for (const [dep, range] of Object.entries(pkg.dependencies ?? {})) {
    const mapped = deno.imports?.[dep];
    if (mapped !== `npm:${dep}@${range}`) {
      out.push(
        `dependency ${dep}@${range}: deno.json "imports" maps it to ${mapped}, expected npm:${dep}@${range}`,
      );
    }
  }
  // Every entry exists, is published to JSR, and (after a build) compiled.
  const include = deno.publish?.include ?? [];
  for (const [sub, file] of denoEntries(deno)) {
    if (!existsSync(join(root, file))) {
      out.push(`export ${sub}: ${file} does not exist`);
    }
    const rel = file.slice(2);
    if (
      !include.some((p) => rel === p || (p.endsWith("/") && rel.startsWith(p)))
    ) {
      out.push(`export ${sub}: ${file} is not in deno.json "publish.include"`);
    }
    if (dist) {
      for (const f of Object.values(want.exports[sub])) {
        if (!existsSync(join(root, f))) {
          out.push(`export ${sub}: ${f} is missing (run npm run build)`);
        }
      }
    }
  }
  return out;
}

const args = process.argv.slice(2);
if (
  process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href
) {
  if (args.includes("--entries")) {
    for (const [, file] of denoEntries()) console.log(file);
  } else if (args.includes("--json")) {
    console.log(JSON.stringify(Object.fromEntries(denoEntries()), null, 2));
  } else if (args.includes("--write")) {
    const pkg = readJson("package.json");
    Object.assign(pkg, derivedPackageFields());
    writeFileSync(
      join(root, "package.json"),
      JSON.stringify(pkg, null, 2) + "\n",
    );
    console.log(
      "package.json: exports, main, types and sideEffects rewritten from deno.json",
    );
  } else {
    const found = problems({ dist: args.includes("--dist") });
    if (found.length > 0) {
      console.error("deno.json and package.json disagree:");
      for (const p of found) console.error("  - " + p);
      console.error(
        'deno.json "exports" is the source of truth: `node scripts/exports.mjs --write` ' +
          "rewrites package.json's exports, main, types and sideEffects; fix the rest by hand.",
      );
      process.exit(1);
    }
    const n = denoEntries().length;
    console.log(
      `exports agree: ${n} entry points (deno.json = package.json${
        args.includes("--dist") ? " = dist/" : ""
      })`,
    );
  }
}
