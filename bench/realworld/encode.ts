/**
 * Workload (b) `encode`: `count` records of 48-484 bytes, each encoded as
 * a length-prefixed binary record (u32 length | u32 id | f64 timestamp |
 * u8 kind | u16 name length | UTF-8 name | u16 payload length | payload),
 * kept alive for a random number of steps (1-511, a timing wheel), then
 * checked (one record in 16, every field) and dropped.
 *
 * - `pagefrag`: a {@linkcode FragWriter} over its own cache: `begin(484)`
 *   (each record one fragment), prefixes reserved and filled afterwards (no
 *   pass to measure the name first), strings encoded in place; the record
 *   is an address in the wheel and is freed when its time is up.
 * - `Buffer.allocUnsafe`: measure (`Buffer.byteLength`), allocate, and
 *   write with the Buffer methods; dropping is the garbage collector's.
 * - `new Uint8Array`: the same with a `DataView` and
 *   `TextEncoder.encodeInto`.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import process from "node:process";
import { createPageFragCache } from "../../mod.ts";
import { FragWriter } from "../../io/mod.ts";
import type { Workload, WorkloadOptions, WorkloadResult } from "./workload.ts";

const WHEEL = 512;
const MAX_RECORD = 484;
const FIXED = 21; // every field but the name's and the payload's bytes

/** Names of 8-40 UTF-8 bytes, a few not ASCII. */
const NAMES: string[] = [];
for (let i = 0; i < 64; i++) {
  const base = "user-" + i.toString(36) + "-" + "abcdefghij".repeat(4);
  let s = base.slice(0, 8 + (i * 7) % 30);
  if (i % 8 === 0) s = s.slice(0, -4) + "é€";
  NAMES.push(s);
}
const NAME_BYTES = NAMES.map((s) => Buffer.byteLength(s));
const NAME_LAST = NAMES.map((s) => {
  const b = new TextEncoder().encode(s);
  return b[b.length - 1];
});
const POOL = Buffer.alloc(4096);
for (let i = 0; i < POOL.length; i++) POOL[i] = (i * 131 + 7) & 255;

/** One record's fields, drawn from a seeded xorshift (the same in every mode). */
class Source {
  #x = 0x9e3779b9;
  id = 0;
  ts = 0;
  kind = 0;
  name = 0;
  plen = 0;
  pstart = 0;
  life = 0;
  next(id: number): void {
    let x = this.#x;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#x = x >>> 0;
    const r = this.#x;
    this.id = id;
    this.ts = id * 0.25;
    this.kind = r & 7;
    this.name = nameOf(id);
    const room = MAX_RECORD - FIXED - NAME_BYTES[this.name];
    const min = 48 - FIXED - NAME_BYTES[this.name];
    this.plen = Math.max(min, 1) + ((r >>> 9) % (room - Math.max(min, 1) + 1));
    this.pstart = pstartOf(id);
    this.life = 1 + ((r >>> 20) % (WHEEL - 1));
  }
}

/** Where record `id`'s name and payload come from (derived from the id, so a reader can check them). */
const nameOf = (id: number) => (id * 7) & 63;
const pstartOf = (id: number) => (id * 37) & 2047;

/** Decode a record at `dv[o]` and compare every field with what record `expectId` holds. */
function check(dv: DataView, o: number, expectId: number): boolean {
  const len = dv.getUint32(o);
  const id = dv.getUint32(o + 4);
  if (id !== expectId || dv.getFloat64(o + 8) !== id * 0.25) return false;
  const nlen = dv.getUint16(o + 17);
  const name = nameOf(id);
  if (nlen !== NAME_BYTES[name]) return false;
  if (dv.getUint8(o + 19) !== NAMES[name].charCodeAt(0)) return false;
  if (dv.getUint8(o + 19 + nlen - 1) !== NAME_LAST[name]) return false;
  const plen = dv.getUint16(o + 19 + nlen);
  if (len !== FIXED - 4 + nlen + plen || len + 4 > MAX_RECORD) return false;
  const p = o + 21 + nlen, start = pstartOf(id);
  for (let i = 0; i < plen; i += 37) {
    if (dv.getUint8(p + i) !== POOL[start + i]) return false;
  }
  return dv.getUint8(p + plen - 1) === POOL[start + plen - 1];
}

interface Mode {
  /** Encode the record `src` describes into wheel slot `slot`. */
  put(src: Source, slot: number): void;
  /** Drop every record of wheel slot `slot`, checking some; false if one was bad. */
  drop(slot: number): boolean;
  /** After the run: did everything go back? */
  finish(): boolean;
}

/**
 * The timing wheel, allocation-free so that it costs every mode the same
 * and adds no garbage: a record lives at most WHEEL - 1 steps and one is
 * made per step, so at most WHEEL are alive and record `id` can sit in
 * `RING` slot `id & (RING - 1)`; each wheel slot is a linked list through
 * `next`.
 */
const RING = WHEEL * 2;
class Wheel {
  readonly head = new Int32Array(WHEEL).fill(-1);
  readonly next = new Int32Array(RING);
  readonly ids = new Int32Array(RING);
  add(slot: number, id: number): number {
    const k = id & (RING - 1);
    this.ids[k] = id;
    this.next[k] = this.head[slot];
    this.head[slot] = k;
    return k;
  }
}

