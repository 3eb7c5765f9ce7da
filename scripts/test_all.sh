#!/usr/bin/env bash
# The whole test suite, on every runtime pagefrag claims: static checks, the
# same node:test files on Deno, Bun and Node (through tsx), smoke runs of the
# examples and benchmarks, the type tests, the browser test, and the
# packaging (JSR dry run, npm build, publint/attw on the tarball, install
# into fresh projects). Run it as `npm test` (npm puts node_modules/.bin on
# PATH, which is where the deno and bun binaries come from).
#
# Each step prints one line: name, ok/FAIL, seconds. Its full output goes to
# test-results/<step>.log (gitignored); a failing step also prints the last
# lines of its log. Every step runs even after a failure; the exit status is
# 1 if any failed. Independent steps run PAGEFRAG_JOBS (default 2) at a time. PAGEFRAG_STEPS="deno bun" runs only the steps named.
set -uo pipefail
shopt -s nullglob
cd "$(dirname "$0")/.."
export NO_COLOR=1 PATH="$PWD/node_modules/.bin:$PATH"
# tsc by path: typescript5 also installs a `tsc` bin, and which one
# node_modules/.bin/tsc links to depends on install order.
tsc7() { node node_modules/typescript/bin/tsc "$@"; }

results=test-results
rm -rf "$results"
mkdir -p "$results"
started=$(date +%s)
failed=()
only=" ${PAGEFRAG_STEPS:-} "

# step NAME FUNCTION: run it, log to test-results/NAME.log, print one line.
step() {
  local name=$1
  shift
  [[ "$only" != "  " && "$only" != *" $name "* ]] && return 0
  local log="$results/$name.log" t0 t1 rc secs
  t0=$(date +%s.%N)
  ("$@") >"$log" 2>&1
  rc=$?
  t1=$(date +%s.%N)
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
  echo "$rc" >"$results/$name.rc"
  if ((rc == 0)); then
    printf '  %-10s ok    %6ss\n' "$name" "$secs"
  else
    # One write, so lines of parallel steps do not interleave.
    printf '  %-10s FAIL  %6ss  (exit %d; full log: %s)\n%s\n' "$name" "$secs" "$rc" "$log" \
      "$(tail -n 25 "$log" | sed 's/^/      | /')"
  fi
}

# parallel "NAME FUNCTION" ...: independent steps, PAGEFRAG_JOBS at a time
# (default 2, the cores CI has); each still prints its own line when done.
# Bun gets a 60 s test timeout (its default is 5 s): worker tests run long
# on a loaded machine.
parallel() {
  local jobs=${PAGEFRAG_JOBS:-2} spec
  for spec in "$@"; do
    while (($(jobs -rp | wc -l) >= jobs)); do wait -n; done
    # shellcheck disable=SC2086
    step $spec &
  done
  wait
}

# The entry points, from deno.json "exports" (the one source of truth).
mapfile -t entries < <(node scripts/exports.mjs --entries)
# Test files beside the examples and the testing entry (examples/*_test.ts
# run the contract suites on the example plugins).
tests=(test/*_test.ts testing/*_test.ts examples/*_test.ts)
# Deno warns that the decorators example's experimentalDecorators option is
# deprecated (it is the application's choice, see its deno.json): hide that.
nowarn() { "$@" 2> >(grep -v 'experimentalDecorators compiler option is deprecated' >&2); }

static() {
  set -e
  node scripts/exports.mjs
  deno fmt --check
  deno lint
  deno check mod.ts test/ testing/ examples/ bench/
  deno doc --lint "${entries[@]}"
  node scripts/doc_examples.mjs
  node scripts/check_links.mjs
  # The decorators example is an application with configs of its own
  # (legacy decorators on); tsc type-checks it.
  tsc7 -p examples/decorators/tsconfig.json
}
deno_tests() {
  set -e
  deno test -A test/ testing/ examples/
  deno test -A --doc mod.ts core/ flavours/ backends/ policies/ debug/ wiring/ di/ net/ io/ testing/ README.md docs/
}
bun_tests() {
  set -e
  bun test --timeout 60000
  bun test --timeout 60000 ./testing/ ./examples/
}
node_tests() { node --import tsx --test "${tests[@]}"; }
examples() {
  set -e
  for f in examples/*.ts; do
    [[ "$f" == *_test.ts ]] && continue
    echo "--- $f"
    deno run -A "$f" --quick >/dev/null
    bun "$f" --quick >/dev/null
    node --import tsx "$f" --quick >/dev/null
  done
  echo "--- examples/decorators/app.ts"
  cd examples/decorators
  nowarn deno run -A app.ts --quick >/dev/null
  bun app.ts --quick >/dev/null
  node --import tsx app.ts --quick >/dev/null
}
bench() {
  set -e
  # The kernel's page_frag self-test, ported, and every benchmark once.
  for f in bench/page_frag_test.ts bench/suite.ts; do
    echo "--- $f"
    deno run -A "$f" --quick >/dev/null
    bun "$f" --quick >/dev/null
    node --import tsx "$f" --quick >/dev/null
  done
  # The real-world programs (tcp-receive, encode, pipeline), small counts,
  # correctness only; nothing written.
  echo "--- bench/realworld/run.ts"
  node --import tsx bench/realworld/run.ts --quick --no-write
}
jsr() { deno publish --dry-run --allow-dirty; }
build() {
  set -e
  node scripts/build.mjs
  node scripts/exports.mjs --dist
}
types() { bash scripts/type_test.sh; }
pack() {
  set -e
  rm -f "$results"/pagefrag-*.tgz
  npm pack --pack-destination "$results"
}
package() { bash scripts/package_lint.sh "$results"/pagefrag-*.tgz; }
install() { PAGEFRAG_TGZ=$(ls "$PWD/$results"/pagefrag-*.tgz) bash scripts/install_test.sh; }
browser() { node scripts/browser_test.mjs; }

echo "pagefrag tests (logs in $results/; PAGEFRAG_JOBS=${PAGEFRAG_JOBS:-2} at a time)"
# Independent steps (none reads dist/ or the tarball), the longest first.
parallel "deno deno_tests" "node node_tests" "bun bun_tests" "bench bench" \
  "examples examples" "browser browser" "static static" "jsr jsr"
# The packaging chain: each step uses what the one before made.
step build build
step types types
step pack pack
step package package
step install install

for rc in "$results"/*.rc; do
  [[ $(cat "$rc") == 0 ]] || failed+=("$(basename "$rc" .rc)")
done
total=$(($(date +%s) - started))
if ((${#failed[@]} == 0)); then
  echo "all passed in ${total}s"
else
  echo "FAILED: ${failed[*]} (in ${total}s; see $results/<step>.log)"
  exit 1
fi
