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

source scripts/lib.sh
app=examples/npm-app
npm_pack_as js "$app/vendor/flux-capacitor.tgz"
npm_pack_as js/pkg-conformance/nodejs "$app/vendor/flux-capacitor-conformance-wasm.tgz"

cd "$app"
drop_tarball_integrity
npm_ci_if_stale vendor/*.tgz
node --test test/
echo "==> $app: conformance suite passed through the packed packages ($((SECONDS - started))s)"
