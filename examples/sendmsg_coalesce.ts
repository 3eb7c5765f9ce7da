/**
 * TCP-style `sendmsg` with page fragment coalescing: the pattern of the
 * kernel's `page_frags-prepare-commit.rst`, as `tcp_sendmsg_locked` uses it.
 *
 * An application writes a byte stream in `send()` calls of random sizes
 * (many small writes, some large ones). Each write is copied into the page
 * fragments of socket buffers:
 *
 * 1. `p = cache.prepare(32)`: at least 32 bytes, and learn how many are
 *    really available to the end of the current page (`p.size`);
 * 2. `copy = min(bytes left in this write, room left in the segment, p.size)`;
 * 3. if the bytes at `p.addr` do not continue the skb's last fragment
 *    (`skbCanCoalesce`), they need a new fragment slot: when all
 *    `MAX_SKB_FRAGS` are taken, start a new segment (a new skb) instead;
 * 4. copy the bytes into `backend.view(p.addr, copy)`;
 * 5. continuing the last fragment: `skbFragSizeAdd` + `commitNoref(copy)`
 *    (no new page reference: the fragment is still freed once);
 *    otherwise: `skbFillPageDesc` + `commit(copy)` (a new fragment holding
 *    its own page reference).
 *
 * Consecutive writes land back to back in the same page, so most of them just
 * grow the previous fragment: every merge is a fragment, a page reference and
 * a `free` that never happen. Segments end at a `size_goal` (65,160 bytes:
 * 45 MSS of 1448, a GSO-sized TCP skb) or when their 17 fragment slots are
 * full, whichever comes first, as in the kernel.
 *
 * The same writes are sent three times, each on a fresh netdev cache
 * (`createNetdevCache`): with the kernel's refill order (32 KiB compound
 * pages first), with order-0 pages only (a fragment ends at every 4 KiB
 * page), and through two sockets sharing one cache as the kernel's per-task
 * page_frag is shared (the other socket's bytes break the runs, so segments
 * run out of fragment slots).
 *
 * The skb heads come from `netdevAllocSkb(0, { cache })`: with no linear data
 * the head is a small plain allocation, so it never sits between a prepare
 * and a commit on the cache.
 *
 * At the end, the concatenation of every segment's fragments is compared with
 * the original stream, every skb is freed, the cache is drained, and the
 * backend must be back to zero bytes in use.
 *
 * ```sh
 * deno run -A examples/sendmsg_coalesce.ts
 * npx bun examples/sendmsg_coalesce.ts
 * node --import tsx examples/sendmsg_coalesce.ts
 * ```
 *
 * `--quick` (or `PAGEFRAG_QUICK=1`) sends 256 KiB instead of 4 MiB.
 *
 * This example imports the entry files of this repository; in your own code
 * import the same names from the package: `../mod.ts` is `"pagefrag"` (npm)
 * or `"@pagefrag/pagefrag"` (JSR), `../net/skb.ts` is `pagefrag/net`
 * (`"@pagefrag/pagefrag/net"`).
 *
 * @module
 */
import process from "node:process";
import { createNetdevCache, type NetdevFragCache } from "../mod.ts";
import {
  MAX_SKB_FRAGS,
  netdevAllocSkb,
  skbCanCoalesce,
  skbFillPageDesc,
  skbFragSizeAdd,
  type SkBuff,
} from "../net/skb.ts";
import { prng } from "../testing/prng.ts";

const QUICK = process.argv.slice(2).includes("--quick") ||
  process.env.PAGEFRAG_QUICK === "1";
/** Bytes the application sends. */
const STREAM_BYTES = QUICK ? 256 * 1024 : 4 * 1024 * 1024;
/**
 * Most bytes one segment (skb) carries: TCP's `size_goal` for a GSO skb, the
 * largest multiple of the MSS (1448 bytes with timestamps on a 1500-byte MTU)
 * below 64 KiB.
 */
const SIZE_GOAL = 45 * 1448;
/** The least `prepare` asks for, as `tcp_sendmsg` does. */
const PREPARE_MIN = 32;

// Seeded, so every run sends the same stream.
const random = prng(0x5eed);

/** The stream: pseudo-random bytes, so a misplaced byte cannot go unnoticed. */
const stream = new Uint8Array(STREAM_BYTES);
for (let k = 0; k < stream.length; k++) stream[k] = (random() * 256) | 0;

/** The sizes of the application's `send()` calls: mostly small, some large. */
function writeSize(): number {
  return random() < 0.8
    ? 1 + Math.floor(random() * 1460) // request/response-sized messages
    : 1461 + Math.floor(random() * (16384 - 1461)); // bulk writes
}

