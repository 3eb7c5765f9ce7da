// A plugin author's test file, against the installed package: the core
// contract and the policy invariants from `pagefrag/testing`. Runs under
// `node --test`, `deno test` and `bun test`.
import { HeapBackend, WasmBackend } from "pagefrag";
import { fixedAlignment } from "pagefrag/policies/alignment";
import { order0Refill } from "pagefrag/policies/refill";
import { contractSuite, policySuite } from "pagefrag/testing";

contractSuite("installed heap backend", (options) => new HeapBackend(options));
contractSuite("installed wasm backend", (options) => new WasmBackend(options));
policySuite("installed order0 + fixed-64", {
  refill: order0Refill,
  align: fixedAlignment(64),
});
