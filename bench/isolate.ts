/**
 * One private copy of the library per backend, for the suite.
 *
 * An engine compiles a method once for every class that reaches it: run the
 * heap, shared and wasm backends through the same `PageFragCache` methods
 * and they run polymorphic loads and calls that no program using one backend
 * pays (measured: `allocHandle`+`free` about doubles). So the suite loads
 * the library once per backend from a copy of its sources in a temporary
 * directory (the folders `deno.json` publishes): each copy is a separate
 * module graph with its own classes and its own compiled code. The copies
 * find the dependencies through a `node_modules` link (Node, Bun) and the
 * project's import map (Deno), and are removed at exit. `oneCopy` (the
 * suite's `--one-copy`) loads the project's own modules for every backend
 * instead: what a program that mixes backends gets.
 *
 * @module
 */
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";

/** The library's public module. */
export type Library = typeof import("../mod.ts");

const ROOT = fileURLToPath(new URL("../", import.meta.url));

/** What `deno.json` publishes (the library's sources), minus the docs. */
function parts(): string[] {
  const deno = JSON.parse(readFileSync(join(ROOT, "deno.json"), "utf8")) as {
    publish: { include: string[] };
  };
  return deno.publish.include
    .map((p) => p.replace(/\/$/, ""))
    .filter((p) => !/\.md$|LICENSE/.test(p) && existsSync(join(ROOT, p)));
}

/**
 * A copy of the library for each name in `names`, or the project's own
 * modules for all when `oneCopy` is true (or copying fails).
 */
export async function loadCopies<K extends string>(
  names: readonly K[],
  oneCopy: boolean,
): Promise<Record<K, Library>> {
  const out = {} as Record<K, Library>;
  if (!oneCopy) {
    try {
      const dir = mkdtempSync(join(tmpdir(), "pagefrag-bench-"));
      process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
      symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");
      writeFileSync(join(dir, "package.json"), '{ "type": "module" }\n');
      for (const name of names) {
        for (const part of parts()) {
          cpSync(join(ROOT, part), join(dir, name, part), { recursive: true });
        }
        out[name] = await import(pathToFileURL(join(dir, name, "mod.ts")).href);
      }
      return out;
    } catch (err) {
      console.log(
        `note: no private copies of the library (${err}); every backend runs through one copy`,
      );
    }
  }
  const lib = await import("../mod.ts");
  for (const name of names) out[name] = lib;
  return out;
}
