#!/usr/bin/env bash
# Builds the notes page into examples/notes/web/dist, the only directory the
# notes server serves: builds the notes wasm packages
# (js/pkg-notes/{nodejs,bundler,web}, through scripts/build-wasm-packages.sh,
# incremental), installs the page's npm dependencies (npm ci from the
# committed lockfile, or npm install when there is none), then copies into a
# fresh dist/ what the page ships: index.html, app.js, style.css and, under
# vendor/, the browser builds its import map names (links followed, so dist/
# holds plain files). Sources, tests, package.json and node_modules stay out.
# Idempotent: npm is skipped when node_modules is newer than package.json and
# the lockfile; dist/ is rebuilt every time (a copy of a few files).
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
        echo "==> examples/notes/web: npm ci (Redux Toolkit, the packages above:" \
            "seconds from npm's cache, up to a minute from the registry)"
        npm ci --no-audit --no-fund
    fi
else
    echo "==> examples/notes/web: npm install (up to a minute from the registry)"
    npm install --no-audit --no-fund
fi
rm -rf dist
mkdir -p dist/vendor/@reduxjs/toolkit dist/vendor/redux dist/vendor/immer dist/vendor/reselect \
    dist/vendor/redux-thunk dist/vendor/flux-capacitor dist/vendor/notes-wasm-web
cp index.html app.js style.css dist/
cp -L node_modules/@reduxjs/toolkit/dist/redux-toolkit.browser.mjs dist/vendor/@reduxjs/toolkit/
cp -L node_modules/redux/dist/redux.browser.mjs dist/vendor/redux/
cp -L node_modules/immer/dist/immer.production.mjs dist/vendor/immer/
cp -L node_modules/reselect/dist/reselect.browser.mjs dist/vendor/reselect/
cp -L node_modules/redux-thunk/dist/redux-thunk.mjs dist/vendor/redux-thunk/
cp -L node_modules/flux-capacitor/src/*.js dist/vendor/flux-capacitor/
cp -L node_modules/notes-wasm-web/notes_wasm.js node_modules/notes-wasm-web/notes_wasm_bg.wasm dist/vendor/notes-wasm-web/
echo "==> examples/notes/web/dist ready (serve it with: cargo run -p notes-server)"
