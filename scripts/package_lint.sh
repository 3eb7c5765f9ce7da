#!/usr/bin/env bash
# Lint the npm tarball as registries and users see it:
#   publint   package.json fields, exports, files (strict: warnings fail)
#   attw      @arethetypeswrong/cli: the types each export resolves to, per
#             module resolution. Profile esm-only: the package is ESM only,
#             so node10 (no "exports") and TypeScript's CJS-to-ESM rule are
#             ignored; a CommonJS require() of it works at run time on Node
#             >= 20.19 / 22.12 and Bun (require(esm)), and TypeScript >= 5.8
#             accepts it under module nodenext (test/types/tsc/require.cts).
#
#   bash scripts/package_lint.sh [pagefrag-x.y.z.tgz]   (default: npm pack into a temp dir)
set -euo pipefail
cd "$(dirname "$0")/.."
export NO_COLOR=1 PATH="$PWD/node_modules/.bin:$PATH"
tgz=${1:-}
if [[ -z "$tgz" ]]; then
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/pagefrag-lint.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  npm pack --silent --pack-destination "$tmp" >/dev/null
  tgz=$(ls "$tmp"/pagefrag-*.tgz)
fi
echo "--- publint --strict $(basename "$tgz")"
publint run --strict "$tgz"
echo "--- attw --profile esm-only $(basename "$tgz")"
attw --profile esm-only --format table "$tgz"
