/**
 * A NAPI-style receive loop over real UDP sockets on loopback: datagrams go
 * into skbs whose heads come from a napi page fragment cache, inside a poll
 * with a budget, as a network driver's `napi_poll` does.
 *
 * - The "NIC": a `node:dgram` socket bound to 127.0.0.1 (port 0, the assigned
 *   port is used). Its `'message'` handler is the interrupt: it puts the
 *   datagram on the rx ring (a fixed-size circular queue; a full ring drops,
 *   like `rx_missed_errors`) and, unless a poll is already scheduled,
 *   schedules one with `setImmediate` (`napi_schedule`).
 * - The poll (`napi.poll(fn)`, the softirq): takes up to `BUDGET` (64)
 *   datagrams off the ring; for each one `napiAllocSkb(len)` takes the head
 *   from the napi cache, the datagram is copied into `skb.data`, checked
 *   (Internet checksum, sender, sequence number: the "protocol processing"),
 *   dropped if the skb is pfmemalloc (this consumer is no memory-reclaim
 *   path), and freed. If the budget was used up and the ring is not empty
 *   the poll reschedules itself (`setImmediate`), else it completes
 *   (`napi_complete_done`) and the next interrupt schedules it again.
 * - The senders: `SENDERS` sockets send `N` datagrams of 64..1472 bytes, each
 *   with its sender, a sequence number and a checksum. Loopback UDP drops when
 *   the receiver's socket buffer overflows, so the senders keep at most
 *   `WINDOW` datagrams in flight (sent, not yet polled), sending in
 *   bursts and yielding with `setImmediate` between them. A datagram that
 *   never arrives is not waited for: after `STALL_MS` without progress the
 *   in-flight ones are written off, and the run ends when everything arrived,
 *   when nothing arrived for `IDLE_MS`, or at `TIMEOUT_MS`; drops are
 *   reported, never hung on. Every socket is closed, so the process exits.
 *
 * Every skb is freed inside the poll that allocated it, so the cache's page is
 * recycled in place over and over: the backend allocates one page or two for
 * the whole run.
 *
 * ```sh
 * deno run -A examples/napi_rx.ts
 * npx bun examples/napi_rx.ts
 * node --import tsx examples/napi_rx.ts
 * ```
 *
 * `--quick` (or `PAGEFRAG_QUICK=1`) receives 5,000 datagrams instead of
 * 200,000.
 *
 * This example imports the entry files of this repository; in your own code
 * import the same names from the package: `../mod.ts` is `"pagefrag"` (npm)
 * or `"@pagefrag/pagefrag"` (JSR), `../net/skb.ts` is `pagefrag/net`
 * (`"@pagefrag/pagefrag/net"`).
 *
 * @module
 */
import dgram from "node:dgram";
import process from "node:process";
import { createNapiCache } from "../mod.ts";
import { napiAllocSkb } from "../net/skb.ts";

const QUICK = process.argv.slice(2).includes("--quick") ||
  process.env.PAGEFRAG_QUICK === "1";
/** Datagrams to send in all. */
const N = QUICK ? 5_000 : 200_000;
/** Sending sockets; datagram k is sent by socket k % SENDERS. */
const SENDERS = 2;
/** Most datagrams a poll processes (`napi_struct.weight`, `NAPI_POLL_WEIGHT`). */
const BUDGET = 64;
/** Rx ring slots. */
const RING_SIZE = 1024;
/**
 * Most datagrams in flight (sent, not yet taken off the rx ring by a poll),
 * so the senders go no faster than the poll. Linux charges each queued
 * datagram its skb's truesize (about 1-2.5 KiB for this size mix) against the
 * receiver's default SO_RCVBUF of 212,992 bytes, which thus holds about 100 of
 * them; Deno's `node:dgram` may leave a whole window queued there before it
 * reads, so the window stays below that. It is above the budget, so a poll
 * sometimes finds more than it may take and reschedules itself.
 */
