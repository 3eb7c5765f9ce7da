// A static file server for the browser test and the demo, on 127.0.0.1
// only. With `isolated`, every response carries COOP/COEP (and CORP), which
// makes the page cross-origin isolated: SharedArrayBuffer and shared wasm
// memory exist there. It stops itself: after `timeoutMs`, and (for the
// test) once the page has POSTed its report to /report.
//
//   import { serve } from "./server.mjs";
//   const server = await serve({ root, isolated: true, timeoutMs: 60000 });
//   server.url; await server.report; server.close();
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize, sep } from "node:path";

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".png": "image/png",
  ".svg": "image/svg+xml",
  ".wasm": "application/wasm",
  ".map": "application/json",
};

/**
 * Serve `root`. Resolves once listening, to { url, report, close }:
 * `report` resolves with the first JSON body POSTed to /report (or rejects
 * when `timeoutMs` passes first); `close()` stops the server.
 */
export function serve(
  { root, isolated = false, port = 0, timeoutMs = 120_000 },
) {
  let deliver, fail;
  const report = new Promise((resolve, reject) => {
    deliver = resolve;
    fail = reject;
  });
  report.catch(() => {}); // a caller that never awaits it must not crash
  const server = createServer(async (req, res) => {
    const headers = { "Cache-Control": "no-store" };
    if (isolated) {
      headers["Cross-Origin-Opener-Policy"] = "same-origin";
      headers["Cross-Origin-Embedder-Policy"] = "require-corp";
      headers["Cross-Origin-Resource-Policy"] = "same-origin";
    }
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (req.method === "POST" && url.pathname === "/report") {
      let body = "";
      for await (const chunk of req) body += chunk;
      res.writeHead(204, headers).end();
      try {
        deliver(JSON.parse(body));
      } catch (e) {
        fail(e);
      }
      return;
    }
    const rel = normalize(decodeURIComponent(url.pathname)).replace(
      /^[/\\]+/,
      "",
    );
    const path = join(
      root,
      rel === "" || rel.endsWith(sep) ? join(rel, "index.html") : rel,
    );
    if (!path.startsWith(normalize(root))) {
      res.writeHead(403, headers).end();
      return;
    }
    try {
      const data = await readFile(path);
      headers["Content-Type"] = TYPES[extname(path)] ??
        "application/octet-stream";
      res.writeHead(200, headers).end(data);
    } catch {
      res.writeHead(404, headers).end("not found");
    }
  });
  const timer = setTimeout(() => {
    fail(new Error(`no report within ${timeoutMs} ms`));
    server.close();
    server.closeAllConnections?.();
  }, timeoutMs);
  timer.unref?.();
  const close = () => {
    clearTimeout(timer);
    server.close();
    server.closeAllConnections?.();
  };
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      const { port: p } = server.address();
      resolve({ url: `http://127.0.0.1:${p}/`, report, close });
    });
  });
}
