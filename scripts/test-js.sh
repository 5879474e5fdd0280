#!/usr/bin/env bash
# Builds the wasm packages with wasm-pack (idempotent) and the notes server (the
# client tests run it), installs the npm
# package's dev dependencies (npm ci), runs the node tests and the TypeScript
# check, then the npm-app example: both packages installed from `npm pack`
# tarballs into a standalone app, the conformance suite through Redux Toolkit
# and MobX (scripts/test-npm-app.sh); then flux-capacitor/testing under the real
# Vitest and Jest beside node --test (scripts/test-runners.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-wasm-packages.sh
# The client tests (createClient, the property test, the RxJS adapter) run the real
# notes server process.
cargo build -p notes-server
target_dir=${CARGO_TARGET_DIR:-target}
case $target_dir in /*) ;; *) target_dir=$PWD/$target_dir ;; esac
export NOTES_BIN=${NOTES_BIN:-$target_dir/debug/notes}
(
    cd js
    npm ci --no-audit --no-fund
    node --test test/
    npx tsc -p test/types/tsconfig.json
    echo "==> tsc --noEmit: ok"
)
SKIP_WASM_BUILD=1 bash scripts/test-npm-app.sh
SKIP_WASM_BUILD=1 bash scripts/test-runners.sh