/** What the socket counts. */
interface Counters {
  writes: number;
  /** Copies into page fragments (one per prepare that was used). */
  copies: number;
  /** Copies that opened a new fragment (`commit`). */
  commits: number;
  /** Copies that grew the previous fragment (`commitNoref`). */
  merges: number;
  /** Segments started because all fragment slots were taken. */
  fullFrags: number;
  /** Segments started because the size goal was reached. */
  fullSize: number;
}

/** A TCP socket's send side: its write queue of segments, and one frag cache. */
class TcpSocket {
  readonly cache: NetdevFragCache;
  /** The write queue (`sk->sk_write_queue`). */
  readonly queue: SkBuff[] = [];
  /** Bytes in each queued segment (`skb->len`). */
  readonly lens: number[] = [];
  readonly counters: Counters = {
    writes: 0,
    copies: 0,
    commits: 0,
    merges: 0,
    fullFrags: 0,
    fullSize: 0,
  };

  constructor(cache: NetdevFragCache) {
    this.cache = cache;
  }

  /** Start a new segment (`tcp_stream_alloc_skb` + `tcp_skb_entail`). */
  #newSegment(): SkBuff {
    const skb = netdevAllocSkb(0, { cache: this.cache });
    if (skb === null) throw new Error("wait_for_space: no memory for an skb");
    this.queue.push(skb);
    this.lens.push(0);
    return skb;
  }

  /** `tcp_sendmsg_locked`: copy all of `msg` into the write queue. */
  sendmsg(msg: Uint8Array): void {
    const cache = this.cache;
    const backend = cache.backend;
    const c = this.counters;
    c.writes++;
    let copied = 0;
    while (copied < msg.length) {
      let q = this.queue.length - 1;
      let skb = q >= 0 ? this.queue[q] : null;
      let copy = skb === null ? 0 : SIZE_GOAL - this.lens[q];
      if (skb === null || copy <= 0) {
        if (skb !== null) c.fullSize++;
        skb = this.#newSegment();
        q++;
        copy = SIZE_GOAL;
      }
      copy = Math.min(copy, msg.length - copied);

      // The page frag part, as in page_frags-prepare-commit.rst.
      let merge = true;
      const i = skb.frags.length;
      const p = cache.prepare(PREPARE_MIN);
      if (p === null) throw new Error("wait_for_space: no memory for a frag");
      const page = backend.pageOf(p.addr);
      const offset = p.addr - page;
      if (!skbCanCoalesce(skb, i, page, offset)) {
        if (i >= MAX_SKB_FRAGS) {
          // goto new_segment: the prepared bytes are simply not committed.
          c.fullFrags++;
          this.#newSegment();
          continue;
        }
        merge = false;
      }
      copy = Math.min(copy, p.size);
      backend.view(p.addr, copy).set(msg.subarray(copied, copied + copy));
      if (merge) {
        skbFragSizeAdd(skb.frags[i - 1], copy);
        cache.commitNoref(copy);
        c.merges++;
      } else {
        skbFillPageDesc(skb, i, page, offset, copy);
        cache.commit(copy);
        c.commits++;
      }
      c.copies++;
      this.lens[q] += copy;
      copied += copy;
    }
  }
}

// ------------------------------------------------------------------ run

/** The application's writes, the same for every configuration. */
const writes: number[] = [];
for (let sent = 0; sent < stream.length;) {
  const n = Math.min(writeSize(), stream.length - sent);
  writes.push(n);
  sent += n;
}

/** The bytes of `parts`, one after the other. */
function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  n = 0;
  for (const p of parts) {
    out.set(p, n);
    n += p.length;
  }
  return out;
}

/**
 * Send the stream through `sockets` sockets that share `cache`, verify what
 * each queued, free it all, report. With several sockets the application
 * writes to one for a while (each next write stays on it with probability
 * 1/2), then to another.
 */
