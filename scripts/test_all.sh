#!/usr/bin/env bash
# The whole test suite, on every runtime pagefrag claims: static checks, then
# the same node:test files on Deno, Bun and Node (through tsx), then a smoke
# run of the examples, then the packaging: the JSR publish dry run, the npm
# build, and the pack-and-install test on all three runtimes. Run it as
# `npm test` (npm puts node_modules/.bin on PATH, which is where the deno and
# bun binaries come from).
set -euo pipefail
shopt -s nullglob
cd "$(dirname "$0")/.."
export NO_COLOR=1 PATH="$PWD/node_modules/.bin:$PATH"

started=$(date +%s)
step() { printf '\n=== %s  (+%ds)\n' "$*" $(($(date +%s) - started)); }
# Deno warns that the decorators example's experimentalDecorators option is
# deprecated (it is the application's choice, see its deno.json): hide that.
nowarn() { "$@" 2> >(grep -v 'experimentalDecorators compiler option is deprecated' >&2); }

# The entry points, from deno.json "exports" (the one source of truth).
mapfile -t entries < <(node scripts/exports.mjs --entries)
# Test files beside the examples and the testing entry (examples/*_test.ts
# run the contract suites on the example plugins).
tests=(test/*_test.ts testing/*_test.ts examples/*_test.ts)

step "exports: deno.json and package.json agree"
node scripts/exports.mjs

step "deno fmt --check / lint / check / doc --lint"
deno fmt --check
deno lint
deno check mod.ts test/ testing/ examples/ bench/
deno doc --lint "${entries[@]}"
node scripts/doc_examples.mjs
# The decorators example is an application with configs of its own
# (legacy decorators on); tsc type-checks it. (`deno check` would look for
# @types/node in a node_modules beside its deno.json: `deno run` needs none.)
tsc -p examples/decorators/tsconfig.json

step "deno test (suite + doc examples)"
deno test -A test/ testing/ examples/
deno test -A --doc mod.ts core/ flavours/ backends/ policies/ debug/ wiring/ di/ net/ testing/ README.md docs/

step "bun test"
bun test
bun test ./testing/ ./examples/

step "examples (smoke, --quick)"
for f in examples/*.ts; do
  [[ "$f" == *_test.ts ]] && continue
  echo "--- $f"
  deno run -A "$f" --quick >/dev/null
  bun "$f" --quick >/dev/null
  node --import tsx "$f" --quick >/dev/null
done
echo "--- examples/decorators/app.ts"
(
  cd examples/decorators
  nowarn deno run -A app.ts --quick >/dev/null
  bun app.ts --quick >/dev/null
  node --import tsx app.ts --quick >/dev/null
)

step "the kernel's page_frag self-test, ported (smoke, --quick)"
deno run -A bench/page_frag_test.ts --quick >/dev/null
bun bench/page_frag_test.ts --quick >/dev/null
node --import tsx bench/page_frag_test.ts --quick >/dev/null

step "the benchmark suite (smoke, --quick: every benchmark once, nothing written)"
deno run -A bench/suite.ts --quick >/dev/null
bun bench/suite.ts --quick >/dev/null
node --import tsx bench/suite.ts --quick >/dev/null

step "node --test (through tsx)"
node --import tsx --test "${tests[@]}"

step "JSR: deno publish --dry-run (slow types, files)"
deno publish --dry-run --allow-dirty

step "npm: build dist/ with tsc, check it against deno.json"
node scripts/build.mjs
node scripts/exports.mjs --dist

step "npm pack, install into fresh projects, use from Node, Deno and Bun"
bash scripts/install_test.sh

printf '\n=== all passed in %ds\n' $(($(date +%s) - started))
