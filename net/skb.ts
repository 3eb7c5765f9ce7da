/**
 * A minimal socket buffer (`struct sk_buff`), enough to carry the kernel's
 * receive pattern (`netdev_alloc_skb` / `napi_alloc_skb`: a linear head from
 * a fragment cache) and send pattern (`skb_fill_page_desc`,
 * `skb_can_coalesce`, `skb_frag_size_add`: payload in page fragments).
 *
 * @module
 */
import type { MemoryBackend } from "../core/backend.ts";
import type { PageFragCache } from "../core/cache.ts";
import { defaultNapiCache, defaultNetdevCache } from "../wiring/defaults.ts";
import { PageFragError } from "../core/errors.ts";
import type { NapiFragCache } from "../flavours/napi.ts";
import type { NetdevFragCache } from "../flavours/netdev.ts";

/**
 * Most page fragments one skb carries (`MAX_SKB_FRAGS`).
 *
 * @example
 * ```ts
 * import { MAX_SKB_FRAGS } from "@pagefrag/pagefrag/net";
 *
 * if (MAX_SKB_FRAGS !== 17) throw new Error();
 * ```
 */
export const MAX_SKB_FRAGS = 17;
/**
 * Default headroom reserved before the data (`NET_SKB_PAD`).
 *
 * @example
 * ```ts
 * import { NET_SKB_PAD, netdevAllocSkb } from "@pagefrag/pagefrag/net";
 *
 * const skb = netdevAllocSkb(1000)!;
 * if (skb.headroom !== NET_SKB_PAD) throw new Error();
 * skb.free();
 * ```
 */
export const NET_SKB_PAD = 64;
/**
 * Heads of at most this many bytes (headroom included) use a plain
 * allocation, as the kernel uses kmalloc for small heads.
 *
 * @example
 * ```ts
 * import { NET_SKB_PAD, netdevAllocSkb, SKB_SMALL_HEAD } from "@pagefrag/pagefrag/net";
 *
 * const skb = netdevAllocSkb(SKB_SMALL_HEAD - NET_SKB_PAD)!;
 * if (skb.headAddr !== 0) throw new Error("plain head");
 * skb.free();
 * ```
 */
export const SKB_SMALL_HEAD = 256;

/**
 * One page fragment of an skb (`skb_frag_t`): `size` bytes at `offset` in
 * the page whose address is `page`. Each entry holds one page reference.
 *
 * @example
 * ```ts
 * import type { SkbFrag } from "@pagefrag/pagefrag/net";
 *
 * const frag: SkbFrag = { page: 4096, offset: 100, size: 1400 };
 * if (frag.page + frag.offset !== 4196) throw new Error();
 * ```
 */
export interface SkbFrag {
  /** Address of the page (`backend.pageOf(addr)`). */
  page: number;
  /** Offset of the first byte within the page. */
  offset: number;
  /** Bytes in this fragment. */
  size: number;
}

/**
 * Options of `netdevAllocSkb` and `napiAllocSkb`.
 *
 * @example
 * ```ts
 * import { type AllocSkbOptions, netdevAllocSkb } from "@pagefrag/pagefrag/net";
 *
 * const opts: AllocSkbOptions = { headroom: 32 };
 * netdevAllocSkb(1000, opts)!.free();
 * ```
 */
export interface AllocSkbOptions {
  /** Bytes reserved before the data (`NET_SKB_PAD` by default). */
  headroom?: number;
  /** May the head come from the emergency reserve (`__GFP_MEMALLOC`)? */
  memalloc?: boolean;
}

/**
 * A socket buffer: a linear head (headroom + `len` bytes of data) and up to
 * `MAX_SKB_FRAGS` page fragments. `pfmemalloc` is true when any of its
 * memory came from the emergency reserve, so a consumer that is not
 * handling memory pressure can drop it.
 *
 * @example
 * ```ts
 * import { netdevAllocSkb } from "@pagefrag/pagefrag/net";
 *
 * const skb = netdevAllocSkb(1500)!;
 * skb.data.set([0x45, 0x00]);
 * if (skb.headroom !== 64 || skb.len !== 1500) throw new Error();
 * skb.free();
 * ```
 */
export class SkBuff {
  /** The backend whose pages hold the head (when `headAddr` is not 0) and the frags. */
  readonly backend: MemoryBackend;
  /** The whole linear buffer, headroom included. */
  readonly head: Uint8Array;
  /** Address of the head fragment, or 0 when the head is a plain allocation. */
  readonly headAddr: number;
  /** Bytes reserved before the data. */
  readonly headroom: number;
  /** Bytes of linear data. */
  readonly len: number;
  /** The page fragments (`skb_shinfo(skb)->frags`). */
  readonly frags: SkbFrag[] = [];
  /** Whether any of this skb's memory came from the reserve. */
  pfmemalloc: boolean;
  #freed = false;

