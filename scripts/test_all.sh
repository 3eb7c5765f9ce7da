#!/usr/bin/env bash
# The whole test suite, on every runtime pagefrag claims: static checks, then
# the same node:test files on Deno, Bun and Node (through tsx), then a smoke
# run of the examples. Run it as `npm test` (npm puts node_modules/.bin on
# PATH, which is where the deno and bun binaries come from).
set -euo pipefail
shopt -s nullglob
cd "$(dirname "$0")/.."
export NO_COLOR=1 PATH="$PWD/node_modules/.bin:$PATH"

step() { printf '\n=== %s\n' "$*"; }

step "deno fmt --check / lint / check / doc --lint"
deno fmt --check
deno lint
deno check mod.ts test/ examples/ bench/
deno doc --lint mod.ts

step "deno test (suite + doc examples)"
deno test -A test/
deno test -A --doc mod.ts core/ backends/ policies/ net/

step "bun test"
bun test

step "examples (smoke, --quick)"
for f in examples/*.ts; do
  echo "--- $f"
  deno run -A "$f" --quick >/dev/null
  bun "$f" --quick >/dev/null
  node --import tsx "$f" --quick >/dev/null
done

step "the kernel's page_frag self-test, ported (smoke, --quick)"
deno run -A bench/page_frag_test.ts --quick >/dev/null
bun bench/page_frag_test.ts --quick >/dev/null
node --import tsx bench/page_frag_test.ts --quick >/dev/null

step "node --test (through tsx)"
node --import tsx --test test/*_test.ts
