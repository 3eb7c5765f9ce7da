// The loopback sender of the tcp-receive workload (bench/realworld/tcp_receive.ts),
// in a process of its own so that its CPU time, allocations and GCs are not
// counted against the receiver being measured. Plain JavaScript over
// node:net, so every runtime runs it as it is:
//
//   <runtime> tcp_sender.mjs <count> <tapeMessages> <maxSize>
//
// It listens on a free loopback port, prints `port <n>` on stdout, writes
// `count` length-prefixed messages to the first connection (one precomputed
// tape, again and again) and exits. Every wait is bounded: it gives up after
// 120 s.
import net from "node:net";
import process from "node:process";

const [count, tapeN, max] = process.argv.slice(-3).map(Number);
const sizeOf = (i) => 16 + ((i * 2654435761) >>> 0) % (max - 16 + 1);

let total = 0;
for (let i = 0; i < tapeN; i++) total += 4 + sizeOf(i);
const tape = new Uint8Array(total);
const dv = new DataView(tape.buffer);
const ends = new Int32Array(tapeN + 1);
let at = 0;
for (let i = 0; i < tapeN; i++) {
  const n = sizeOf(i);
  dv.setUint32(at, n);
  dv.setUint32(at + 4, i);
  for (let j = 4; j < n; j++) tape[at + 4 + j] = (i + j) & 255;
  at += 4 + n;
  ends[i + 1] = at;
}

const guard = setTimeout(() => process.exit(2), 120_000);
const server = net.createServer(async (socket) => {
  server.close();
  socket.on("error", () => process.exit(3));
  let left = count;
  while (left > 0) {
    const n = Math.min(left, tapeN);
    left -= n;
    const chunk = n === tapeN ? tape : tape.subarray(0, ends[n]);
    if (!socket.write(chunk)) {
      await new Promise((r) => socket.once("drain", r));
    }
  }
  socket.end(() => {
    clearTimeout(guard);
    process.exit(0);
  });
});
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`port ${server.address().port}\n`);
});
