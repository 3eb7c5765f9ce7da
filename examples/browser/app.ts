/// <reference lib="dom" />
// A picture of the allocator: a cache over a TracingBackend, driven by a
// workload, drawn every frame from snapshot(cache). Bundled by
// scripts/demo_browser.mjs (esbuild); `npm run demo:browser` serves it on
// 127.0.0.1 with COOP/COEP so the shared and wasm backends work too.
import {
  createPageFragCache,
  HeapBackend,
  type MemoryBackend,
  type PageFragCache,
  SharedBackend,
  WasmBackend,
} from "@pagefrag/pagefrag";
import {
  type PageSnapshot,
  snapshot,
  TracingBackend,
} from "@pagefrag/pagefrag/debug";

type Live = { addr: number; until: number };
type Settings = {
  workload: string;
  pageSize: number;
  maxOrder: number;
  refill: "kernel" | "order0";
  pfmemalloc: "kernel" | "deny";
  backend: string;
  budget: number;
  reserve: number;
};

const $ = <T extends HTMLElement>(id: string) =>
  document.getElementById(id) as T;
const form = $<HTMLFormElement>("controls");
const pagesCanvas = $<HTMLCanvasElement>("pages");
const timelineCanvas = $<HTMLCanvasElement>("timeline");
const shot = new URLSearchParams(location.search).has("shot");

// A seeded PRNG: the same picture every run (the screenshot is reproducible).
let seed = 42;
const rand = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

let settings: Settings;
let tracer: TracingBackend;
let cache: PageFragCache;
let live: Live[] = [];
let clock = 0;
let running = !shot;
let lastEvent = 0;
const ticks: { refill: number; recycle: number; release: number }[] = [];

function read(): Settings {
  const f = new FormData(form);
  const s = (k: string) => String(f.get(k));
  return {
    workload: s("workload"),
    pageSize: Number(s("pageSize")),
    maxOrder: Number(s("maxOrder")),
    refill: s("refill") as Settings["refill"],
    pfmemalloc: s("pfmemalloc") as Settings["pfmemalloc"],
    backend: s("backend"),
    budget: Number(s("budget")) * 1024,
    reserve: Number(s("reserve")) * 1024,
  };
}

function makeBackend(s: Settings): MemoryBackend {
  const o = {
    pageSize: s.pageSize,
    maxOrder: s.maxOrder,
    maxBytes: s.budget,
    reserveBytes: s.reserve,
  };
  if (s.backend === "shared") return new SharedBackend(o);
  if (s.backend === "wasm") return new WasmBackend(o);
  return new HeapBackend(o);
}

function reset(): void {
  settings = read();
  seed = 42;
  live = [];
  clock = 0;
  lastEvent = 0;
  ticks.length = 0;
  let note = "";
  let backend: MemoryBackend;
  try {
    backend = makeBackend(settings);
  } catch (e) {
    // Without COOP/COEP: EUNSUPPORTED, naming the headers. Fall back to heap.
    note = `${(e as Error).message.slice(0, 160)}… (showing the heap backend)`;
    backend = makeBackend({ ...settings, backend: "heap" });
  }
  tracer = new TracingBackend(backend);
  cache = createPageFragCache({
    backend: tracer,
    refill: settings.refill,
    pfmemalloc: settings.pfmemalloc,
  });
  $("note").textContent = note ||
    (crossOriginIsolated
      ? "cross-origin isolated: every backend available"
      : "not isolated: heap backend only");
}

const LONG = 0.03; // share of long-lived fragments: they pin pages

function lifetime(mean: number): number {
  return rand() < LONG
    ? 600 + rand() * 600
    : Math.max(1, -Math.log(1 - rand()) * mean);
}

function op(): void {
  clock++;
  // Free what is due (any order: lifetimes differ).
  for (let i = live.length - 1; i >= 0; i--) {
    if (live[i].until <= clock) {
      cache.free(live[i].addr);
      live[i] = live[live.length - 1];
      live.pop();
    }
  }
  const memalloc = rand() < 0.2; // some requests may dip into the reserve
  const max = settings.pageSize << settings.maxOrder;
  if (settings.workload === "skb") {
    // sendmsg-style: a fragment grows by coalescing while it stays contiguous.
    const first = Math.min(max, 64 + Math.floor(rand() * 512));
    if (cache.prepare(first, { memalloc }) === null) return;
    const addr = cache.commit(first);
    let len = first;
    for (let n = Math.floor(rand() * 4); n > 0; n--) {
      const more = 128 + Math.floor(rand() * 768);
      const p = cache.prepare(more);
      if (p === null) break;
      if (p.addr !== addr + len) {
        cache.abort(cache.commit(more)); // a new page: this skb stops growing
        break;
      }
      cache.commitNoref(more);
      len += more;
    }
    cache.backend.view(addr, len).fill(0x45); // the payload (and what the tracer sees)
    live.push({ addr, until: clock + lifetime(12) });
    return;
  }
  const size = settings.workload === "fixed"
    ? Math.min(max, 384)
    : Math.min(max, 32 + Math.floor(rand() * rand() * 2000));
  const frag = cache.alloc(size, { memalloc });
  if (frag === null) return; // out of budget: counted in allocFailures
  frag[0] = 1;
  live.push({
    addr: cache.backend.addressOf(frag),
    until: clock +
      (settings.workload === "fixed" ? (rand() < LONG ? 900 : 1) : lifetime(3)),
  });
}

