#!/usr/bin/env node
// The allocator picture: bundle examples/browser/ with esbuild and serve it
// on 127.0.0.1 with COOP/COEP (so the shared and wasm backends work).
//
//   npm run demo:browser [-- --port 8080]     then open the printed URL
//
// It stops itself after an hour (or on Ctrl-C). scripts/browser_test.mjs
// uses buildDemo() for the screenshot in docs/allocator.png.
import { copyFileSync, mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { serve } from "../test/browser/server.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Bundle the demo into `dir` (index.html, style.css, app.js). */
export async function buildDemo(dir) {
  mkdirSync(dir, { recursive: true });
  await build({
    entryPoints: [join(root, "examples/browser/app.ts")],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    outfile: join(dir, "app.js"),
    // The example imports the package by its JSR names, as a user would.
    alias: {
      "@pagefrag/pagefrag/debug": join(root, "debug/mod.ts"),
      "@pagefrag/pagefrag": join(root, "mod.ts"),
    },
    logLevel: "error",
  });
  for (const f of ["index.html", "style.css"]) {
    copyFileSync(join(root, "examples/browser", f), join(dir, f));
  }
  return dir;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf("--port");
  const port = i > 0 ? Number(process.argv[i + 1]) : 8000;
  const dir = await buildDemo(mkdtempSync(join(tmpdir(), "pagefrag-demo-")));
  const server = await serve({
    root: dir,
    isolated: true,
    port,
    timeoutMs: 3_600_000,
  });
  console.log(
    `pagefrag allocator picture: ${server.url}  (COOP/COEP on; stops in an hour, or Ctrl-C)`,
  );
  server.report.catch(() => process.exit(0));
}
