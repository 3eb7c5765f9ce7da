#!/usr/bin/env bash
# The pack-and-install test: what a new user gets from `npm install pagefrag`,
# `bun add pagefrag` and Deno over node_modules, tried the way they would.
#
# 1. `npm pack` (its prepack script builds dist/ with tsc) into a temp dir.
# 2. A fresh npm project installs the tarball (dependencies from the npm
#    cache that `npm ci` warmed, so no network is needed; the registry is
#    asked only if the cache lacks something). Node runs the user program
#    (plain ESM, no loader), the contract suites under `node --test`, and tsc
#    type-checks a TypeScript user file against the installed declarations.
#    Deno runs the same program and suites through that node_modules.
# 3. A fresh Bun project does `bun add ./pagefrag-<version>.tgz` (Bun fetches
#    reflect-metadata, tsyringe and tslib from its cache or the registry)
#    and Bun runs the same program and suites.
# 4. On Node and Bun, require.cjs loads the package with require() (the
#    exports' `default` condition, require(esm)); tsc type-checks the no-DOM
#    fixture (lib es2024 only) against the installed declarations.
#
# The program (scripts/install_test/main.mjs) also checks that every entry
# point exports exactly what its TypeScript source does, and moves fragments
# of the shared backend to and from a worker on each runtime.
#
# Run it as `npm run test:install` (or inside `npm test`). Set
# PAGEFRAG_KEEP=1 to keep the temp dir for a look.
set -euo pipefail
cd "$(dirname "$0")/.."
export NO_COLOR=1 PATH="$PWD/node_modules/.bin:$PATH"
repo="$PWD"
fixtures="$repo/scripts/install_test"