function tick(ops: number): void {
  for (let i = 0; i < ops; i++) op();
  const t = { refill: 0, recycle: 0, release: 0 };
  for (const e of tracer.events) if (e.time >= lastEvent) t[e.kind]++;
  lastEvent = tracer.events.length > 0
    ? tracer.events[tracer.events.length - 1].time + 1
    : lastEvent;
  ticks.push(t);
  if (ticks.length > 232) ticks.shift();
}

const COLORS = { live: "#2f9e44", freed: "#ced4da", recycled: "#a5d8ff" };

function drawPages(pages: PageSnapshot[]): void {
  const g = pagesCanvas.getContext("2d")!;
  const W = pagesCanvas.width;
  g.clearRect(0, 0, W, pagesCanvas.height);
  const maxBytes = settings.pageSize << settings.maxOrder;
  const left = 128;
  const scale = (W - left - 10) / maxBytes;
  const rowH = Math.max(
    8,
    Math.min(
      26,
      Math.floor((pagesCanvas.height - 8) / Math.max(1, pages.length)) - 4,
    ),
  );
  g.font = "11px system-ui, sans-serif";
  pages.slice(0, Math.floor((pagesCanvas.height - 8) / (rowH + 4))).forEach(
    (p, i) => {
      const y = 6 + i * (rowH + 4);
      const w = p.bytes * scale;
      g.fillStyle = p.pinned ? "#ffd8a8" : "#f1f3f5";
      g.fillRect(left, y, w, rowH);
      for (const f of p.fragments) {
        g.fillStyle = COLORS[f.state];
        g.fillRect(
          left + f.offset * scale,
          y + 2,
          Math.max(1.5, (f.size || 16) * scale - 1),
          rowH - 4,
        );
      }
      g.lineWidth = p.held ? 2.5 : 1;
      g.strokeStyle = p.pinned ? "#e8590c" : p.held ? "#1d2330" : "#adb5bd";
      g.setLineDash(p.pfmemalloc ? [5, 3] : []);
      if (p.pfmemalloc) g.strokeStyle = "#ae3ec9";
      g.strokeRect(left + 0.5, y + 0.5, w - 1, rowH - 1);
      g.setLineDash([]);
      g.fillStyle = "#1d2330";
      const label = `${(p.bytes / 1024).toFixed(0)}K @${p.base.toString(16)}`;
      g.fillText(label, 4, y + rowH / 2 + 4);
      g.fillStyle = "#5b6475";
      g.fillText(
        `${p.held ? "cache" : `r${p.refs}`}${
          p.recycles ? ` ♻${p.recycles}` : ""
        }`,
        84,
        y + rowH / 2 + 4,
      );
    },
  );
}

function drawTimeline(): void {
  const g = timelineCanvas.getContext("2d")!;
  const W = timelineCanvas.width;
  const H = timelineCanvas.height;
  g.clearRect(0, 0, W, H);
  const peak = Math.max(
    4,
    ...ticks.map((t) => t.refill + t.recycle + t.release),
  );
  const bw = W / 232;
  ticks.forEach((t, i) => {
    let y = H;
    for (
      const [k, c] of [["refill", "#1c7ed6"], ["recycle", "#2f9e44"], [
        "release",
        "#868e96",
      ]] as const
    ) {
      const h = (t[k] / peak) * (H - 6);
      g.fillStyle = c;
      g.fillRect(i * bw, y - h, Math.max(1, bw - 1), h);
      y -= h;
    }
  });
}

function drawCounters(): void {
  const s = snapshot(cache);
  const rows: [string, string | number][] = [
    ["cache", ""],
    ["allocations", s.cache.allocs],
    ["failures (no budget)", s.cache.allocFailures],
    ["refills", s.cache.refills],
    ["recycled in place", s.cache.recycles],
    ["fallbacks to order 0", s.cache.fallbacks],
    ["pfmemalloc refills", s.cache.pfmemallocRefills],
    ["backend", ""],
    ["pages in use", s.backend.pagesInUse],
    [
      "KiB in use / budget",
      `${s.backend.bytesInUse >> 10} / ${settings.budget >> 10}`,
    ],
    ["reserve KiB in use", s.backend.reserveInUse >> 10],
    ["pinned pages", s.backend.pinnedPages],
    ["peak KiB", s.backend.peakBytesInUse >> 10],
    ["fragments", ""],
    ["live", s.fragments.live],
    ["freed", s.fragments.freed],
    ["recycled", s.fragments.recycled],
  ];
  $("counters").innerHTML = rows.map(([k, v]) =>
    v === ""
      ? `<tr class="head"><td colspan="2">${k}</td></tr>`
      : `<tr><td>${k}</td><td>${v}</td></tr>`
  ).join("");
  drawPages(s.pages ?? []);
  drawTimeline();
}

function frame(): void {
  if (running) tick(6);
  drawCounters();
  requestAnimationFrame(frame);
}

form.addEventListener("change", reset);
$("toggle").addEventListener("click", () => {
  running = !running;
  $("toggle").textContent = running ? "pause" : "run";
});
$("step").addEventListener("click", () => {
  tick(1);
  drawCounters();
});
$("reset").addEventListener("click", reset);

reset();
if (shot) {
  // The screenshot: a fixed amount of work, then one drawing (no animation,
  // so virtual time in headless Chromium gives the same picture every run).
  for (let i = 0; i < 220; i++) tick(6);
  drawCounters();
  document.title = "ready";
} else {
  requestAnimationFrame(frame);
}
