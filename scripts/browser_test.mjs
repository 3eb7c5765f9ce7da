#!/usr/bin/env node
// The browser test: the contract suites in headless Chromium, from pages
// served on 127.0.0.1 twice, without and with cross-origin isolation
// (COOP/COEP). Heap everywhere; shared and wasm when isolated, and when not,
// that they refuse with EUNSUPPORTED naming the headers. Then a screenshot
// of the allocator picture (examples/browser/) into docs/allocator.png.
//
//   npm run test:browser        (also a step of `npm test`)
//
// Chromium: $CHROMIUM, else chromium-headless-shell or chromium on PATH
// (Debian's packages; .ci/run installs chromium-headless-shell when
// missing). It runs as root in CI, hence --no-sandbox; the other flags keep
// it off the network (this machine's network is closed, and Chromium's
// background services would retry forever). Any failed test, a page that
// reports nothing within the timeout, or a missing browser fails the run.
// PAGEFRAG_SKIP_BROWSER=1 skips it (said loudly, exit 0).
import { spawn, spawnSync } from "node:child_process";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { serve } from "../test/browser/server.mjs";
import { buildDemo } from "./demo_browser.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const TIMEOUT = Number(process.env.PAGEFRAG_BROWSER_TIMEOUT ?? 180_000);

if (process.env.PAGEFRAG_SKIP_BROWSER === "1") {
  console.log("browser test SKIPPED (PAGEFRAG_SKIP_BROWSER=1)");
  process.exit(0);
}

export function findChromium() {
  const candidates = [
    process.env.CHROMIUM,
    "chromium-headless-shell",
    "chromium",
  ].filter(Boolean);
  for (const c of candidates) {
    const r = spawnSync(c, ["--version"], { encoding: "utf8" });
    if (r.status === 0) return { bin: c, version: r.stdout.trim() };
  }
  throw new Error(
    "no Chromium found (tried $CHROMIUM, chromium-headless-shell, chromium): " +
      "apt-get install chromium-headless-shell (bash .ci/run does), or set PAGEFRAG_SKIP_BROWSER=1",
  );
}

export const chromiumFlags = (profile) => [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
  `--user-data-dir=${profile}`,
];

/** Run Chromium to completion (killed after `ms`); resolves { status, stderr }. */
function run(bin, args, ms) {
  return new Promise((resolve) => {
    const child = spawn(bin, args, {
      stdio: ["ignore", "ignore", "pipe"],
      detached: true,
    });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr = (stderr + d).slice(-8000)));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch { /* gone */ }
    }, ms);
    child.once("exit", (status) => {
      clearTimeout(timer);
      resolve({ status, stderr });
    });
  });
}

/** Start Chromium on `url`; returns a stop() that ends it (its own process group). */
function open(bin, url, profile) {
  const child = spawn(bin, [
    ...chromiumFlags(profile),
    "--remote-debugging-port=0",
    url,
  ], {
    stdio: ["ignore", "ignore", "pipe"],
    detached: true,
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr = (stderr + d).slice(-4000)));
  const exited = new Promise((resolve) => child.once("exit", resolve));
  return {
    exited,
    stderr: () => stderr,
    stop() {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch { /* already gone */ }
      return exited;
    },
  };
}

async function main() {
  const t0 = Date.now();
  const { bin, version } = findChromium();
  const work = mkdtempSync(join(tmpdir(), "pagefrag-browser-"));
  try {
    // The suite bundle, from the portable suites (no node: module).
    const site = join(work, "suite");
    mkdirSync(site);
    await build({
      entryPoints: [join(root, "test/browser/entry.ts")],
      bundle: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      outfile: join(site, "bundle.js"),
      logLevel: "error",
    });
    copyFileSync(
      join(root, "test/browser/index.html"),
      join(site, "index.html"),
    );
    const kib = Math.round(statSync(join(site, "bundle.js")).size / 1024);
    console.log(`${version}; suite bundle ${kib} KiB (esbuild)`);

    let failed = 0;
    for (const isolated of [false, true]) {
      const server = await serve({ root: site, isolated, timeoutMs: TIMEOUT });
      const browser = open(bin, server.url, join(work, `profile-${isolated}`));
      let report;
      try {
        report = await Promise.race([
          server.report,
          browser.exited.then((code) => {
            throw new Error(
              `Chromium exited (${code}) before the page reported:\n${browser.stderr()}`,
            );
          }),
        ]);
      } finally {
        await browser.stop();
        server.close();
      }
      const label = isolated ? "with COOP/COEP   " : "without COOP/COEP";
      if (report.isolated !== isolated) {
        failed++;
        console.log(`FAIL ${label}: crossOriginIsolated is ${report.isolated}`);
      }
      console.log(
        `${
          report.failures.length === 0 ? "ok  " : "FAIL"
        } ${label}: ${report.passed}/${report.total} tests passed${
          report.skipped.length
            ? `, ${report.skipped.length} skipped (need SharedArrayBuffer)`
            : ""
        } in ${report.ms} ms (crossOriginIsolated ${report.isolated}, SharedArrayBuffer ${report.sharedArrayBuffer})`,
      );
      for (const f of report.failures) {
        console.log(
          `  - ${f.name}\n      ${f.error.split("\n").join("\n      ")}`,
        );
      }
      failed += report.failures.length;
    }

    // The allocator picture, screenshotted into docs/allocator.png.
    const demo = join(work, "demo");
    await buildDemo(demo);
    const server = await serve({
      root: demo,
      isolated: true,
      timeoutMs: TIMEOUT,
    });
    const png = join(root, "docs", "allocator.png");
    // Asynchronous: the server runs in this process and must keep serving.
    const shot = await run(bin, [
      ...chromiumFlags(join(work, "profile-shot")),
      "--hide-scrollbars",
      "--window-size=1200,860",
      "--virtual-time-budget=5000",
      `--screenshot=${png}`,
      server.url + "?shot=1",
    ], 90_000);
    server.close();
    if (shot.status !== 0) {
      failed++;
      console.log(
        `FAIL screenshot: exit ${shot.status}\n${shot.stderr.slice(-2000)}`,
      );
    } else {
      console.log(
        `ok   screenshot of examples/browser/ -> docs/allocator.png (${
          Math.round(statSync(png).size / 1024)
        } KiB)`,
      );
    }
    console.log(
      `browser test ${failed === 0 ? "passed" : `FAILED (${failed})`} in ${
        Date.now() - t0
      } ms`,
    );
    return failed === 0 ? 0 : 1;
  } finally {
    rmSync(work, {
      recursive: true,
      force: true,
      maxRetries: 5,
      retryDelay: 200,
    });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().then((code) => process.exit(code), (e) => {
    console.error(e);
    process.exit(1);
  });
}
