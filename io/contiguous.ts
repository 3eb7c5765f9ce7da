/**
 * The allocation options that make `prepare`/`probe` start exactly at the
 * cache's next byte, as the receiver and the writer need (the bytes after
 * a commit are the next frame's or record's).
 *
 * @module
 */
import type { PageFragCache } from "../core/cache.ts";

const ALIGN1 = { align: 1 };

/**
 * `undefined` when the cache's alignment is already 1 (the cheapest call),
 * else `{ align: 1 }`: an alignment policy would round the next start up
 * and skip bytes already read or written.
 *
 * @example
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { contiguous } from "./contiguous.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(contiguous(createPageFragCache()), undefined);
 * assert.deepEqual(contiguous(createPageFragCache({ align: 64 })), { align: 1 });
 * ```
 */
export function contiguous(
  cache: PageFragCache,
): { align: number } | undefined {
  const a = cache.alignment;
  return a.align === 1 && typeof a.alignFor !== "function" ? undefined : ALIGN1;
}
