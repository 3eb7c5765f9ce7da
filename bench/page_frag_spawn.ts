/**
 * Start a TypeScript worker the same way on Deno, Bun and Node, with
 * `node:worker_threads` (which all three provide).
 *
 * Node 20 cannot run `.ts` itself. Passing `execArgv: ["--import", "tsx"]`
 * to the worker is not enough (Node 20.20 with tsx 4.23 still fails on the
 * worker's entry with ERR_UNKNOWN_FILE_EXTENSION), so on Node the worker is a
 * two-line evaluated bootstrap that registers tsx's loader in the worker
 * thread (`tsx/esm/api`'s `register()`) and then imports the `.ts` module.
 *
 * @module
 */
import { Worker } from "node:worker_threads";

/** Which runtime runs this program. */
export const RUNTIME: "deno" | "bun" | "node" = "Deno" in globalThis
  ? "deno"
  : "Bun" in globalThis
  ? "bun"
  : "node";

/** The runtime's name and version, for reports. */
export function runtimeVersion(): string {
  const g = globalThis as {
    Deno?: { version: { deno: string; v8: string } };
    Bun?: { version: string };
  };
  if (g.Deno) return `Deno ${g.Deno.version.deno} (V8 ${g.Deno.version.v8})`;
  if (g.Bun) return `Bun ${g.Bun.version} (JavaScriptCore)`;
  return `Node ${process.versions.node} (V8 ${process.versions.v8})`;
}

/** Start the worker module at `url` (a `.ts` file) with `workerData`. */
export function spawnWorker(url: URL, workerData: unknown): Worker {
  if (RUNTIME !== "node") return new Worker(url, { workerData });
  const tsx = import.meta.resolve("tsx/esm/api");
  const bootstrap = `import(${JSON.stringify(tsx)}).then(({ register }) => {
    register();
    return import(${JSON.stringify(url.href)});
  });`;
  return new Worker(bootstrap, { eval: true, workerData });
}

/**
 * Wait for the next message from `worker` that satisfies `accept`; rejects
 * when the worker fails or exits first.
 */
export function nextMessage<T>(
  worker: Worker,
  accept: (msg: T) => boolean = () => true,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onMessage = (msg: T) => {
      if (!accept(msg)) return;
      done();
      resolve(msg);
    };
    const onError = (err: unknown) => {
      done();
      reject(err);
    };
    const onExit = (code: number) => {
      done();
      reject(new Error(`worker exited (code ${code}) before answering`));
    };
    const done = () => {
      worker.off("message", onMessage);
      worker.off("error", onError);
      worker.off("exit", onExit);
    };
    worker.on("message", onMessage);
    worker.on("error", onError);
    worker.on("exit", onExit);
  });
}
