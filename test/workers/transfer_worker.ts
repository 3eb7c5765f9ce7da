/**
 * Receives one transferred `ArrayBuffer` from its parent and answers with
 * what arrived: its length and two bytes (`test/transfer_test.ts`).
 */
import { parentPort } from "node:worker_threads";

const port = parentPort!;
port.once("message", (buffer: ArrayBuffer) => {
  const bytes = new Uint8Array(buffer);
  port.postMessage({
    ok: true,
    result: { byteLength: buffer.byteLength, first: bytes[0], at: bytes[150] },
  });
  port.close();
});
