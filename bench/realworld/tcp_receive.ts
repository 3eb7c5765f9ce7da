/**
 * Workload (a) `tcp-receive`: a loopback sender writes `count`
 * length-prefixed messages of 16-1024 bytes (u32 big-endian length, then a
 * u32 sequence number and bytes derived from it); the receiver frames them,
 * checks each one and drops it.
 *
 * Every mode reads the socket the same way for its runtime (Node: `onread`
 * on `net.connect`; Deno: `Deno.connect` + `conn.read`; Bun: `Bun.connect`'s
 * `data` handler); they differ only in where each message goes:
 *
 * - `pagefrag`: the io adapter (`nodeOnread`, `pumpReader`,
 *   `bunSocketHandlers`): read straight into page space (Bun: one copy of
 *   each chunk), one fragment per message, freed after the check.
 * - `Buffer.allocUnsafe`: read into one reused buffer, copy each message
 *   into its own `Buffer.allocUnsafe(len)` (pooled below 4 KiB).
 * - `new Uint8Array`: the same, into `new Uint8Array(len)`.
 *
 * The sender (tcp_sender.mjs, `node:net`, run by the same runtime in a
 * process of its own, so none of its CPU time or GCs are counted) writes
 * one precomputed tape of messages again and again. The timed region runs
 * from connect to the last message.
 *
 * @module
 */
import { spawn } from "node:child_process";
import net from "node:net";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { createPageFragCache } from "../../mod.ts";
import {
  bunSocketHandlers,
  type Frame,
  FrameReceiver,
  lengthPrefixed,
  nodeOnread,
  pumpNodeStream,
  pumpReader,
} from "../../io/mod.ts";
import type { Workload, WorkloadOptions, WorkloadResult } from "./workload.ts";

/** Messages in the tape the sender repeats (sequence numbers wrap at it). */
const TAPE = 8192;
const MAX = 1024;
const READ = 65536;

function sizeOf(i: number): number {
  return 16 + ((i * 2654435761) >>> 0) % (MAX - 16 + 1);
}

const SENDER = fileURLToPath(new URL("./tcp_sender.mjs", import.meta.url));

/** How this runtime runs a plain .mjs file. */
function runArgs(file: string): string[] {
  return runtime === "deno" ? ["run", "-A", file] : [file];
}

/**
 * Start the sender process and learn its port. Its stdout is read only for
 * that line; its stderr is dropped, so its GC log (none: it runs without
 * GC flags) never reaches the runner.
 */