function pagefragMode(): Mode {
  const cache = createPageFragCache();
  const w = new FragWriter(cache, { minChunk: MAX_RECORD });
  const wheel = new Wheel();
  const addrs = new Float64Array(RING);
  const backend = cache.backend;
  return {
    put(s, slot) {
      w.begin(MAX_RECORD);
      const len = w.reserve(4);
      w.u32(s.id).f64(s.ts).u8(s.kind);
      const nl = w.reserve(2);
      w.string(NAMES[s.name]).fillLength(nl);
      w.u16(s.plen).bytes(POOL, s.pstart, s.pstart + s.plen);
      w.fillLength(len);
      addrs[wheel.add(slot, s.id)] = w.finish()!;
    },
    drop(slot) {
      let ok = true;
      for (let k = wheel.head[slot]; k !== -1; k = wheel.next[k]) {
        const id = wheel.ids[k];
        if ((id & 15) === 0) {
          const v = backend.view(addrs[k], 4);
          const n = 4 + new DataView(v.buffer, v.byteOffset).getUint32(0);
          const full = backend.view(addrs[k], Math.min(n, MAX_RECORD));
          ok &&= check(
            new DataView(full.buffer, full.byteOffset, full.length),
            0,
            id,
          );
        }
        cache.free(addrs[k]);
      }
      wheel.head[slot] = -1;
      return ok;
    },
    finish() {
      cache.drain();
      return backend.stats().bytesInUse === 0;
    },
  };
}

/** The baselines: each record its own object, dropped for the GC. */
function objectMode(encode: (s: Source) => Uint8Array): Mode {
  const wheel = new Wheel();
  const recs: (Uint8Array | undefined)[] = new Array(RING).fill(undefined);
  return {
    put(s, slot) {
      recs[wheel.add(slot, s.id)] = encode(s);
    },
    drop(slot) {
      let ok = true;
      for (let k = wheel.head[slot]; k !== -1; k = wheel.next[k]) {
        const id = wheel.ids[k];
        if ((id & 15) === 0) {
          const b = recs[k]!;
          ok &&= check(new DataView(b.buffer, b.byteOffset, b.length), 0, id);
        }
        recs[k] = undefined;
      }
      wheel.head[slot] = -1;
      return ok;
    },
    finish: () => true,
  };
}

function bufferEncode(s: Source): Uint8Array {
  const name = NAMES[s.name];
  const nlen = Buffer.byteLength(name);
  const size = FIXED + nlen + s.plen;
  const b = Buffer.allocUnsafe(size);
  b.writeUInt32BE(size - 4, 0);
  b.writeUInt32BE(s.id, 4);
  b.writeDoubleBE(s.ts, 8);
  b.writeUInt8(s.kind, 16);
  b.writeUInt16BE(nlen, 17);
  b.write(name, 19);
  b.writeUInt16BE(s.plen, 19 + nlen);
  POOL.copy(b, 21 + nlen, s.pstart, s.pstart + s.plen);
  return b;
}

const enc = new TextEncoder();
function uint8Encode(s: Source): Uint8Array {
  const name = NAMES[s.name];
  const nlen = NAME_BYTES[s.name]; // as a user would: measured once per string
  const size = FIXED + nlen + s.plen;
  const u = new Uint8Array(size);
  const dv = new DataView(u.buffer);
  dv.setUint32(0, size - 4);
  dv.setUint32(4, s.id);
  dv.setFloat64(8, s.ts);
  dv.setUint8(16, s.kind);
  dv.setUint16(17, nlen);
  enc.encodeInto(name, u.subarray(19));
  dv.setUint16(19 + nlen, s.plen);
  u.set(POOL.subarray(s.pstart, s.pstart + s.plen), 21 + nlen);
  return u;
}

/** The encode workload. */
export const workload: Workload = {
  name: "encode",
  modes: [
    { name: "pagefrag", baseline: false },
    { name: "Buffer.allocUnsafe", baseline: true },
    { name: "new Uint8Array", baseline: true },
  ],
  count: 1_000_000,
  quickCount: 20_000,
  run(opts: WorkloadOptions): Promise<WorkloadResult> {
    const mode = opts.mode === "pagefrag"
      ? pagefragMode()
      : opts.mode === "Buffer.allocUnsafe"
      ? objectMode(bufferEncode)
      : opts.mode === "new Uint8Array"
      ? objectMode(uint8Encode)
      : undefined;
    if (mode === undefined) {
      return Promise.reject(new Error(`encode: no mode ${opts.mode}`));
    }
    const src = new Source();
    let ok = true;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < opts.count; i++) {
      const now = i & (WHEEL - 1);
      ok = mode.drop(now) && ok;
      src.next(i);
      mode.put(src, (now + src.life) & (WHEEL - 1));
    }
    for (let k = 0; k < WHEEL; k++) ok = mode.drop(k) && ok;
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    ok = mode.finish() && ok;
    return Promise.resolve({
      messages: opts.count,
      ok,
      note: ok
        ? undefined
        : "a record did not read back as written, or a fragment leaked",
      timing: { wallMs, cpuUs: cpu.user + cpu.system },
    });
  },
};