  /**
   * Wrap a head. Use `netdevAllocSkb` / `napiAllocSkb` instead.
   *
   * @example
   * ```ts
   * import { HeapBackend } from "@pagefrag/pagefrag";
   * import { SkBuff } from "@pagefrag/pagefrag/net";
   *
   * const skb = new SkBuff(new HeapBackend(), new Uint8Array(100), 0, 16, false);
   * if (skb.len !== 84) throw new Error();
   * ```
   */
  constructor(
    backend: MemoryBackend,
    head: Uint8Array,
    headAddr: number,
    headroom: number,
    pfmemalloc: boolean,
  ) {
    this.backend = backend;
    this.head = head;
    this.headAddr = headAddr;
    this.headroom = headroom;
    this.len = head.length - headroom;
    this.pfmemalloc = pfmemalloc;
  }

  /**
   * The linear data (`skb->data`, `len` bytes after the headroom).
   *
   * @example
   * ```ts
   * import { netdevAllocSkb } from "@pagefrag/pagefrag/net";
   *
   * const skb = netdevAllocSkb(500)!;
   * if (skb.data.length !== 500) throw new Error();
   * skb.free();
   * ```
   */
  get data(): Uint8Array {
    return this.head.subarray(this.headroom);
  }

  /**
   * Bytes in the fragments (`skb->data_len`).
   *
   * @example
   * ```ts
   * import { netdevAllocSkb } from "@pagefrag/pagefrag/net";
   *
   * if (netdevAllocSkb(500)!.dataLen !== 0) throw new Error();
   * ```
   */
  get dataLen(): number {
    let n = 0;
    for (const f of this.frags) n += f.size;
    return n;
  }

  /**
   * Release the head and every fragment (`kfree_skb`). A second call is
   * `EDOUBLEFREE`.
   *
   * @example
   * ```ts
   * import { napiAllocSkb } from "@pagefrag/pagefrag/net";
   * import { napiPoll } from "@pagefrag/pagefrag";
   *
   * const skb = napiPoll(() => napiAllocSkb(1000))!;
   * skb.free();
   * ```
   */
  free(): void {
    if (this.#freed) {
      throw new PageFragError("EDOUBLEFREE", "skb.free(): already freed");
    }
    this.#freed = true;
    if (this.headAddr !== 0) this.backend.free(this.headAddr);
    for (const f of this.frags) this.backend.free(f.page + f.offset);
    this.frags.length = 0;
  }
}

function checkLength(what: string, name: string, n: unknown): number {
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) {
    throw new PageFragError(
      "EINVAL_SIZE",
      `${what}: ${name} must be a non-negative integer, got ${String(n)}`,
    );
  }
  return n;
}

/** `__netdev_alloc_skb` / `__napi_alloc_skb` over a given cache. */
function allocSkb(
  what: string,
  cache: PageFragCache,
  len: number,
  opts: AllocSkbOptions | undefined,
): SkBuff | null {
  checkLength(what, "len", len);
  const headroom = checkLength(
    what,
    "headroom",
    opts?.headroom ?? NET_SKB_PAD,
  );
  const total = len + headroom;
  const backend = cache.backend;
  // Tiny heads would waste a fragment's page share and big ones would not
  // fit a page: both take a plain allocation, as the kernel uses kmalloc.
  if (total <= SKB_SMALL_HEAD || total > backend.pageSize) {
    return new SkBuff(backend, new Uint8Array(total), 0, headroom, false);
  }
  const addr = cache.allocHandle(
    total,
    opts?.memalloc === true ? { memalloc: true } : undefined,
  );
  if (addr === null) return null;
  // Ask the backend about this fragment's page, not the cache about its
  // current page: on a netdev cache shared between workers another worker
  // may have refilled in between.
  return new SkBuff(
    backend,
    backend.view(addr, total),
    addr,
    headroom,
    backend.isPfmemalloc(addr),
  );
}

/**
 * Allocate an skb whose head comes from a netdev cache (`netdev_alloc_skb`):
 * this worker's default one, or `cache`. `null` when memory is exhausted.
 *
 * @example
 * ```ts
 * import { netdevAllocSkb } from "@pagefrag/pagefrag/net";
 *
 * const skb = netdevAllocSkb(1500);
 * if (skb === null) throw new Error("drop: no memory");
 * skb.free();
 * ```
 */
export function netdevAllocSkb(
  len: number,
  opts?: AllocSkbOptions & { cache?: NetdevFragCache },
): SkBuff | null {
  return allocSkb(
    "netdevAllocSkb()",
    opts?.cache ?? defaultNetdevCache(),
    len,
    opts,
  );
}