const WINDOW = 80;
/** Most datagrams sent between two yields to the event loop. */
const BURST = 40;
/** In-flight datagrams are written off after this long without an arrival. */
const STALL_MS = 50;
/** Once all are sent, stop waiting after this long without an arrival. */
const IDLE_MS = 250;
/** Stop whatever happens after this long. */
const TIMEOUT_MS = QUICK ? 4_000 : 60_000;
const HOST = "127.0.0.1";
const MIN_LEN = 64;
const MAX_LEN = 1472; // 1500-byte MTU - 20 (IPv4) - 8 (UDP)
const HEADER = 8; // seq u32, sender u8, pad u8, checksum u16

const immediate = () => new Promise<void>((resolve) => setImmediate(resolve));

// ------------------------------------------------------------- datagrams

/** A 32-bit integer hash (lowbias32), for sizes and payload bytes. */
function hash(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Length of datagram `seq` of `sender`: 64..1472 bytes. */
function lengthOf(sender: number, seq: number): number {
  return MIN_LEN + hash(seq * SENDERS + sender) % (MAX_LEN - MIN_LEN + 1);
}

/** The Internet checksum (RFC 1071) of `b`: ones' complement sum of 16-bit words. */
function inetChecksum(b: Uint8Array): number {
  let sum = 0;
  const even = b.length & ~1;
  for (let k = 0; k < even; k += 2) sum += (b[k] << 8) | b[k + 1];
  if (even !== b.length) sum += b[even] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** Build datagram `seq` of `sender`: header, pseudo-random payload, checksum. */
function makeDatagram(sender: number, seq: number): Uint8Array {
  const len = lengthOf(sender, seq);
  const d = new Uint8Array(len);
  d[0] = seq >>> 24;
  d[1] = seq >>> 16;
  d[2] = seq >>> 8;
  d[3] = seq;
  d[4] = sender;
  let h = hash(seq ^ (sender << 24));
  for (let k = HEADER; k < len; k++) {
    if ((k & 3) === 0) h = hash(h);
    d[k] = h >>> ((k & 3) << 3);
  }
  const sum = inetChecksum(d); // checksum field still 0
  d[6] = sum >>> 8;
  d[7] = sum;
  return d;
}

// ------------------------------------------------------------- receiver

const napi = createNapiCache();

/** The rx ring: datagrams the interrupt queued for the poll. */
const ring: (Uint8Array | undefined)[] = new Array(RING_SIZE);
let ringHead = 0; // next to take
let ringCount = 0;

/** Per sender, which sequence numbers were accepted. */
const seen = Array.from(
  { length: SENDERS },
  () => new Uint8Array(Math.ceil(N / SENDERS)),
);
const lastSeq = new Array<number>(SENDERS).fill(-1);

const rx = {
  /** Datagrams the socket delivered ('message' events). */
  arrived: 0,
  /** Datagrams processed and accepted. */
  accepted: 0,
  bytes: 0,
  /** Arrived after a later sequence number of the same sender. */
  reordered: 0,
  ringFull: 0,
  noMemory: 0,
  pfmemalloc: 0,
  badChecksum: 0,
  badHeader: 0,
  duplicates: 0,
  /** Heads taken from the napi cache (the rest were small: a plain allocation). */
  fragHeads: 0,
  pollRounds: 0,
  /** Milliseconds spent inside the polls. */
  pollMs: 0,
  /** Polls that used their whole budget (and so were rescheduled). */
  budgetExhausted: 0,
  maxRing: 0,
};

let pollScheduled = false;
/** Set when the run is over: a poll still scheduled then does nothing. */
let stopped = false;
let firstSend = 0;
let lastAccept = 0;
let lastArrival = 0;

/** The interrupt handler: queue the datagram, schedule the poll. */
function onMessage(msg: Uint8Array): void {
  rx.arrived++;
  lastArrival = performance.now();
  if (ringCount === RING_SIZE) {
    rx.ringFull++;
    return;
  }
  ring[(ringHead + ringCount) % RING_SIZE] = msg;
  if (++ringCount > rx.maxRing) rx.maxRing = ringCount;
  if (!pollScheduled) {
    pollScheduled = true; // napi_schedule
    setImmediate(napiPoll);
  }
}

/** The "protocol": check one received datagram. */
function deliver(data: Uint8Array): void {
  if (data.length < HEADER) {
    rx.badHeader++;
    return;
  }
  if (inetChecksum(data) !== 0) {
    rx.badChecksum++;
    return;
  }
  const seq = ((data[0] << 24) | (data[1] << 16) | (data[2] << 8) | data[3]) >>>
    0;
  const sender = data[4];
  if (
    sender >= SENDERS || seq >= seen[sender].length ||
    data.length !== lengthOf(sender, seq)
  ) {
    rx.badHeader++;
    return;
  }
  if (seen[sender][seq] === 1) {
    rx.duplicates++;
    return;
  }
  seen[sender][seq] = 1;
  if (seq < lastSeq[sender]) rx.reordered++;
  else lastSeq[sender] = seq;
  rx.accepted++;
  rx.bytes += data.length;
}

/** Process up to `budget` datagrams from the ring; returns how many. */
function rxClean(budget: number): number {
  let work = 0;
  while (work < budget && ringCount > 0) {
    const msg = ring[ringHead]!;
    ring[ringHead] = undefined;
    ringHead = (ringHead + 1) % RING_SIZE;
    ringCount--;
    work++;
    const skb = napiAllocSkb(msg.length, { cache: napi });
    if (skb === null) {
      rx.noMemory++;
      continue;
    }
    if (skb.headAddr !== 0) rx.fragHeads++;
    const data = skb.data;
    data.set(msg);
    if (skb.pfmemalloc) {
      rx.pfmemalloc++; // not a memory-reclaim socket: drop
    } else {
      deliver(data);
    }
    skb.free();
  }
  return work;
}

/** One poll round, inside the napi cache's poll scope; returns the work done. */
function pollRound(): number {
  rx.pollRounds++;
  const t0 = performance.now();
  const work = napi.poll(() => rxClean(BUDGET));
  const t1 = performance.now();
  rx.pollMs += t1 - t0;
  if (work > 0) lastAccept = t1;
  return work;
}

/** The softirq, as scheduled by the interrupt. */
function napiPoll(): void {
  pollScheduled = false;
  if (stopped) return;
  const work = pollRound();
  if (work === BUDGET && ringCount > 0) {
    rx.budgetExhausted++;
    pollScheduled = true; // still work to do: stay scheduled
    setImmediate(napiPoll);
  } // else napi_complete_done: the next datagram schedules us again
}

// --------------------------------------------------------------- sockets

function bound(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(0, HOST, () => {
      socket.off("error", reject);
      resolve();
    });
  });
}

