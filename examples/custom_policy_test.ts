/**
 * The custom policies of `custom_policy.ts` against the policy contract
 * suite, as a plugin author would test theirs:
 *
 * ```sh
 * deno test -A examples/custom_policy_test.ts
 * npx bun test ./examples/custom_policy_test.ts
 * npx tsx --test examples/custom_policy_test.ts
 * ```
 *
 * In your own code import from `"pagefrag/testing"` (npm) or
 * `"@pagefrag/pagefrag/testing"` (JSR).
 *
 * @module
 */
import { policySuite } from "../testing/mod.ts";
import { SizeAwareRefill, TypedArrayAlignment } from "./custom_policy.ts";

policySuite("size-aware refill + typed-array alignment", {
  // A factory: the policy learns, so each test gets a fresh one.
  refill: () => new SizeAwareRefill(),
  align: new TypedArrayAlignment(),
});
policySuite("size-aware refill, 2 fragments a page", {
  refill: () => new SizeAwareRefill({ fragmentsPerPage: 2 }),
});
