// Bundled in place of `node:test` for the browser (esbuild alias, see
// scripts/browser_test.mjs). The suites get their runner passed in
// (`{ runner }`), so the default `node:test` runner is never called in the
// page; these stubs only satisfy the import and fail loudly if used.
// TODO(testing branch): once pagefrag/testing imports no node: module, drop
// this shim and its alias.
const unused = (name: string) => () => {
  throw new Error(
    `node:test ${name}() is not available in the browser: pass { runner }`,
  );
};
export const describe: (name: string, body: () => void) => void = unused(
  "describe",
);
export const it: (name: string, body: () => unknown) => void = unused("it");
export default { describe, it };