t0=$(date +%s%N)
ms() { echo $((($(date +%s%N) - t0) / 1000000)); }
lap() { printf '  [%6d ms] %s\n' "$(ms)" "$*"; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pagefrag-install.XXXXXX")
if [[ "${PAGEFRAG_KEEP:-}" != 1 ]]; then trap 'rm -rf "$tmp"' EXIT; fi
echo "install test in $tmp"

# ---------------------------------------------------------------- pack
# PAGEFRAG_TGZ: a tarball packed already (npm test packs once for all steps).
if [[ -n "${PAGEFRAG_TGZ:-}" ]]; then
  cp "$PAGEFRAG_TGZ" "$tmp/"
  tgz=$(ls "$tmp"/pagefrag-*.tgz)
  lap "using $(basename "$tgz") ($(du -k "$tgz" | cut -f1) KiB, packed by the caller)"
else
  npm pack --silent --pack-destination "$tmp" >"$tmp/pack.out" 2>"$tmp/pack.err" || {
    cat "$tmp/pack.out" "$tmp/pack.err"
    exit 1
  }
  tgz=$(ls "$tmp"/pagefrag-*.tgz)
  lap "npm pack -> $(basename "$tgz") ($(du -k "$tgz" | cut -f1) KiB)"
fi
# What is in it: dist/ and docs, no sources, tests or scripts.
listing=$(tar -tzf "$tgz")
for want in package/package.json package/README.md package/dist/mod.js \
  package/dist/mod.d.ts package/dist/testing/contract.js; do
  grep -qx "$want" <<<"$listing" || {
    echo "missing from the tarball: $want"
    exit 1
  }
done
# (The README's benchmark chart is the one file of bench/ it ships.)
extra=$(grep -E '^package/(test|bench|examples|scripts|core|backends)/|\.ts$' <<<"$listing" |
  grep -v -e '\.d\.ts$' -e '^package/bench/results/chart\.svg$' || true)
if [[ -n "$extra" ]]; then
  echo "the tarball holds files a user does not need:"
  echo "$extra"
  exit 1
fi

# The names each entry point's TypeScript source exports, for main.mjs to
# compare with what the installed JavaScript exports.
deno eval --quiet '
  const exp = JSON.parse(Deno.readTextFileSync("deno.json")).exports;
  const out = {};
  for (const [sub, file] of Object.entries(exp)) {
    out[sub] = Object.keys(await import(new URL(file, `file://${Deno.cwd()}/`).href)).sort();
  }
  console.log(JSON.stringify(out, null, 2));
' >"$tmp/expected_exports.json"

fixture() { # copy the user files into project dir $1
  cp "$fixtures"/{main.mjs,worker.mjs,contract_test.mjs,consumer.ts,tsconfig.json,require.cjs} "$1/"
  # The no-DOM type test (lib es2024 only, no @types/node), as in test/types/tsc/.
  mkdir -p "$1/types"
  cp "$repo"/test/types/tsc/{no_dom.ts,tsconfig.base.json,tsconfig.no_dom.json} "$1/types/"
  cp "$tmp/expected_exports.json" "$1/"
}

# ---------------------------------------------------------------- npm project
proj="$tmp/npm-app"
mkdir -p "$proj"
fixture "$proj"
printf '{ "name": "npm-app", "private": true, "type": "module" }\n' >"$proj/package.json"
types_node=$(node -p 'require("./node_modules/@types/node/package.json").version')
npm_install() {
  (cd "$proj" && npm install --no-audit --no-fund --loglevel=error "$@" \
    "$tgz" "@types/node@$types_node")
}
if npm_install --offline >"$tmp/npm.log" 2>&1; then
  how="offline, from the npm cache"
else
  npm_install --prefer-offline >"$tmp/npm.log" 2>&1 || {
    cat "$tmp/npm.log"
    exit 1
  }
  how="--prefer-offline: the npm cache lacked something"
fi
lap "npm install ./$(basename "$tgz") ($how)"

(cd "$proj" && node main.mjs)
lap "node main.mjs"
(cd "$proj" && node require.cjs)
lap "node require.cjs (require(esm) of the same build)"
(cd "$proj" && node --test --test-reporter=tap contract_test.mjs >"$tmp/node-test.log" 2>&1) || {
  cat "$tmp/node-test.log"
  exit 1
}
lap "node --test contract_test.mjs ($(grep -Eo '^# pass [0-9]+' "$tmp/node-test.log" | cut -c3-))"
node "$repo/node_modules/typescript/bin/tsc" -p "$proj/tsconfig.json"
lap "tsc --noEmit: consumer.ts type-checks against the installed declarations"
node "$repo/node_modules/typescript/bin/tsc" -p "$proj/types/tsconfig.no_dom.json"
lap "tsc --lib es2024 (no DOM, no @types/node): types/no_dom.ts, every entry but testing"

# Deno over the same node_modules (package.json in the project dir makes
# Deno resolve bare specifiers there).
(cd "$proj" && deno run -A main.mjs)
lap "deno run -A main.mjs"
(cd "$proj" && deno test -A --quiet contract_test.mjs >"$tmp/deno-test.log" 2>&1) || {
  cat "$tmp/deno-test.log"
  exit 1
}
lap "deno test -A contract_test.mjs ($(grep -Eo '[0-9]+ passed \([0-9]+ steps\)' "$tmp/deno-test.log" | tail -1))"

# ---------------------------------------------------------------- bun project
bproj="$tmp/bun-app"
mkdir -p "$bproj"
fixture "$bproj"
printf '{ "name": "bun-app", "private": true, "type": "module" }\n' >"$bproj/package.json"
cp "$tgz" "$bproj/"
(cd "$bproj" && bun add "./$(basename "$tgz")" >"$tmp/bun.log" 2>&1) || {
  cat "$tmp/bun.log"
  exit 1
}
lap "bun add ./$(basename "$tgz") ($(grep -Eo '[0-9]+ packages? installed' "$tmp/bun.log" || echo done))"
(cd "$bproj" && bun main.mjs)
lap "bun main.mjs"
(cd "$bproj" && bun require.cjs)
lap "bun require.cjs"
(cd "$bproj" && bun test ./contract_test.mjs >"$tmp/bun-test.log" 2>&1) || {
  cat "$tmp/bun-test.log"
  exit 1
}
lap "bun test contract_test.mjs ($(grep -Eo '[0-9]+ pass' "$tmp/bun-test.log" | head -1))"

echo "install test passed in $(ms) ms"