/**
 * Allocate an skb whose head comes from a napi cache (`napi_alloc_skb`):
 * this worker's default one, or `cache`. Only inside the cache's poll scope
 * (`ECONTEXT` outside, whatever the size).
 *
 * @example
 * ```ts
 * import { napiAllocSkb } from "@pagefrag/pagefrag/net";
 * import { napiPoll } from "@pagefrag/pagefrag";
 *
 * napiPoll(() => {
 *   const skb = napiAllocSkb(1500)!;
 *   skb.free();
 * });
 * ```
 */
export function napiAllocSkb(
  len: number,
  opts?: AllocSkbOptions & { cache?: NapiFragCache },
): SkBuff | null {
  const cache = opts?.cache ?? defaultNapiCache();
  // Whatever the head size, napi allocation belongs inside the poll: fail
  // the same way for a 60-byte and a 1500-byte packet.
  if (!cache.inPoll()) {
    throw new PageFragError(
      "ECONTEXT",
      "napiAllocSkb(): only inside napi.poll(fn) (or napiPoll(fn))",
    );
  }
  return allocSkb("napiAllocSkb()", cache, len, opts);
}

/**
 * Set fragment `i` of `skb` to `size` bytes at `offset` in `page`
 * (`skb_fill_page_desc`); the entry takes over one page reference (from
 * `commit` or `allocHandle`). Marks the skb pfmemalloc if the page is.
 *
 * @example
 * ```ts
 * import { createNetdevCache } from "@pagefrag/pagefrag";
 * import { netdevAllocSkb, skbFillPageDesc } from "@pagefrag/pagefrag/net";
 *
 * const cache = createNetdevCache();
 * const skb = netdevAllocSkb(0, { cache })!;
 * const addr = cache.allocHandle(1000)!;
 * const page = cache.backend.pageOf(addr);
 * skbFillPageDesc(skb, 0, page, addr - page, 1000);
 * if (skb.dataLen !== 1000) throw new Error();
 * skb.free();
 * ```
 */
export function skbFillPageDesc(
  skb: SkBuff,
  i: number,
  page: number,
  offset: number,
  size: number,
): void {
  if (!Number.isInteger(i) || i < 0 || i > skb.frags.length) {
    throw new PageFragError(
      "ESTATE",
      `skbFillPageDesc(): slot ${i} is not the next or an existing fragment (have ${skb.frags.length})`,
    );
  }
  if (i >= MAX_SKB_FRAGS) {
    throw new PageFragError(
      "ESTATE",
      `skbFillPageDesc(): an skb holds at most ${MAX_SKB_FRAGS} fragments`,
    );
  }
  checkLength("skbFillPageDesc()", "offset", offset);
  checkLength("skbFillPageDesc()", "size", size);
  if (skb.backend.pageOf(page + offset) !== page) {
    throw new PageFragError(
      "EFOREIGN",
      `skbFillPageDesc(): ${page} is not the address of the page holding offset ${offset}`,
    );
  }
  skb.frags[i] = { page, offset, size };
  if (skb.backend.isPfmemalloc(page)) skb.pfmemalloc = true;
}

/**
 * Whether bytes at `offset` in `page` continue fragment `i - 1` of `skb`
 * exactly, so they can be merged into it (`skb_can_coalesce`).
 *
 * @example
 * ```ts
 * import { type SkBuff, skbCanCoalesce } from "@pagefrag/pagefrag/net";
 *
 * const skb = { frags: [{ page: 4096, offset: 0, size: 100 }] } as unknown as SkBuff;
 * if (!skbCanCoalesce(skb, 1, 4096, 100) || skbCanCoalesce(skb, 1, 4096, 101)) throw new Error();
 * ```
 */
export function skbCanCoalesce(
  skb: SkBuff,
  i: number,
  page: number,
  offset: number,
): boolean {
  if (i <= 0 || i > skb.frags.length) return false;
  const prev = skb.frags[i - 1];
  return prev.page === page && prev.offset + prev.size === offset;
}

/**
 * Grow a fragment by `delta` bytes (`skb_frag_size_add`).
 *
 * @example
 * ```ts
 * import { type SkbFrag, skbFragSizeAdd } from "@pagefrag/pagefrag/net";
 *
 * const frag: SkbFrag = { page: 4096, offset: 0, size: 100 };
 * skbFragSizeAdd(frag, 50);
 * if (frag.size !== 150) throw new Error();
 * ```
 */
export function skbFragSizeAdd(frag: SkbFrag, delta: number): void {
  frag.size += delta;
}
