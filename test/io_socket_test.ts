// Real loopback sockets on every runtime that has them: fragments written
// with FragWriter and the senders (freed only when the write completed)
// arrive intact through the receive adapters.
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { createPageFragCache, type PageFragCache } from "../mod.ts";
import {
  BunFragSender,
  bunSocketHandlers,
  FragWriter,
  type Frame,
  FrameReceiver,
  lengthPrefixed,
  NodeFragSender,
  nodeFrames,
  nodeOnread,
  pumpNodeStream,
  pumpReader,
  readFrames,
  writeFragsDeno,
} from "../io/mod.ts";

const COUNT = 5000;
const sizeOf = (i: number) => 16 + ((i * 2654435761) >>> 0) % 1009;

/** Write message i: u32 length, u32 i, then (i*31+j)&255. */
function writeMessage(w: FragWriter, i: number): void {
  const n = sizeOf(i);
  const m = w.reserve(4);
  w.u32(i);
  for (let j = 4; j < n; j++) w.u8((i * 31 + j) & 255);
  w.fillLength(m);
}

/** A frame handler that checks message order and bytes; `bad` counts damage. */
function verifier() {
  const state = { next: 0, bad: 0 };
  const onFrame = (f: Frame) => {
    const b = f.bytes, o = f.offset;
    const i = ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>>
      0;
    if (i !== state.next || f.length !== sizeOf(i)) state.bad++;
    for (let j = 4; j < f.length; j++) {
      if (b[o + j] !== ((i * 31 + j) & 255)) {
        state.bad++;
        break;
      }
    }
    state.next++;
    f.free();
  };
  return { state, onFrame };
}

function drained(cache: PageFragCache, what: string) {
  cache.drain();
  assert.equal(
    cache.backend.stats().bytesInUse,
    0,
    `${what}: every fragment was freed`,
  );
}

/** A node:net server that writes COUNT messages through NodeFragSender and closes. */
async function nodeSender(): Promise<
  { port: number; close: () => void; done: Promise<PageFragCache> }
