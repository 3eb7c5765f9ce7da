/**
 * Writing fragments to a socket and freeing each only once the runtime says
 * the write completed. `socket.write(frag); cache.free(frag)` is a bug on
 * every runtime: the write is still pending, the freed bytes are carved
 * again, and the peer receives the next message's bytes.
 *
 * - Node (and `node:net` on Bun and Deno): {@linkcode NodeFragSender} frees
 *   in the write callback, from one FIFO per socket (Node calls a stream's
 *   write callbacks in order), so a write allocates no closure.
 * - Deno (`Deno.Conn`, any `write(p): Promise<number>`):
 *   {@linkcode writeFragsDeno} writes until every byte was taken, then
 *   frees.
 * - Bun (`Bun.connect` / `Bun.listen` sockets): {@linkcode BunFragSender}
 *   frees what `write` took, keeps the rest, and goes on from the `drain`
 *   handler.
 *
 * @module
 */
import type { PageFragCache } from "../core/cache.ts";
import { PageFragError } from "../core/errors.ts";
import type { FragList } from "./frag_list.ts";

/**
 * The part of a Node `Writable` / `net.Socket` the sender uses.
 *
 * @example
 * ```ts
 * import { PassThrough } from "node:stream";
 * import type { NodeWritable } from "@pagefrag/pagefrag/io";
 *
 * const w: NodeWritable = new PassThrough();
 * ```
 */
export interface NodeWritable {
  /** Node's `write(chunk, callback)`: false asks the writer to wait for `'drain'`. */
  write(chunk: Uint8Array, cb: (err?: Error | null) => void): boolean;
  /** EventEmitter `once`. */
  // deno-lint-ignore no-explicit-any
  once(event: string, listener: (...args: any[]) => void): unknown;
  /** EventEmitter `off`. */
  // deno-lint-ignore no-explicit-any
  off(event: string, listener: (...args: any[]) => void): unknown;
}

/**
 * Sends fragments of one cache on one Node socket; each fragment is freed
 * in its write's callback (on success or error: either way the socket is
 * done with the bytes).
 *
 * @example
 * ```ts
 * import { PassThrough } from "node:stream";
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { FragWriter, NodeFragSender } from "@pagefrag/pagefrag/io";
 * import assert from "node:assert/strict";
 *
 * const cache = createPageFragCache();
 * const sink = new PassThrough();
 * const tx = new NodeFragSender(sink, cache);
 * const w = new FragWriter(cache);
 * tx.send(w.string("hello").finish()!, w.lastBytes);
 * await tx.flush();                              // every callback ran
 * assert.equal(tx.inFlight, 0, "freed after the write completed");
 * assert.equal(String(sink.read()), "hello");
 * ```
 */
export class NodeFragSender {
  /** The socket. */
  readonly socket: NodeWritable;
  /** The cache the fragments belong to. */
  readonly cache: PageFragCache;
  /** Addresses of fragments written and not yet called back, oldest first. */
  #fifo: number[] = [];
  #head = 0;
  #error: Error | null = null;
  #waiters: (() => void)[] = [];
  readonly #done: (err?: Error | null) => void;

