/**
 * A framed TCP echo server to copy: every client sends length-prefixed
 * frames (u32 big-endian length, then the payload); the server receives
 * them straight into page space and sends each frame back *from the same
 * fragment*, which is freed only when its write completed. No copy per
 * frame on the way in (beyond one per `'data'` chunk) and none on the way out.
 *
 * ```sh
 * deno run -A examples/framed_echo_server.ts              # serve on 127.0.0.1:7007
 * npx tsx examples/framed_echo_server.ts --port=9000
 * npx bun examples/framed_echo_server.ts --quick          # serve, run a loopback client, exit
 * ```
 *
 * It uses `node:net`, which Node, Deno and Bun all have. What to keep:
 *
 * - one cache per connection (a receiver must own its cache: the bytes of
 *   a half-received frame sit uncommitted at the cache's next address),
 *   all over one backend, so one memory budget covers every connection;
 * - back-pressure both ways: when the socket's write buffer is full the
 *   connection stops reading until `'drain'`; when the budget is spent the
 *   receiver waits for frees (`prepareAsync`) instead of failing.
 *
 * @module
 */
import net from "node:net";
import process from "node:process";
import { createPageFragCache, HeapBackend } from "../mod.ts";
import {
  FrameReceiver,
  lengthPrefixed,
  NodeFragSender,
  prepareAsync,
  pumpNodeStream,
} from "../io/mod.ts";

/** Largest payload a client may send (a frame must fit a 32 KiB page). */
export const MAX_FRAME = 16 * 1024;

/** Start the echo server; resolves once it listens. */
export async function startEchoServer(
  port = 7007,
  budgetBytes = 8 << 20,
): Promise<net.Server> {
  const backend = new HeapBackend({ maxBytes: budgetBytes });
  // allowHalfOpen: a client that ends its side still gets every echo (we
  // end ours once the last write completed, not when its FIN arrives).
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    const cache = createPageFragCache({ backend });
    const tx = new NodeFragSender(socket, cache);
    let paused = false;
    const resume = () => {
      paused = false;
      socket.resume();
    };
    const rx = new FrameReceiver(
      cache,
      lengthPrefixed({ maxFrame: MAX_FRAME }),
      (frame) => {
        // The fragment holds the whole frame, prefix included: echo it as
        // it is. The sender owns it now and frees it when written.
        if (!tx.send(frame.addr, frame.size) && !paused) {
          paused = true;
          socket.pause();
          socket.once("drain", resume);
        }
      },
    );
    socket.on("error", () => {}); // a client that resets is not our error
    pumpNodeStream(socket, rx, {
      waitForMemory: (bytes) =>
        prepareAsync(cache, bytes, { timeout: 10_000 }).then(() => {}),
    })
      .then(() => tx.flush())
      .then(() => socket.end(), (e) => {
        if (process.env.ECHO_DEBUG) console.error("server:", e);
        socket.destroy();
      });
  });
  await new Promise<void>((resolve) =>
    server.listen(port, "127.0.0.1", resolve)
  );
  return server;
}

/**
 * The `--quick` client: send `count` frames of 1..2000 bytes over one
 * connection, read the echoes back with a receiver of its own, and check
 * each byte. Bounded: rejects after `timeoutMs`.
 */
export async function runEchoClient(
  port: number,
  count = 2000,
  timeoutMs = 30_000,
): Promise<{ frames: number; bad: number }> {
  const socket = net.connect({ port, host: "127.0.0.1" });
  const cache = createPageFragCache();
  const result = { frames: 0, bad: 0 };
  const sizeOf = (i: number) => 1 + ((i * 2654435761) >>> 0) % 2000;
  const rx = new FrameReceiver(
    cache,
    lengthPrefixed({ maxFrame: MAX_FRAME }),
    (f) => {
      const i = result.frames++;
      if (f.length !== sizeOf(i)) result.bad++;
      for (let j = 0; j < f.length; j++) {
        if (f.bytes[f.offset + j] !== ((i + j) & 255)) {
          result.bad++;
          break;
        }
      }
      f.free();
    },
  );
  const done = pumpNodeStream(socket, rx);
  await new Promise((r) => socket.once("connect", r));
  for (let i = 0; i < count; i++) {
    const n = sizeOf(i);
    const frame = new Uint8Array(4 + n);
    new DataView(frame.buffer).setUint32(0, n);
    for (let j = 0; j < n; j++) frame[4 + j] = (i + j) & 255;
    if (!socket.write(frame)) await new Promise((r) => socket.once("drain", r));
  }
  socket.end();
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    done,
    new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error("echo client timed out")),
        timeoutMs,
      );
    }),
  ]).finally(() => clearTimeout(timer));
  socket.destroy();
  cache.drain();
  if (cache.backend.stats().bytesInUse !== 0) result.bad++;
  return result;
}

// deno-lint-ignore no-explicit-any
const isMain = (import.meta as any).main ??
  process.argv[1]?.endsWith("framed_echo_server.ts");
if (isMain) {
  const portArg = process.argv.find((a) => a.startsWith("--port="));
  const quick = process.argv.includes("--quick");
  const server = await startEchoServer(
    quick ? 0 : Number(portArg?.slice(7) ?? 7007),
  );
  const port = (server.address() as net.AddressInfo).port;
  if (!quick) {
    console.log(
      `framed echo server on 127.0.0.1:${port} (u32 BE length + payload)`,
    );
  } else {
    const r = await runEchoClient(port);
    server.close();
    console.log(`echoed ${r.frames} frames, ${r.bad} bad`);
    process.exit(r.frames === 2000 && r.bad === 0 ? 0 : 1);
  }
}
