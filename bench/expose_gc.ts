/**
 * Give V8 runtimes (Deno, Node) a `globalThis.gc`, as `--expose-gc` would,
 * so that mitata collects garbage before each benchmark (it looks for `gc`
 * when it is first imported: import this module before mitata) and the churn
 * benchmark can start every contender from a clean heap. Bun has `Bun.gc`,
 * which mitata finds by itself.
 *
 * @module
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

const g = globalThis as { gc?: () => void; Bun?: unknown };

if (typeof g.gc !== "function" && g.Bun === undefined) {
  try {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as unknown;
    if (typeof gc === "function") g.gc = gc as () => void;
  } catch {
    // Not exposed: mitata falls back to its own allocation trick.
  }
}

/** Collect garbage now if the runtime lets us (after this module ran). */
export function collectGarbage(): void {
  const bun = g.Bun as { gc?: (sync: boolean) => void } | undefined;
  if (typeof bun?.gc === "function") bun.gc(true);
  else if (typeof g.gc === "function") g.gc();
}
