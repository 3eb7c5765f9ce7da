/**
 * The core contract of a page fragment cache, assembled from its parts:
 * one module a concern, each registering one group of tests against a
 * {@linkcode SuiteContext}. `contractSuite` (in `pagefrag/testing` and
 * `pagefrag/testing/portable`) is this with the entry's defaults.
 *
 * @module
 */
import { badInputTests } from "./bad_input.ts";
import { budgetTests } from "./budget.ts";
import { drainTests } from "./drain.ts";
import { fragmentTests } from "./fragments.ts";
import { prepareCommitTests } from "./prepare_commit.ts";
import { recyclingTests } from "./recycling.ts";
import { reserveTests } from "./reserve.ts";
import {
  type BackendFactory,
  type SuiteContext,
  suiteContext,
  type SuiteOptions,
} from "./runner.ts";

/** The parts of the contract, in the order their groups are registered. */
const PARTS: readonly ((ctx: SuiteContext) => void)[] = [
  fragmentTests,
  recyclingTests,
  budgetTests,
  reserveTests,
  drainTests,
  prepareCommitTests,
  badInputTests,
];

/**
 * Register the core contract over the backends `make` returns, with
 * `defaults` for the options the caller leaves out.
 */
export function registerContractSuite(
  name: string,
  make: BackendFactory,
  options: SuiteOptions,
  defaults: SuiteOptions,
): void {
  const ctx = suiteContext(name, make, options, defaults);
  for (const part of PARTS) part(ctx);
}
