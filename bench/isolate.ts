/**
 * One private copy of the library per backend, for the suite.
 *
 * JavaScript engines compile a function once for every caller: run the heap,
 * shared and wasm backends through the same `PageFragCache` methods and the
 * engine compiles them for all three (polymorphic property loads and calls),
 * which no program that uses one backend pays. Measured on this machine,
 * that roughly doubles `allocHandle`+`free` (Deno 10 -> 20 ns, Bun 8 -> 24
 * ns). So the suite loads the library once per backend from a copy of its
 * sources in a temporary directory (`mod.ts`, `core/`, `backends/`,
 * `policies/`, `net/`, and `bench/bodies.ts`, the loops that call it): each
 * copy is a separate module graph with its own classes and its own compiled
 * code. Both flavours of a backend share a copy, as in a program that uses
 * both. The copies find the project's dependencies through a `node_modules`
 * link (Node, Bun) and the project's import map (Deno, which takes it from
 * `deno.json` for every module it loads), and are removed at exit.
 *
 * `oneCopy` (the suite's `--one-copy`) loads the project's own modules
 * instead, for every backend: the numbers a program that mixes backends gets.
 *
 * @module
 */
import {
  cpSync,
  mkdtempSync,
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
/** The suite's hot loops (`bench/bodies.ts`). */
export type Bodies = typeof import("./bodies.ts");

/** A loaded copy: the library and the loops that call it. */
export interface Copy {
  lib: Library;
  bodies: Bodies;
  /** Whether this is a private copy (false: the project's own modules). */
  isolated: boolean;
}

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const PARTS = ["mod.ts", "core", "backends", "policies", "net"];

let dir: string | undefined;

function tempDir(): string {
  if (dir !== undefined) return dir;
  const d = mkdtempSync(join(tmpdir(), "pagefrag-bench-"));
  dir = d;
  process.on("exit", () => rmSync(d, { recursive: true, force: true }));
  symlinkSync(join(ROOT, "node_modules"), join(d, "node_modules"), "dir");
  writeFileSync(join(d, "package.json"), '{ "type": "module" }\n');
  return d;
}

/**
 * A copy of the library and `bench/bodies.ts` for each name in `names`, or
 * the project's own modules for all when `oneCopy` is true (or copying
 * fails: a read-only temporary directory, no symlinks).
 */
export async function loadCopies<K extends string>(
  names: readonly K[],
  oneCopy: boolean,
): Promise<Record<K, Copy>> {
  const out = {} as Record<K, Copy>;
  if (!oneCopy) {
    try {
      for (const name of names) {
        const d = join(tempDir(), name);
        for (const part of PARTS) {
          cpSync(join(ROOT, part), join(d, part), { recursive: true });
        }
        cpSync(join(ROOT, "bench", "bodies.ts"), join(d, "bench", "bodies.ts"));
        out[name] = {
          lib: await import(pathToFileURL(join(d, "mod.ts")).href),
          bodies: await import(
            pathToFileURL(join(d, "bench", "bodies.ts")).href
          ),
          isolated: true,
        };
      }
      return out;
    } catch (err) {
      console.log(
        `note: could not load private copies of the library (${err}); measuring every backend through one copy`,
      );
    }
  }
  const lib = await import("../mod.ts");
  const bodies = await import("./bodies.ts");
  for (const name of names) out[name] = { lib, bodies, isolated: false };
  return out;
}