async function startSender(
  count: number,
): Promise<{ port: number; close: () => void }> {
  const child = spawn(
    process.execPath,
    [...runArgs(SENDER), String(count), String(TAPE), String(MAX)],
    { stdio: ["ignore", "pipe", "ignore"] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    let text = "";
    const timer = setTimeout(
      () => reject(new Error("sender: no port")),
      30_000,
    );
    child.stdout!.on("data", (d: Uint8Array) => {
      text += new TextDecoder().decode(d);
      const m = /port (\d+)/.exec(text);
      if (m !== null) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on("exit", (code) => reject(new Error(`sender exited (${code})`)));
  });
  return { port, close: () => child.kill() };
}

/** Checks one message (sequence number, a middle byte, the last byte). */
class Checker {
  received = 0;
  bad = 0;
  check(b: Uint8Array, o: number, len: number): void {
    const want = this.received++ % TAPE;
    const seq =
      ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>>
      0;
    const mid = len >> 1;
    if (
      seq !== want || len !== sizeOf(want) ||
      (mid >= 4 && b[o + mid] !== ((want + mid) & 255)) ||
      b[o + len - 1] !== ((want + len - 1) & 255)
    ) this.bad++;
  }
}

/**
 * The copying receiver: frames each read in place, copies every message
 * into a fresh buffer from `alloc`, carrying a split message over to the
 * next read.
 */
class CopyReceiver {
  readonly #alloc: (n: number) => Uint8Array;
  readonly #consume: (m: Uint8Array) => void;
  #carry = new Uint8Array(4 + MAX);
  #have = 0;
  constructor(
    alloc: (n: number) => Uint8Array,
    consume: (m: Uint8Array) => void,
  ) {
    this.#alloc = alloc;
    this.#consume = consume;
  }
  push(b: Uint8Array, start: number, end: number): void {
    let at = start;
    // Finish a message split over the previous read.
    while (this.#have > 0 && at < end) {
      const c = this.#carry;
      if (this.#have < 4) {
        const k = Math.min(4 - this.#have, end - at);
        c.set(b.subarray(at, at + k), this.#have);
        this.#have += k;
        at += k;
        if (this.#have < 4) return;
      }
      const len = ((c[0] << 24) | (c[1] << 16) | (c[2] << 8) | c[3]) >>> 0;
      const k = Math.min(4 + len - this.#have, end - at);
      c.set(b.subarray(at, at + k), this.#have);
      this.#have += k;
      at += k;
      if (this.#have < 4 + len) return;
      const m = this.#alloc(len);
      m.set(c.subarray(4, 4 + len));
      this.#have = 0;
      this.#consume(m);
    }
    while (end - at >= 4) {
      const len = ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) |
        b[at + 3]) >>> 0;
      if (end - at < 4 + len) break;
      const m = this.#alloc(len);
      m.set(b.subarray(at + 4, at + 4 + len));
      at += 4 + len;
      this.#consume(m);
    }
    if (at < end) {
      this.#carry.set(b.subarray(at, end));
      this.#have = end - at;
    }
  }
}

// deno-lint-ignore no-explicit-any
const D = (globalThis as any).Deno;
// deno-lint-ignore no-explicit-any
const B = (globalThis as any).Bun;
const runtime = B !== undefined ? "bun" : D !== undefined ? "deno" : "node";

async function receive(mode: string, port: number, ck: Checker): Promise<void> {
  const framing = lengthPrefixed({ maxFrame: MAX });
  if (mode === "pagefrag") {
    const cache = createPageFragCache();
    const rx = new FrameReceiver(cache, framing, (f: Frame) => {
      ck.check(f.bytes, f.offset, f.length);
      cache.free(f.addr);
    }, { minRead: 4096 });
    if (runtime === "deno") {
      const conn = await D.connect({ hostname: "127.0.0.1", port });
      try {
        await pumpReader(conn, rx);
      } finally {
        conn.close();
      }
    } else if (runtime === "bun") {
      const h = bunSocketHandlers(rx);
      await B.connect({ hostname: "127.0.0.1", port, socket: h });
      await h.done;
    } else {
      const onread = nodeOnread(rx);
      const s = net.connect({ port, host: "127.0.0.1", onread });
      await pumpNodeStream(s, rx, { onread });
      s.destroy();
    }
    cache.drain();
    if (cache.backend.stats().bytesInUse !== 0) ck.bad++;
    return;
  }
  const alloc = mode === "Buffer.allocUnsafe"
    ? (n: number) => Buffer.allocUnsafe(n)
    : (n: number) => new Uint8Array(n);
  const rx = new CopyReceiver(alloc, (m) => ck.check(m, 0, m.length));
  if (runtime === "deno") {
    const conn = await D.connect({ hostname: "127.0.0.1", port });
    const buf = new Uint8Array(READ);
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        rx.push(buf, 0, n);
      }
    } finally {
      conn.close();
    }
  } else if (runtime === "bun") {
    await new Promise<void>((resolve, reject) => {
      B.connect({
        hostname: "127.0.0.1",
        port,
        socket: {
          data(_s: unknown, chunk: Uint8Array) {
            rx.push(chunk, 0, chunk.length);
          },
          close: () => resolve(),
          error: (_s: unknown, e: Error) => reject(e),
        },
      }).catch(reject);
    });
  } else {
    const buf = Buffer.allocUnsafe(READ);
    await new Promise<void>((resolve, reject) => {
      const s = net.connect({
        port,
        host: "127.0.0.1",
        onread: {
          buffer: buf,
          callback: (n: number) => {
            rx.push(buf, 0, n);
            return true;
          },
        },
      });
      s.on("end", () => {
        s.destroy();
        resolve();
      });
      s.on("error", reject);
    });
  }
}

/** The tcp-receive workload. */
export const workload: Workload = {
  name: "tcp-receive",
  modes: [
    { name: "pagefrag", baseline: false },
    { name: "Buffer.allocUnsafe", baseline: true },
    { name: "new Uint8Array", baseline: true },
  ],
  count: 1_000_000,
  quickCount: 20_000,
  async run(opts: WorkloadOptions): Promise<WorkloadResult> {
    const sender = await startSender(opts.count);
    const ck = new Checker();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    try {
      await Promise.race([
        receive(opts.mode, sender.port, ck),
        new Promise((_, reject) =>
          setTimeout(
            () => reject(new Error("tcp-receive: timed out")),
            120_000,
          ).unref?.()
        ),
      ]);
    } finally {
      sender.close();
    }
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const ok = ck.received === opts.count && ck.bad === 0;
    return {
      messages: ck.received,
      ok,
      note: ok
        ? undefined
        : `received ${ck.received} of ${opts.count}, ${ck.bad} bad`,
      timing: { wallMs, cpuUs: cpu.user + cpu.system },
    };
  },
};