const receiver = dgram.createSocket("udp4");
receiver.on("message", onMessage);
await bound(receiver);
const port = receiver.address().port;
const senders = Array.from(
  { length: SENDERS },
  () => dgram.createSocket("udp4"),
);
for (const s of senders) await bound(s);

let sendErrors = 0;
const onSent = (err: Error | null) => {
  if (err) sendErrors++;
};

// ------------------------------------------------------------------- run

const start = performance.now();
const deadline = start + TIMEOUT_MS;
let sent = 0;
let writtenOff = 0;
let timedOut = false;

/** Send all datagrams, at most WINDOW in flight. */
async function sendAll(): Promise<void> {
  firstSend = performance.now();
  let progressAt = performance.now();
  let progress = rx.arrived;
  while (sent < N) {
    if (performance.now() > deadline) {
      timedOut = true;
      return;
    }
    // Not yet processed: on the way, in the socket, or on the rx ring.
    const inFlight = sent - (rx.arrived - ringCount) - writtenOff;
    if (inFlight >= WINDOW) {
      await immediate();
      const now = performance.now();
      if (rx.arrived !== progress) {
        progress = rx.arrived;
        progressAt = now;
      } else if (now - progressAt > STALL_MS) {
        writtenOff = sent - rx.arrived; // lost on the way: stop waiting
        progressAt = now;
      }
      continue;
    }
    const n = Math.min(BURST, WINDOW - inFlight, N - sent);
    for (let k = 0; k < n; k++, sent++) {
      const sender = sent % SENDERS;
      const seq = Math.floor(sent / SENDERS);
      senders[sender].send(makeDatagram(sender, seq), port, HOST, onSent);
    }
    await immediate();
  }
}