function run(title: string, cache: NetdevFragCache, sockets = 1): void {
  // ---------------------------------------------------------------- send
  const socks: TcpSocket[] = [];
  const expected: Uint8Array[][] = [];
  for (let s = 0; s < sockets; s++) {
    socks.push(new TcpSocket(cache));
    expected.push([]);
  }
  const pick = prng(sockets);
  const to: number[] = [];
  for (let k = 0, s = 0; k < writes.length; k++) {
    if (k > 0 && pick() < 0.5) s = (s + 1) % sockets;
    to.push(s);
  }
  const t0 = performance.now();
  let sent = 0;
  for (let k = 0; k < writes.length; k++) {
    const msg = stream.subarray(sent, sent + writes[k]);
    socks[to[k]].sendmsg(msg);
    expected[to[k]].push(msg);
    sent += writes[k];
  }
  const elapsed = performance.now() - t0;

  // -------------------------------------------------------------- verify
  // Each socket's segments, frag by frag, must hold exactly its writes.
  let frags = 0;
  let skbs = 0;
  const c: Counters = {
    writes: 0,
    copies: 0,
    commits: 0,
    merges: 0,
    fullFrags: 0,
    fullSize: 0,
  };
  for (let s = 0; s < sockets; s++) {
    const want = concat(expected[s]);
    let pos = 0;
    for (const skb of socks[s].queue) {
      frags += skb.frags.length;
      if (skb.frags.length > MAX_SKB_FRAGS) throw new Error("too many frags");
      for (const f of skb.frags) {
        const bytes = cache.backend.view(f.page + f.offset, f.size);
        for (let k = 0; k < bytes.length; k++) {
          if (bytes[k] !== want[pos + k]) {
            throw new Error(`socket ${s}: mismatch at byte ${pos + k}`);
          }
        }
        pos += f.size;
      }
    }
    if (pos !== want.length) {
      throw new Error(`socket ${s}: queued ${pos} bytes of ${want.length}`);
    }
    skbs += socks[s].queue.length;
    for (const [key, value] of Object.entries(socks[s].counters)) {
      c[key as keyof Counters] += value;
    }
  }
  const cacheStats = cache.stats();
  if (c.commits !== frags || cacheStats.allocs !== frags) {
    throw new Error(
      `one commit per frag expected: ${c.commits} commits, ${frags} frags, ` +
        `${cacheStats.allocs} allocs`,
    );
  }
  if (c.commits + c.merges !== c.copies) throw new Error("lost a copy");

  const during = cache.backend.stats();
  for (const sock of socks) for (const skb of sock.queue) skb.free();
  cache.drain();
  const after = cache.backend.stats();
  if (after.bytesInUse !== 0 || after.pagesInUse !== 0) {
    throw new Error(
      `leak: ${after.bytesInUse} bytes in ${after.pagesInUse} pages in use`,
    );
  }

  // -------------------------------------------------------------- report
  const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  console.log(`== ${title} ==`);
  console.log(
    `bytes sent:          ${stream.length} (${kib(stream.length)}) ` +
      `in ${elapsed.toFixed(1)} ms`,
  );
  console.log(
    `writes (send calls): ${c.writes} (avg ${
      (stream.length / c.writes).toFixed(0)
    } bytes)`,
  );
  console.log(
    `skbs (segments):     ${skbs} (${c.fullSize} closed at the ` +
      `${kib(SIZE_GOAL)} size goal, ${c.fullFrags} with all ` +
      `${MAX_SKB_FRAGS} frag slots taken)`,
  );
  console.log(`copies into frags:   ${c.copies}`);
  console.log(
    `frags used:          ${frags} (avg ${
      (stream.length / frags).toFixed(0)
    } bytes, ${(frags / skbs).toFixed(2)} per skb)`,
  );
  console.log(
    `frags saved by coalescing: ${c.merges} (commitNoref instead of ` +
      `commit for ${
        (100 * c.merges / c.copies).toFixed(1)
      }% of copies: no new frag, page reference or free)`,
  );
  console.log(
    `pages: ${during.pagesAllocated} allocated, peak ` +
      `${kib(during.peakBytesInUse)} in use; after free + drain: ` +
      `${after.bytesInUse} bytes in ${after.pagesInUse} pages`,
  );
  console.log("stream verified byte for byte: OK");
  console.log("cache.stats():", cacheStats);
  console.log();
}

console.log(
  `sendmsg: ${stream.length} bytes in ${writes.length} writes` +
    `${QUICK ? " (--quick)" : ""}\n`,
);
// The kernel's refill order: a 32 KiB compound page first, so a frag can
// grow across eight 4 KiB pages' worth of writes.
run(
  "32 KiB pages (kernel refill: order 3, fall back to 0)",
  createNetdevCache(),
);
// Order-0 pages only (what is left when high-order allocations fail): a
// frag ends at every 4 KiB, so segments run out of frag slots.
run("4 KiB pages (refill: order0)", createNetdevCache({ refill: "order0" }));
// Two sockets written in turns through one cache, as the kernel's per-task
// page_frag (current->task_frag) serves every socket a thread writes to:
// when the other socket's bytes sit between two writes they cannot coalesce,
// so segments use more frags and run out of slots before their size goal.
run(
  "2 sockets sharing one cache, writes in turns (32 KiB pages)",
  createNetdevCache(),
  2,
);
