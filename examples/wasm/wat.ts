/**
 * WebAssembly text (`.wat`) to binary at run time, with wabt (the
 * WebAssembly Binary Toolkit, built for JavaScript: the `wabt` npm
 * package). The modules of this folder are written as readable `.wat`
 * files and compiled when a program or test starts, on Deno, Bun and Node
 * alike (wabt is an emscripten build with its own wasm inside: no native
 * toolchain, nothing to build beforehand).
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import wabt from "wabt";

/**
 * Limits of a memory, in 64 KiB wasm pages: the shape of a
 * `WebAssembly.MemoryDescriptor`. A shared memory must be imported as
 * shared, with a maximum; an import fits a memory whose current size is at
 * least `initial` and whose own maximum is at most `maximum`.
 */
export interface MemoryLimits {
  /** Smallest size the memory may have, in 64 KiB pages. */
  initial: number;
  /** Largest size the memory may grow to, in 64 KiB pages (required when shared). */
  maximum?: number;
  /** Whether the memory is shared between workers. */
  shared?: boolean;
}

/** How to compile a `.wat` source. */
export interface WatOptions {
  /** The name wabt's error messages give the source. */
  filename?: string;
  /**
   * Limits to give the memory import: the source's
   * `(import "env" "memory" (memory $memory ...))` is rewritten to them.
   */
  memory?: MemoryLimits;
}

type Wabt = Awaited<ReturnType<typeof wabt>>;
/** wabt's instance, made once (its emscripten start-up takes ~50-150 ms). */
let toolkit: Promise<Wabt> | undefined;

/** The post-MVP features the modules use: shared memory, memory.fill. */
const FEATURES = { threads: true, bulk_memory: true } as const;

/** The memory import every module of this folder declares. */
const MEMORY_IMPORT =
  /\(import\s+"env"\s+"memory"\s+\(memory\s+\$memory(?:\s+[^()\s]+)*\s*\)\s*\)/g;

/**
 * `source` with the limits of its memory import set to `limits`. Throws if
 * the source has not exactly one `(import "env" "memory" (memory $memory
 * ...))`.
 */
export function withMemoryLimits(source: string, limits: MemoryLimits): string {
  const { initial, maximum, shared = false } = limits;
  const pages = (n: number | undefined) =>
    n === undefined || (Number.isInteger(n) && n >= 0 && n <= 65536);
  if (!pages(initial) || !pages(maximum) || (shared && maximum === undefined)) {
    throw new RangeError(`bad memory limits ${JSON.stringify(limits)}`);
  }
  const found = source.match(MEMORY_IMPORT)?.length ?? 0;
  if (found !== 1) {
    throw new SyntaxError(
      `expected one (import "env" "memory" (memory $memory ...)), found ${found}`,
    );
  }
  const text = [initial, maximum, shared ? "shared" : undefined]
    .filter((x) => x !== undefined).join(" ");
  return source.replace(
    MEMORY_IMPORT,
    `(import "env" "memory" (memory $memory ${text}))`,
  );
}

/**
 * Compile WebAssembly text to a validated binary module, with the threads
 * (shared memory) and bulk-memory features on.
 */
export async function compileWat(
  source: string,
  options: WatOptions = {},
): Promise<Uint8Array<ArrayBuffer>> {
  const text = options.memory
    ? withMemoryLimits(source, options.memory)
    : source;
  toolkit ??= wabt();
  const parsed = (await toolkit).parseWat(
    options.filename ?? "module.wat",
    text,
    FEATURES,
  );
  try {
    parsed.resolveNames();
    // wabt's index.d.ts declares validate() without the features argument
    // its JavaScript takes; without it, shared memory is refused.
    (parsed.validate as (features: typeof FEATURES) => void).call(
      parsed,
      FEATURES,
    );
    // A copy: wabt's buffer is a view of its own heap.
    return new Uint8Array(parsed.toBinary({}).buffer);
  } finally {
    parsed.destroy();
  }
}

/** Read a `.wat` file (a URL, e.g. `new URL("./x.wat", import.meta.url)`) and compile it. */
export async function loadWat(
  url: URL,
  options: WatOptions = {},
): Promise<Uint8Array<ArrayBuffer>> {
  const source = await readFile(url, "utf8");
  return await compileWat(source, { filename: url.pathname, ...options });
}
