/**
 * The backend of `custom_backend.ts` against pagefrag's core contract suite
 * and the policy invariants, as a plugin author would test theirs:
 *
 * ```sh
 * deno test -A examples/custom_backend_test.ts
 * npx bun test ./examples/custom_backend_test.ts
 * npx tsx --test examples/custom_backend_test.ts
 * ```
 *
 * In your own code import from `"pagefrag/testing"` (npm) or
 * `"@pagefrag/pagefrag/testing"` (JSR).
 *
 * @module
 */
import { kernelRefill } from "../mod.ts";
import { contractSuite, policySuite } from "../testing/mod.ts";
import { SabPageBackend } from "./custom_backend.ts";

contractSuite(
  "SharedArrayBuffer page backend",
  (options) => new SabPageBackend(options),
);
policySuite("kernel refill on the SharedArrayBuffer page backend", {
  refill: kernelRefill,
}, {
  backend: (options) => new SabPageBackend(options),
});
