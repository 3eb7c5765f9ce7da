/**
 * Start a worker from a module URL on Deno, Bun or Node, hand it data, and
 * await its result: the one worker bootstrap of the tests and the
 * benchmarks (`bench/page_frag_selftest.ts` starts its workers with
 * {@linkcode startWorker}). Workers use `node:worker_threads`, which all three
 * runtimes support; worker entry scripts live in `test/workers/` and call
 * {@linkcode workerMain}.
 *
 * Node 20 cannot run a `.ts` worker by itself, and `execArgv: ["--import",
 * "tsx"]` does not reach a worker's module loader there (the worker fails
 * with ERR_UNKNOWN_FILE_EXTENSION), so on Node the worker is a one-line
 * bootstrap that registers tsx in the worker and then imports the entry.
 */
import { parentPort, Worker, workerData } from "node:worker_threads";

/** Which runtime runs this program (the tests' and the benchmarks' one check). */
export const RUNTIME: "deno" | "bun" | "node" = "Deno" in globalThis
  ? "deno"
  : "Bun" in globalThis
  ? "bun"
  : "node";

type Reply<T> = { ok: true; result: T } | { ok: false; error: string };

/** Start the worker whose entry module is `url`, with `data` as its `workerData`. */
export function startWorker(url: URL, data: unknown): Worker {
  if (RUNTIME !== "node") return new Worker(url, { workerData: data });
  const tsx = import.meta.resolve("tsx/esm/api");
  const boot = `import(${JSON.stringify(tsx)}).then((m) => {
    m.register();
    return import(${JSON.stringify(url.href)});
  });`;
  return new Worker(boot, { eval: true, workerData: data });
}

/**
 * Run one worker per element of `data`, all from the entry module at `url`,
 * and resolve with what each one's {@linkcode workerMain} function returned
 * (in order). If any worker fails, or they are not all done after
 * `timeoutMs`, every worker is terminated and the promise rejects with the
 * first error. The promise settles only once every worker has exited, so a
 * test never leaves one running.
 */
export function runWorkers<T>(
  url: URL,
  data: unknown[],
  timeoutMs = 120_000,
): Promise<T[]> {
  return new Promise<T[]>((resolve, reject) => {
    const workers = data.map((d) => startWorker(url, d));
    const results: T[] = [];
    let failure: unknown;
    let running = workers.length;
    const stopAll = () => {
      for (const w of workers) void w.terminate();
    };
    const fail = (e: unknown) => {
      if (failure === undefined) {
        failure = e;
        stopAll();
      }
    };
    const timer = setTimeout(
      () =>
        fail(
          new Error(`workers ${url.pathname} not done after ${timeoutMs} ms`),
        ),
      timeoutMs,
    );
    workers.forEach((worker, i) => {
      let reply: Reply<T> | undefined;
      worker.on("message", (m: Reply<T>) => {
        reply = m;
      });
      worker.on("error", fail);
      worker.on("exit", (code: number) => {
        if (reply?.ok === true) results[i] = reply.result;
        else if (reply?.ok === false) fail(new Error(reply.error));
        else fail(new Error(`worker ${i} exited (${code}) without a result`));
        if (--running === 0) {
          clearTimeout(timer);
          if (failure !== undefined) reject(failure);
          else resolve(results);
        }
      });
    });
  });
}

/** Run one worker: {@linkcode runWorkers} with a single datum. */
export async function runWorker<T>(
  url: URL,
  data: unknown,
  timeoutMs = 120_000,
): Promise<T> {
  const [result] = await runWorkers<T>(url, [data], timeoutMs);
  return result;
}

/**
 * The body of a worker entry script: run `fn` on the worker's data and post
 * its result (or its error) to the parent. The worker then exits by itself
 * (it holds no handles).
 */
export function workerMain<D, T>(fn: (data: D) => T | Promise<T>): void {
  const port = parentPort;
  if (port === null) throw new Error("workerMain() outside a worker");
  Promise.resolve()
    .then(() => fn(workerData as D))
    .then(
      (result) => port.postMessage({ ok: true, result } satisfies Reply<T>),
      (e: unknown) =>
        port.postMessage(
          {
            ok: false,
            error: e instanceof Error ? e.stack ?? e.message : String(e),
          } satisfies Reply<T>,
        ),
    );
}

/**
 * Wait in a worker until `parties` workers have arrived at slot `index` of
 * `flags`, so that workers started one after the other run their main loops
 * at the same time.
 */
export function barrier(
  flags: Int32Array,
  index: number,
  parties: number,
): void {
  Atomics.add(flags, index, 1);
  for (;;) {
    const n = Atomics.load(flags, index);
    if (n >= parties) break;
    Atomics.wait(flags, index, n, 5);
  }
}
