// The push adapters under a spent budget: they pause the source, wait for
// memory through waitForMemory, push what was held back in order, resume,
// and end only after the backlog (fake sources: no sockets needed).
import { test } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { createPageFragCache } from "../mod.ts";
import {
  bunSocketHandlers,
  type Frame,
  FrameReceiver,
  lengthPrefixed,
  nodeFrames,
  pumpNodeStream,
} from "../io/mod.ts";

/** 60 frames of 1000 bytes (u16 length), byte j of frame i = i. */
function stream(): Uint8Array {
  const out = new Uint8Array(60 * 1002);
  for (let i = 0; i < 60; i++) {
    out[i * 1002] = 1000 >> 8;
    out[i * 1002 + 1] = 1000 & 255;
    out.fill(i, i * 1002 + 2, (i + 1) * 1002);
  }
  return out;
}

test("bunSocketHandlers: pause, wait for memory, resume, all frames in order", async () => {
  const cache = createPageFragCache({ maxBytes: 32768 }); // one page
  const held: Frame[] = [];
  const order: number[] = [];
  const rx = new FrameReceiver(cache, lengthPrefixed({ width: 2 }), (f) => {
    order.push(f.bytes[f.offset]);
    held.push(f.clone());
  });
  let pauses = 0, resumes = 0, waits = 0;
  const socket = { pause: () => pauses++, resume: () => resumes++, end() {} };
  const h = bunSocketHandlers(rx, {
    waitForMemory: async () => {
      waits++;
      await new Promise((r) => setTimeout(r, 1));
      for (const f of held.splice(0)) f.free();
    },
  });
  const bytes = stream();
  for (let i = 0; i < bytes.length; i += 4000) {
    h.data(socket, bytes.slice(i, i + 4000));
  }
  h.end(socket);
  await h.done;
  assert.deepEqual(
    order,
    Array.from({ length: 60 }, (_, i) => i),
    "every frame, in order",
  );
  assert.ok(pauses > 0 && pauses === resumes, "paused and resumed as often");
  assert.ok(waits > 0);
  for (const f of held) f.free();
  cache.drain();
  assert.equal(cache.backend.stats().bytesInUse, 0);
});

class FakeReadable extends EventEmitter {
  paused = 0;
  resumed = 0;
  destroyed = false;
  pause() {
    this.paused++;
    return this;
  }
  resume() {
    this.resumed++;
    return this;
  }
  destroy() {
    this.destroyed = true;
    this.emit("close");
    return this;
  }
}

test("pumpNodeStream: data and even 'end' after pause wait for the backlog", async () => {
  const cache = createPageFragCache({ maxBytes: 32768 });
  const held: Frame[] = [];
  const order: number[] = [];
  const rx = new FrameReceiver(cache, lengthPrefixed({ width: 2 }), (f) => {
    order.push(f.bytes[f.offset]);
    held.push(f.clone());
  });
  const src = new FakeReadable();
  const done = pumpNodeStream(src, rx, {
    waitForMemory: async () => {
      await new Promise((r) => setTimeout(r, 1));
      for (const f of held.splice(0)) f.free();
    },
  });
  const bytes = stream();
  // A source that ignores pause(): everything, then 'end', at once.
  for (let i = 0; i < bytes.length; i += 5000) {
    src.emit("data", bytes.slice(i, i + 5000));
  }
  src.emit("end");
  await done;
  assert.deepEqual(order, Array.from({ length: 60 }, (_, i) => i));
  assert.ok(src.paused > 0);
  for (const f of held) f.free();
});

test("nodeFrames: breaking out frees the queued frames and destroys the source", async () => {
  const cache = createPageFragCache();
  const src = new FakeReadable();
  const it = nodeFrames(src, cache, lengthPrefixed({ width: 2 }));
  const bytes = stream();
  src.emit("data", bytes); // 60 frames queued at once
  src.emit("data", new Uint8Array(0));
  const first = await it.next();
  assert.equal(first.done, false);
  first.value!.free();
  await it.return!();
  assert.ok(src.destroyed, "breaking out closes the source");
  cache.drain();
  assert.equal(cache.backend.stats().bytesInUse, 0, "queued frames were freed");
});
