#!/usr/bin/env bash
# The worked example of installing the packages as a user would:
# examples/npm-app installs flux-capacitor and the conformance reducers' wasm
# package from `npm pack` tarballs (plus redux, @reduxjs/toolkit and mobx from
# the registry) and runs the shared conformance suite through reduxify in an RTK
# store and through the MobX adapter.
#   1. builds the conformance wasm package (scripts/build-wasm-packages.sh conformance)
#   2. packs js/ and js/pkg-conformance/nodejs into examples/npm-app/vendor/ under
#      stable names (flux-capacitor.tgz, flux-capacitor-conformance-wasm.tgz); a
#      tarball is replaced only when its content changed
#   3. npm ci from the committed lockfile (skipped when node_modules is newer than
#      the lockfile and the tarballs)
#   4. node --test test/
# Idempotent. SKIP_WASM_BUILD=1 skips step 1 (when the package is already built).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

if [ "${SKIP_WASM_BUILD:-0}" != 1 ]; then
    bash scripts/build-wasm-packages.sh conformance
fi

app=examples/npm-app
vendor=$app/vendor
mkdir -p "$vendor"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# pack DIR NAME - npm pack DIR into $vendor/NAME.tgz
pack() {
    local dir=$1 name=$2 out
    rm -rf "$work/pack" && mkdir -p "$work/pack"
    (cd "$dir" && npm pack --silent --pack-destination "$work/pack" >/dev/null)
    out=$(find "$work/pack" -name '*.tgz')
    [ "$(printf '%s\n' "$out" | grep -c .)" -eq 1 ] || { echo "error: npm pack $dir gave: $out" >&2; exit 1; }
    if cmp -s "$out" "$vendor/$name.tgz"; then
        echo "==> $vendor/$name.tgz unchanged"
    else
        mv "$out" "$vendor/$name.tgz"
        echo "==> $vendor/$name.tgz packed from $dir"
    fi
}
pack js flux-capacitor
pack js/pkg-conformance/nodejs flux-capacitor-conformance-wasm

cd "$app"
# The lockfile must not hold an integrity hash for the vendor tarballs: they are
# rebuilt from this checkout, and npm ci would install the cached package that
# matches an old hash instead of the tarball that is there. `npm install` writes
# the hashes back; drop them again.
node - <<'JS'
const fs = require("fs");
const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8"));
let dropped = 0;
for (const entry of Object.values(lock.packages))
  if (String(entry.resolved).startsWith("file:") && entry.integrity) delete entry.integrity, dropped++;
if (dropped) {
  fs.writeFileSync("package-lock.json", JSON.stringify(lock, null, 2) + "\n");
  console.log(`==> package-lock.json: dropped the integrity of ${dropped} vendor tarball(s)`);
}
JS
stamp=node_modules/.package-lock.json
fresh=1
for f in package.json package-lock.json vendor/*.tgz; do
    [ -f "$stamp" ] && [ "$stamp" -nt "$f" ] || fresh=0
done
if [ $fresh = 1 ]; then
    echo "==> $app: node_modules up to date"
else
    npm ci --no-audit --no-fund
fi
node --test test/
echo "==> $app: conformance suite passed through the packed packages ($((SECONDS - started))s)"
