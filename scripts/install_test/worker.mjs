// The worker of main.mjs: attach to the main thread's shared backend, check
// and free its fragments, then allocate fragments of our own for it to free.
import { createPageFragCache } from "pagefrag";
import { SharedBackend } from "pagefrag/backends/shared";

function work({ descriptor, frags }) {
  const backend = SharedBackend.attach(descriptor);
  for (const f of frags) {
    if (!backend.view(f.addr, f.size).every((b) => b === f.fill)) {
      throw new Error(`fragment at ${f.addr} does not hold ${f.fill}`);
    }
    backend.free(f.addr);
  }
  const cache = createPageFragCache({ backend });
  const mine = [];
  for (let i = 0; i < 100; i++) {
    const addr = cache.allocHandle(200);
    backend.view(addr, 200).fill(255 - i);
    mine.push({ addr, size: 200, fill: 255 - i });
  }
  cache.drain();
  return { ok: true, freed: frags.length, mine };
}

function answer(data) {
  try {
    return work(data);
  } catch (e) {
    return { ok: false, error: String(e?.stack ?? e) };
  }
}

if ("Deno" in globalThis || "Bun" in globalThis) {
  self.onmessage = (e) => self.postMessage(answer(e.data));
} else {
  const { parentPort } = await import("node:worker_threads");
  parentPort.once("message", (data) => parentPort.postMessage(answer(data)));
}