  /**
   * A sender for `socket`.
   *
   * @example
   * ```ts
   * import { PassThrough } from "node:stream";
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { NodeFragSender } from "@pagefrag/pagefrag/io";
   *
   * new NodeFragSender(new PassThrough(), createPageFragCache());
   * ```
   */
  constructor(socket: NodeWritable, cache: PageFragCache) {
    this.socket = socket;
    this.cache = cache;
    // One callback for every write: Node runs a stream's write callbacks
    // in write order, so the oldest address in the FIFO is this write's.
    this.#done = (err?: Error | null) => {
      if (err && this.#error === null) this.#error = err;
      const fifo = this.#fifo;
      const addr = fifo[this.#head++];
      if (this.#head === fifo.length) {
        fifo.length = 0;
        this.#head = 0;
        const w = this.#waiters;
        if (w.length > 0) {
          this.#waiters = [];
          for (const f of w) f();
        }
      }
      this.cache.free(addr);
    };
  }

  /**
   * Fragments written whose callbacks have not run yet.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { NodeFragSender } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const tx = new NodeFragSender({ write: () => true, once: () => {}, off: () => {} }, createPageFragCache());
   * assert.equal(tx.inFlight, 0, "nothing written yet");
   * ```
   */
  get inFlight(): number {
    return this.#fifo.length - this.#head;
  }

  /**
   * Write the fragment `(addr, size)` and hand it over: it is freed when
   * the write completes. Returns `socket.write`'s answer (false: wait for
   * `'drain'`, e.g. with {@linkcode NodeFragSender.sendList}).
   *
   * @example
   * ```ts
   * import { PassThrough } from "node:stream";
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { NodeFragSender } from "@pagefrag/pagefrag/io";
   *
   * const cache = createPageFragCache();
   * const tx = new NodeFragSender(new PassThrough(), cache);
   * tx.send(cache.allocHandle(10)!, 10);
   * await tx.flush();
   * ```
   */
  send(addr: number, size: number): boolean {
    const view = this.cache.backend.view(addr, size);
    this.#fifo.push(addr);
    return this.socket.write(view, this.#done);
  }

  /**
   * Write every fragment of `list` (which is emptied: the sender owns them
   * now), waiting for `'drain'` whenever the socket asks to.
   *
   * @example
   * ```ts
   * import { PassThrough } from "node:stream";
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { FragList, FragWriter, NodeFragSender } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const cache = createPageFragCache();
   * const sink = new PassThrough();
   * const tx = new NodeFragSender(sink, cache);
   * const w = new FragWriter(cache);
   * const list = new FragList(cache);
   * w.u8(1).finishInto(list);
   * w.u8(2).finishInto(list);
   * await tx.sendList(list);
   * await tx.flush();
   * assert.deepEqual([...sink.read()], [1, 2]);
   * ```
   */
  async sendList(list: FragList): Promise<void> {
    const n = list.count;
    for (let i = 0; i < n; i++) {
      if (!this.send(list.addrs[i], list.sizes[i]) && i + 1 < n) {
        await this.#drain();
      }
    }
    list.clear();
  }

  #drain(): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        this.socket.off("close", done);
        this.socket.off("drain", done);
        resolve();
      };
      this.socket.once("drain", done);
      this.socket.once("close", done);
    });
  }

  /**
   * Resolve once every write so far has completed (its fragment freed);
   * rejects with the first write error.
   *
   * @example
   * ```ts
   * import { PassThrough } from "node:stream";
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { NodeFragSender } from "@pagefrag/pagefrag/io";
   *
   * await new NodeFragSender(new PassThrough(), createPageFragCache()).flush();
   * ```
   */
  async flush(): Promise<void> {
    if (this.inFlight > 0) {
      await new Promise<void>((r) => this.#waiters.push(r));
    }
    if (this.#error !== null) throw this.#error;
  }
}

/**
 * Anything with Deno's `write(p): Promise<number>` (which may take fewer
 * bytes than given): `Deno.Conn`, `Deno.FsFile`.
 *
 * @example
 * ```ts
 * import type { DenoWriter } from "@pagefrag/pagefrag/io";
 *
 * const sink: DenoWriter = { write: (p) => Promise.resolve(p.length) };
 * ```
 */
export interface DenoWriter {
  /** Write some of `p`; resolves with how many bytes were taken. */
  write(p: Uint8Array): Promise<number>;
}

/**
 * Write a fragment with a Deno-style writer and free it once every byte
 * was taken (a resolved `write` may have taken only part: the rest is
 * written again). On a write error the fragment is freed and the error
 * thrown.
 *
 * @example
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { writeFragDeno } from "@pagefrag/pagefrag/io";
 * import assert from "node:assert/strict";
 *
 * const cache = createPageFragCache();
 * const got: number[] = [];
 * const writer = {                 // takes 3 bytes per call
 *   write(p: Uint8Array) {
 *     got.push(...p.subarray(0, 3));
 *     return Promise.resolve(Math.min(3, p.length));
 *   },
 * };
 * const addr = cache.allocHandle(7)!;
 * cache.backend.view(addr, 7).set([1, 2, 3, 4, 5, 6, 7]);
 * await writeFragDeno(writer, cache, addr, 7);
 * assert.deepEqual(got, [1, 2, 3, 4, 5, 6, 7]);
 * ```
 */
export async function writeFragDeno(
  writer: DenoWriter,
  cache: PageFragCache,
  addr: number,
  size: number,
): Promise<void> {
  try {
    let view = cache.backend.view(addr, size);
    for (;;) {
      const n = await writer.write(view);
      if (n === view.length) return;
      if (!(n >= 0 && n < view.length)) {
        throw new PageFragError(
          "ESTATE",
          `write() took ${n} of ${view.length} bytes`,
        );
      }
      view = view.subarray(n);
    }
  } finally {
    cache.free(addr);
  }
}

/**
 * Write every fragment of `list` in order with a Deno-style writer, each
 * freed once written (see {@linkcode writeFragDeno}); the list is emptied.
 * On an error the remaining fragments are freed too.
 *
 * @example
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { FragWriter, writeFragsDeno } from "@pagefrag/pagefrag/io";
 * import assert from "node:assert/strict";
 *
 * const cache = createPageFragCache({ maxOrder: 0 });
 * const w = new FragWriter(cache);
 * const list = w.bytes(new Uint8Array(10000).fill(5)).finishList()!;
 * let total = 0;
 * await writeFragsDeno({ write: (p) => Promise.resolve((total += p.length, p.length)) }, list);
 * assert.equal(total, 10000);
 * assert.equal(list.count, 0, "the list was handed over");
 * ```
 */
export async function writeFragsDeno(
  writer: DenoWriter,
  list: FragList,
): Promise<void> {
  const cache = list.cache;
  const n = list.count;
  let i = 0;
  try {
    for (; i < n; i++) {
      await writeFragDeno(writer, cache, list.addrs[i], list.sizes[i]);
    }
  } finally {
    for (let k = i + 1; k < n; k++) cache.free(list.addrs[k]);
    list.clear();
  }
}

/**
 * The part of a Bun socket the sender uses.
 *
 * @example
 * ```ts
 * import type { BunWritable } from "@pagefrag/pagefrag/io";
 *
 * const s: BunWritable = { write: (d) => d.length };
 * ```
 */
export interface BunWritable {
  /** Bun's `write`: bytes taken now (maybe fewer than given), or -1 when closed. */
  write(data: Uint8Array): number;
}

/**
 * Sends fragments on one Bun socket. Bun's `write` takes what the kernel
 * accepts now and returns that count; the rest must be written again from
 * the socket's `drain` handler. Each fragment is freed once all its bytes
 * were taken; fragments sent while others wait are queued in order.
 *
 * @example
 * ```ts
 * import { createPageFragCache } from "@pagefrag/pagefrag";
 * import { BunFragSender } from "@pagefrag/pagefrag/io";
 * import assert from "node:assert/strict";
 *
 * const cache = createPageFragCache();
 * let room = 4;                                  // a socket that takes 4 bytes, then drains
 * const out: number[] = [];
 * const socket = {
 *   write(d: Uint8Array) {
 *     const n = Math.min(room, d.length);
 *     out.push(...d.subarray(0, n));
 *     room -= n;
 *     return n;
 *   },
 * };
 * const tx = new BunFragSender(socket, cache);
 * const a = cache.allocHandle(6)!;
 * cache.backend.view(a, 6).set([1, 2, 3, 4, 5, 6]);
 * assert.equal(tx.send(a, 6), false, "only 4 bytes went");
 * room = 100;
 * tx.drain();                                    // from Bun's drain(socket) handler
 * assert.deepEqual(out, [1, 2, 3, 4, 5, 6]);
 * assert.equal(tx.queued, 0);
 * ```
 */
export class BunFragSender {
  /** The socket. */
  readonly socket: BunWritable;
  /** The cache the fragments belong to. */
  readonly cache: PageFragCache;
  #addrs: number[] = [];
  #sizes: number[] = [];
  #head = 0;
  /** Bytes of the oldest queued fragment already written. */
  #sent = 0;
  #closed = false;

  /**
   * A sender for `socket`.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { BunFragSender } from "@pagefrag/pagefrag/io";
   *
   * new BunFragSender({ write: (d) => d.length }, createPageFragCache());
   * ```
   */
  constructor(socket: BunWritable, cache: PageFragCache) {
    this.socket = socket;
    this.cache = cache;
  }

  /**
   * Fragments not yet fully written.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { BunFragSender } from "@pagefrag/pagefrag/io";
   * import assert from "node:assert/strict";
   *
   * const tx = new BunFragSender({ write: (b: Uint8Array) => b.length }, createPageFragCache());
   * assert.equal(tx.queued, 0, "nothing waiting");
   * ```
   */
  get queued(): number {
    return this.#addrs.length - this.#head;
  }

  /**
   * Send a fragment (the sender owns it now). True when everything queued
   * went out; false when bytes wait for `drain()`.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { BunFragSender } from "@pagefrag/pagefrag/io";
   *
   * const cache = createPageFragCache();
   * new BunFragSender({ write: (d) => d.length }, cache).send(cache.allocHandle(3)!, 3);
   * ```
   */
  send(addr: number, size: number): boolean {
    if (this.#closed) {
      this.cache.free(addr);
      return false;
    }
    this.#addrs.push(addr);
    this.#sizes.push(size);
    return this.queued === 1 ? this.drain() : false;
  }

  /**
   * Send every fragment of `list` (emptied: the sender owns them).
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { BunFragSender, FragWriter } from "@pagefrag/pagefrag/io";
   *
   * const cache = createPageFragCache();
   * const w = new FragWriter(cache);
   * new BunFragSender({ write: (d) => d.length }, cache).sendList(w.u8(1).finishList()!);
   * ```
   */
  sendList(list: FragList): boolean {
    let ok = true;
    for (let i = 0; i < list.count; i++) {
      ok = this.send(list.addrs[i], list.sizes[i]);
    }
    list.clear();
    return ok;
  }

  /**
   * Write what is queued; call it from the socket's `drain` handler. True
   * when the queue is empty.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { BunFragSender } from "@pagefrag/pagefrag/io";
   *
   * new BunFragSender({ write: (d) => d.length }, createPageFragCache()).drain();
   * ```
   */
  drain(): boolean {
    const backend = this.cache.backend;
    while (this.#head < this.#addrs.length) {
      const addr = this.#addrs[this.#head];
      const size = this.#sizes[this.#head];
      const n = this.socket.write(
        backend.view(addr + this.#sent, size - this.#sent),
      );
      if (n < 0) {
        this.close();
        return false;
      }
      this.#sent += n;
      if (this.#sent < size) return false;
      this.#sent = 0;
      this.#head++;
      this.cache.free(addr);
    }
    this.#addrs.length = this.#sizes.length = this.#head = 0;
    return true;
  }

  /**
   * The socket closed: free every queued fragment.
   *
   * @example
   * ```ts
   * import { createPageFragCache } from "@pagefrag/pagefrag";
   * import { BunFragSender } from "@pagefrag/pagefrag/io";
   *
   * new BunFragSender({ write: () => -1 }, createPageFragCache()).close();
   * ```
   */
  close(): void {
    this.#closed = true;
    for (let i = this.#head; i < this.#addrs.length; i++) {
      this.cache.free(this.#addrs[i]);
    }
    this.#addrs.length = this.#sizes.length = this.#head = 0;
    this.#sent = 0;
  }
}
