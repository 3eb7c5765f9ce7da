/**
 * Start a benchmark worker from a `.ts` module on Deno, Bun or Node. Node
 * cannot run a `.ts` worker by itself (and `execArgv: ["--import", "tsx"]`
 * does not reach a worker's loader on Node 20), so there the worker is a
 * bootstrap that registers tsx and then imports the entry, as
 * test/worker_util.ts does for the tests.
 *
 * @module
 */
import { Worker } from "node:worker_threads";

const isNode = typeof (globalThis as { Deno?: unknown }).Deno === "undefined" &&
  typeof (globalThis as { Bun?: unknown }).Bun === "undefined";

/** A worker running the module at `url` with `data` as its `workerData`. */
export function startWorker(url: URL, data: unknown): Worker {
  if (!isNode) return new Worker(url, { workerData: data });
  const tsx = import.meta.resolve("tsx/esm/api");
  const boot = `import(${JSON.stringify(tsx)}).then((m) => {
    m.register();
    return import(${JSON.stringify(url.href)});
  });`;
  return new Worker(boot, { eval: true, workerData: data });
}
