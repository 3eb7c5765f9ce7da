/**
 * The contract suites live in `testing/` (entry `testing/mod.ts`), published
 * as `@pagefrag/pagefrag/testing` (JSR) and `pagefrag/testing` (npm), so
 * that authors of backends and policies can run them too. This module keeps
 * the old import path of pagefrag's own test files working.
 *
 * @module
 */
export * from "../testing/mod.ts";
