/**
 * A list of fragments: the pieces of a record `FragWriter` finished, or
 * the skb frag list of a stream of records appended with `finishInto`.
 *
 * @module
 */
import type { PageFragCache } from "../core/cache.ts";

/**
 * The fragments of a record (or of several records appended with
 * `finishInto`): `count` pieces, each `(addrs[i], sizes[i])`. A piece that
 * began exactly where the previous one ended on the same page was merged
 * into it (`commitNoref`), so it is freed once.
 *
 * @example
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { FragList, FragWriter } from "@pagefrag/pagefrag/io";
 * import assert from "node:assert/strict";
 *
 * const cache = createPageFragCache();
 * const w = new FragWriter(cache);
 * const list = new FragList(cache);
 * w.u32(1);
 * w.finishInto(list);
 * w.u32(2);
 * w.finishInto(list);
 * assert.equal(list.count, 1, "the second record extended the first fragment");
 * assert.equal(list.sizes[0], 8);
 * list.free();
 * ```
 */
export class FragList {
  /** The cache the fragments belong to. */
  readonly cache: PageFragCache;
  /** Fragment addresses (the first `count` are valid; the rest are stale). */
  readonly addrs: number[] = [];
  /** Fragment sizes. */
  readonly sizes: number[] = [];
  /** Number of fragments. */
  count = 0;

  /**
   * An empty list of `cache`'s fragments.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { FragList } from "@pagefrag/pagefrag/io";
   *
   * if (new FragList(createPageFragCache()).count !== 0) throw new Error();
   * ```
   */
  constructor(cache: PageFragCache) {
    this.cache = cache;
  }

  /**
   * Bytes in all fragments.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { FragList } from "@pagefrag/pagefrag/io";
   *
   * if (new FragList(createPageFragCache()).bytes !== 0) throw new Error();
   * ```
   */
  get bytes(): number {
    let n = 0;
    for (let i = 0; i < this.count; i++) n += this.sizes[i];
    return n;
  }

  /**
   * Views over each fragment, in order (for `writev`-style sinks).
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { FragList, FragWriter } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const cache = createPageFragCache();
   * const w = new FragWriter(cache);
   * w.u8(7);
   * const list = w.finishList()!;
   * assert.deepEqual(list.views().map((v) => [...v]), [[7]]);
   * list.free();
   * ```
   */
  views(): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let i = 0; i < this.count; i++) {
      out.push(this.cache.backend.view(this.addrs[i], this.sizes[i]));
    }
    return out;
  }

  /**
   * The bytes of all fragments in one new array (for tests and slow paths).
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { FragWriter } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const w = new FragWriter(createPageFragCache());
   * w.u16(0x0102);
   * const list = w.finishList()!;
   * assert.deepEqual([...list.toBytes()], [1, 2]);
   * list.free();
   * ```
   */
  toBytes(): Uint8Array {
    const out = new Uint8Array(this.bytes);
    let at = 0;
    for (let i = 0; i < this.count; i++) {
      out.set(this.cache.backend.view(this.addrs[i], this.sizes[i]), at);
      at += this.sizes[i];
    }
    return out;
  }

  /**
   * Free every fragment and empty the list.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { FragList } from "@pagefrag/pagefrag/io";
   *
   * new FragList(createPageFragCache()).free();
   * ```
   */
  free(): void {
    for (let i = 0; i < this.count; i++) this.cache.free(this.addrs[i]);
    this.clear();
  }

  /**
   * Forget the fragments without freeing them (they were handed on).
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { FragList } from "@pagefrag/pagefrag/io";
   *
   * new FragList(createPageFragCache()).clear();
   * ```
   */
  clear(): void {
    // Keep the arrays' capacity: a writer clears its list once per record.
    this.count = 0;
  }
}