> {
  let resolveDone!: (c: PageFragCache) => void;
  const done = new Promise<PageFragCache>((r) => resolveDone = r);
  const server = net.createServer(async (socket) => {
    const cache = createPageFragCache({ maxBytes: 1 << 20 });
    const w = new FragWriter(cache);
    const tx = new NodeFragSender(socket, cache);
    for (let i = 0; i < COUNT; i++) {
      writeMessage(w, i);
      let addr = w.finish();
      while (addr === null) {
        // The 1 MiB budget is spent on writes in flight: wait for their
        // callbacks (which free them), then write the message again.
        await tx.flush();
        writeMessage(w, i);
        addr = w.finish();
      }
      // One fragment per message unless it outgrew its page.
      if (w.fragments.count === 1) {
        if (!tx.send(addr, w.lastBytes)) {
          await new Promise((r) => socket.once("drain", r));
        }
      } else await tx.sendList(w.fragments);
    }
    await tx.flush();
    socket.end();
    resolveDone(cache);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  return { port, close: () => server.close(), done };
}

test("node:net: NodeFragSender -> nodeOnread (reads in place)", async () => {
  const srv = await nodeSender();
  const cache = createPageFragCache();
  const v = verifier();
  const rx = new FrameReceiver(
    cache,
    lengthPrefixed({ maxFrame: 2048 }),
    v.onFrame,
  );
  const onread = nodeOnread(rx);
  const socket = net.connect({ port: srv.port, host: "127.0.0.1", onread });
  await pumpNodeStream(socket, rx, { onread });
  socket.destroy();
  srv.close();
  assert.equal(v.state.next, COUNT, "every message arrived");
  assert.equal(
    v.state.bad,
    0,
    "no message damaged (the sender freed after each write)",
  );
  drained(cache, "receiver");
  drained(await srv.done, "sender");
});

test("node:net: 'data' path on an accepted socket, and nodeFrames", async () => {
  // Client sends, server receives with pumpNodeStream (no onread there).
  const cache = createPageFragCache();
  const v = verifier();
  let resolve!: () => void;
  const got = new Promise<void>((r) => resolve = r);
  const server = net.createServer((socket) => {
    const rx = new FrameReceiver(
      cache,
      lengthPrefixed({ maxFrame: 2048 }),
      v.onFrame,
    );
    pumpNodeStream(socket, rx).then(resolve, (e) => {
      v.state.bad++;
      console.error(e);
      resolve();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  const txCache = createPageFragCache();
  const client = net.connect({ port, host: "127.0.0.1" });
  await new Promise((r) => client.once("connect", r));
  const tx = new NodeFragSender(client, txCache);
  const w = new FragWriter(txCache);
  for (let i = 0; i < COUNT; i++) {
    writeMessage(w, i);
    w.finish();
    await tx.sendList(w.fragments);
  }
  await tx.flush();
  client.end();
  await got;
  server.close();
  assert.equal(v.state.next, COUNT);
  assert.equal(v.state.bad, 0);
  drained(cache, "receiver");
  drained(txCache, "sender");

  // And the for-await form over a client socket.
  const srv = await nodeSender();
  const socket = net.connect({ port: srv.port, host: "127.0.0.1" });
  const rxCache = createPageFragCache();
  const v2 = verifier();
  for await (const f of nodeFrames(socket, rxCache, lengthPrefixed())) {
    v2.onFrame(f);
  }
  srv.close();
  assert.equal(v2.state.next, COUNT);
  assert.equal(v2.state.bad, 0);
  drained(rxCache, "nodeFrames");
  drained(await srv.done, "sender");
});

// deno-lint-ignore no-explicit-any
const D = (globalThis as any).Deno;
// deno-lint-ignore no-explicit-any
const B = (globalThis as any).Bun;

test("Deno.listen/Deno.connect: writeFragsDeno -> pumpReader and readFrames", async (t) => {
  if (D?.listen === undefined) return t.skip("no Deno.listen on this runtime");
  for (const form of ["pumpReader", "readFrames"]) {
    const listener = D.listen({ hostname: "127.0.0.1", port: 0 });
    const txCache = createPageFragCache();
    const sending = (async () => {
      const conn = await listener.accept();
      const w = new FragWriter(txCache);
      for (let i = 0; i < COUNT; i++) {
        writeMessage(w, i);
        w.finish();
        await writeFragsDeno(conn, w.fragments);
      }
      conn.close();
    })();
    const conn = await D.connect({
      hostname: "127.0.0.1",
      port: listener.addr.port,
    });
    const cache = createPageFragCache();
    const v = verifier();
    if (form === "pumpReader") {
      await pumpReader(
        conn,
        new FrameReceiver(cache, lengthPrefixed(), v.onFrame),
      );
    } else {
      for await (const f of readFrames(conn, cache, lengthPrefixed())) {
        v.onFrame(f);
      }
    }
    await sending;
    conn.close();
    listener.close();
    assert.equal(v.state.next, COUNT, `${form}: every message`);
    assert.equal(v.state.bad, 0, `${form}: intact`);
    drained(cache, form);
    drained(txCache, "sender");
  }
});

test("Bun.listen/Bun.connect: BunFragSender -> bunSocketHandlers", async (t) => {
  if (B?.listen === undefined) return t.skip("no Bun.listen on this runtime");
  const txCache = createPageFragCache();
  let sent!: () => void;
  const allSent = new Promise<void>((r) => sent = r);
  const senders = new Map<
    unknown,
    { tx: BunFragSender; i: number; w: FragWriter }
  >();
  // deno-lint-ignore no-explicit-any
  const pump = (socket: any) => {
    const s = senders.get(socket)!;
    while (s.i < COUNT) {
      writeMessage(s.w, s.i++);
      s.w.finish();
      if (!s.tx.sendList(s.w.fragments)) return; // wait for drain
    }
    if (s.tx.queued === 0) {
      socket.end();
      sent();
    }
  };
  const server = B.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      // deno-lint-ignore no-explicit-any
      open(socket: any) {
        senders.set(socket, {
          tx: new BunFragSender(socket, txCache),
          i: 0,
          w: new FragWriter(txCache),
        });
        pump(socket);
      },
      // deno-lint-ignore no-explicit-any
      drain(socket: any) {
        if (senders.get(socket)!.tx.drain()) pump(socket);
      },
      data() {},
    },
  });
  const cache = createPageFragCache();
  const v = verifier();
  const rx = new FrameReceiver(cache, lengthPrefixed(), v.onFrame);
  const h = bunSocketHandlers(rx);
  await B.connect({ hostname: "127.0.0.1", port: server.port, socket: h });
  await h.done;
  await allSent;
  server.stop(true);
  assert.equal(v.state.next, COUNT, "every message");
  assert.equal(
    v.state.bad,
    0,
    "intact: each fragment freed only once Bun took all its bytes",
  );
  drained(cache, "receiver");
  drained(txCache, "sender");
});
