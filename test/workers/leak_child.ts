/**
 * Child process of `test/leaks_test.ts` when the test process cannot force a
 * garbage collection: started with `--expose-gc`, it runs the leak scenario
 * and prints its result as one line of JSON.
 */
import process from "node:process";
import { findGc, leakScenario } from "../leak_scenario.ts";

const gc = findGc();
if (gc === undefined) {
  console.error("leak_child: no gc() even with --expose-gc");
  process.exit(2);
}
const result = await leakScenario(gc);
console.log(JSON.stringify(result));
