#!/usr/bin/env bash
# A release dry run: everything a release needs, publishing nothing.
#
#   npm run release:check
#
# 1. package.json and deno.json agree (exports, name, version, license,
#    dependencies: scripts/exports.mjs) and CHANGELOG.md has an entry for the
#    version ("## <version>" or "## [<version>]"; "## Unreleased" is not
#    enough: rename it when you cut the release);
# 2. README/docs links resolve in both packages (scripts/check_links.mjs);
# 3. the npm tarball passes publint and attw (scripts/package_lint.sh);
# 4. `deno publish --dry-run` (JSR: slow types, files) and
#    `npm publish --dry-run` (npm: what would be uploaded).
# It fails on the first problem. Uncommitted changes are allowed (dry runs).
set -euo pipefail
cd "$(dirname "$0")/.."
export NO_COLOR=1 PATH="$PWD/node_modules/.bin:$PATH"

version=$(node -p 'require("./package.json").version')
deno_version=$(node -p 'require("./deno.json").version')
echo "--- versions: package.json $version, deno.json $deno_version"
if [[ "$version" != "$deno_version" ]]; then
  echo "package.json and deno.json versions differ"
  exit 1
fi
node scripts/exports.mjs
esc=${version//./\\.}
if ! grep -Eq "^## \[?v?$esc\]?( |$)" CHANGELOG.md; then
  echo "CHANGELOG.md has no '## $version' entry (rename '## Unreleased' to '## $version - $(date -u +%F)' when releasing)"
  exit 1
fi
echo "CHANGELOG.md has an entry for $version"
node scripts/check_links.mjs
bash scripts/package_lint.sh
echo "--- deno publish --dry-run"
deno publish --dry-run --allow-dirty
echo "--- npm publish --dry-run"
npm publish --dry-run --ignore-scripts=false 2>&1 | tail -n 25
echo "release check passed for $version"
