// Type test (tsc, never run), lib es2024 + @types/node: the testing entry
// (node:test by default) and Node's APIs taking fragments.
import { createPageFragCache, HeapBackend } from "pagefrag";
import { contractSuite, type TestRunner } from "pagefrag/testing";
import { createHash } from "node:crypto";

const frag = createPageFragCache().alloc(16)!;
const hex: string = createHash("sha256").update(frag).digest("hex");
const runner: TestRunner = { describe: (_n, body) => body(), it: () => {} };
contractSuite("typed", (o) => new HeapBackend(o), { runner });
const buf: Buffer = Buffer.from(frag.buffer, frag.byteOffset, frag.length);

export { buf, hex };
