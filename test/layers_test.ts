/**
 * The architecture, checked: each room imports only from the rooms below it
 * (core/ from nothing outside core/), no import circles, no library file over
 * 800 lines, and the root entry loads no DI (no `Reflect.getMetadata`).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const LIBRARY = [
  "core",
  "policies",
  "backends",
  "flavours",
  "debug",
  "net",
  "io",
  "wiring",
  "di",
  "testing",
];
/** Which rooms each room may import from (besides itself). */
const MAY_IMPORT: Record<string, string[]> = {
  core: [],
  policies: ["core"],
  backends: ["core"],
  flavours: ["core"],
  debug: ["core"],
  net: ["core", "flavours", "wiring"],
  io: ["core", "flavours", "backends"],
  wiring: ["core", "policies", "backends", "flavours", "debug"],
  di: ["core", "wiring", "debug"],
  testing: ["core", "policies", "backends", "flavours", "wiring", "debug", "."],
  ".": LIBRARY,
};

function sources(dir: string): string[] {
  const out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(join(root, dir));
  } catch {
    return out;
  }
  for (const name of entries) {
    const path = join(dir, name);
    if (statSync(join(root, path)).isDirectory()) out.push(...sources(path));
    else if (name.endsWith(".ts") && !name.endsWith("_test.ts")) out.push(path);
  }
  return out;
}

const files = ["mod.ts", ...LIBRARY.flatMap(sources)];
const roomOf = (file: string) => file.includes("/") ? file.split("/")[0] : ".";

/** The relative .ts modules `file` imports (static imports and re-exports). */
function importsOf(file: string): string[] {
  const text = readFileSync(join(root, file), "utf8")
    // doc comments hold example imports of the package: not real imports
    .replace(/\/\*\*[\s\S]*?\*\//g, "");
  const out: string[] = [];
  for (const m of text.matchAll(/(?:from|import)\s*["'](\.[^"']+)["']/g)) {
    out.push(relative(root, resolve(dirname(join(root, file)), m[1])));
  }
  return out;
}

describe("layers", () => {
  it("every room imports only from the rooms below it", () => {
    const wrong: string[] = [];
    for (const file of files) {
      const room = roomOf(file);
      for (const target of importsOf(file)) {
        const to = roomOf(target);
        if (to !== room && !MAY_IMPORT[room].includes(to)) {
          wrong.push(`${file} -> ${target}`);
        }
      }
    }
    assert.deepEqual(wrong, [], "imports that run back up");
  });

  it("core/ imports no npm package", () => {
    for (const file of files.filter((f) => f.startsWith("core/"))) {
      const text = readFileSync(join(root, file), "utf8").replace(
        /\/\*\*[\s\S]*?\*\//g,
        "",
      );
      const bare = [...text.matchAll(/from\s*["']([^."'][^"']*)["']/g)].map(
        (m) => m[1],
      );
      assert.deepEqual(bare, [], `${file} imports packages`);
    }
  });

  it("no import circle", () => {
    const graph = new Map(files.map((f) => [f, importsOf(f)]));
    const state = new Map<string, 1 | 2>();
    const circles: string[] = [];
    const visit = (f: string, path: string[]) => {
      if (state.get(f) === 2) return;
      if (state.get(f) === 1) {
        circles.push([...path.slice(path.indexOf(f)), f].join(" -> "));
        return;
      }
      state.set(f, 1);
      for (const g of graph.get(f) ?? []) visit(g, [...path, f]);
      state.set(f, 2);
    };
    for (const f of files) visit(f, []);
    assert.deepEqual(circles, [], "import circles");
  });

  it("no library source file over 800 lines", () => {
    const long = files
      .map((
        f,
      ) => [f, readFileSync(join(root, f), "utf8").split("\n").length - 1])
      .filter(([, n]) => (n as number) > 800);
    assert.deepEqual(long, [], "files over 800 lines");
  });

  it("the root entry loads no DI and defines no Reflect metadata", () => {
    const script = join(root, "test", "fixtures", "root_import.ts");
    const argv = "Deno" in globalThis
      ? ["run", "-A", script]
      : "Bun" in globalThis
      ? [script]
      : ["--import", "tsx", script];
    const run = spawnSync(process.execPath, argv, {
      cwd: root,
      encoding: "utf8",
    });
    assert.equal(run.status, 0, run.stderr);
    const out = JSON.parse(run.stdout.trim().split("\n").pop()!);
    assert.equal(
      out.getMetadata,
      "undefined",
      "Reflect.getMetadata is not defined",
    );
    assert.equal(out.defineMetadata, "undefined");
    assert.ok(
      out.values <= 45,
      `the root entry exports ${out.values} values (at most 45)`,
    );
  });
});
