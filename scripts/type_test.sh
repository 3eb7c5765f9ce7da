#!/usr/bin/env bash
# Type tests: the compiled declarations (dist/, built here) as a strict
# consumer sees them (skipLibCheck off), under the oldest supported
# TypeScript 5 (typescript5 = typescript@5.7.3, the first with generic typed
# arrays: Uint8Array<ArrayBuffer>) and TypeScript 7, plus `deno check` of
# the same promises against the sources. The fixtures in test/types/ import
# "pagefrag/..." by the package's own name (self-reference through
# package.json "exports"), so they see exactly what the tarball exports.
#
#   tsc/no_dom.ts     lib es2024 only, no @types/node: every entry but testing
#   tsc/dom.ts        lib es2024 + DOM: fragments as BufferSource/BlobPart/BodyInit
#   tsc/node.ts       lib es2024 + @types/node: the testing entry, node:crypto
#   tsc/require.cts   a CommonJS consumer (TypeScript >= 5.8 only: require(esm))
#   deno_check.ts deno check, through the JSR names
#
# Run it as `npm run test:types` (or inside `npm test`).
set -euo pipefail
cd "$(dirname "$0")/.."
export NO_COLOR=1
node scripts/build.mjs >/dev/null

# no_dom.ts must import every entry point except the testing one.
missing=0
while read -r sub; do
  [[ "$sub" == "./testing" ]] && continue
  spec="pagefrag${sub#.}"
  grep -q "from \"$spec\"" test/types/tsc/no_dom.ts || {
    echo "test/types/tsc/no_dom.ts does not import $spec"
    missing=1
  }
done < <(node -e 'for (const k of Object.keys(require("./deno.json").exports)) console.log(k)')
((missing == 0)) || exit 1

declare -A tsc=([5]=node_modules/typescript5/bin/tsc [7]=node_modules/typescript/bin/tsc)
for major in 5 7; do
  version=$(node "${tsc[$major]}" --version)
  for project in no_dom dom node require; do
    # require(esm) in a .cts needs TypeScript >= 5.8.
    [[ "$project" == require && "$major" == 5 ]] && continue
    node "${tsc[$major]}" -p "test/types/tsc/tsconfig.$project.json"
    echo "  ok  tsc ($version) test/types/tsc/tsconfig.$project.json"
  done
done
deno check --quiet test/types/deno_check.ts
echo "  ok  deno check test/types/deno_check.ts"