await sendAll();
// Wait for stragglers and for the ring to drain.
while (!timedOut && (rx.arrived < N || ringCount > 0 || pollScheduled)) {
  const now = performance.now();
  if (now > deadline) timedOut = true;
  else if (
    ringCount === 0 && now - Math.max(lastArrival, firstSend) > IDLE_MS
  ) {
    break; // the rest was dropped
  }
  await new Promise((resolve) => setTimeout(resolve, 1));
}
for (const s of senders) s.close();
receiver.close();
// After a timeout, datagrams may still wait on the ring: process them now.
stopped = true;
while (ringCount > 0) pollRound();

// ---------------------------------------------------------------- report

const seconds = (lastAccept - firstSend) / 1000;
const drops = N - rx.accepted;
const napiStats = napi.stats();
napi.drain();
const backendStats = napi.backend.stats();
if (backendStats.bytesInUse !== 0) {
  throw new Error(`leak: ${backendStats.bytesInUse} bytes still in use`);
}
const errors = rx.badChecksum + rx.badHeader + rx.duplicates + sendErrors;

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
console.log(
  `== napi rx: ${fmt(N)} UDP datagrams (${MIN_LEN}..${MAX_LEN} bytes) from ` +
    `${SENDERS} senders over loopback, poll budget ${BUDGET}` +
    `${QUICK ? ", --quick" : ""} ==`,
);
console.log(
  `received:  ${fmt(rx.accepted)} datagrams, ${fmt(rx.bytes)} bytes in ` +
    `${seconds.toFixed(3)} s`,
);
console.log(
  `rate:      ${fmt(rx.accepted / seconds)} packets/s, ` +
    `${(rx.bytes / seconds / 1e6).toFixed(1)} MB/s (the poll itself: ` +
    `${(rx.pollMs * 1e6 / rx.accepted).toFixed(0)} ns per packet, ` +
    `${(100 * rx.pollMs / 1000 / seconds).toFixed(0)}% of the time; ` +
    `the rest is the sockets and the event loop)`,
);
console.log(
  `drops:     ${drops} (${sent - rx.arrived} sent but never received, ` +
    `${rx.ringFull} rx ring full, ${rx.noMemory} no memory, ` +
    `${rx.pfmemalloc} pfmemalloc, ${rx.badChecksum + rx.badHeader} bad, ` +
    `${rx.duplicates} duplicates` +
    `${sent < N ? `, ${N - sent} never sent` : ""})` +
    `${timedOut ? "; TIMED OUT" : ""}`,
);
console.log(
  `polls:     ${fmt(rx.pollRounds)} rounds, ` +
    `${(rx.accepted / rx.pollRounds).toFixed(1)} packets per poll, ` +
    `${fmt(rx.budgetExhausted)} used the whole budget; rx ring peak ` +
    `${rx.maxRing}/${RING_SIZE}; ${rx.reordered} reordered`,
);
console.log(
  `skb heads: ${fmt(rx.fragHeads)} from the napi cache, ` +
    `${fmt(rx.accepted + rx.pfmemalloc - rx.fragHeads)} small plain ` +
    `allocations`,
);
console.log("napi.stats():", napiStats);
console.log("napi.backend.stats() after drain:", backendStats);
if (errors !== 0) {
  throw new Error(`${errors} corrupt, duplicate or unsent datagrams`);
}
if (rx.accepted === 0) throw new Error("nothing was received");
