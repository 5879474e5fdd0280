#!/usr/bin/env bash
# Makes examples/notes/web runnable: builds the notes wasm packages
# (js/pkg-notes/{nodejs,bundler,web}, through scripts/build-wasm-packages.sh,
# incremental) and installs the page's npm dependencies (npm ci from the
# committed lockfile, or npm install when there is none). Idempotent: npm is
# skipped when node_modules is newer than package.json and the lockfile.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-wasm-packages.sh notes
cd examples/notes/web
stamp=node_modules/.package-lock.json
if [ -f package-lock.json ]; then
    if [ -f "$stamp" ] && [ "$stamp" -nt package-lock.json ] && [ "$stamp" -nt package.json ] \
        && [ -e node_modules/notes-wasm-web/notes_wasm.js ] && [ -e node_modules/flux-capacitor/src/index.js ]; then
        echo "==> examples/notes/web: node_modules up to date"
    else
        npm ci --no-audit --no-fund
    fi
else
    npm install --no-audit --no-fund
fi
echo "==> examples/notes/web ready (serve it with: cargo run -p notes-server)"
