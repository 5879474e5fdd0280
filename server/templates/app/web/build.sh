#!/usr/bin/env bash
# Builds the page into web/dist, the directory the server serves: the wasm
# packages (web/pkg/web for the page, web/pkg/nodejs for the tests), the npm
# dependencies, then index.html, app.js and the ES module builds the import
# map names, copied to dist/vendor/.
set -euo pipefail
cd "$(dirname "$0")"
if [ "${SKIP_WASM:-0}" != 1 ]; then
    wasm-pack build --target web --out-dir ../web/pkg/web ../wasm
    wasm-pack build --target nodejs --out-dir ../web/pkg/nodejs ../wasm
fi
npm install --no-audit --no-fund
rm -rf dist
mkdir -p dist/vendor/@reduxjs/toolkit dist/vendor/redux dist/vendor/immer dist/vendor/reselect \
    dist/vendor/redux-thunk dist/vendor/flux-capacitor dist/vendor/wasm
cp index.html app.js dist/
cp -L node_modules/@reduxjs/toolkit/dist/redux-toolkit.browser.mjs dist/vendor/@reduxjs/toolkit/
cp -L node_modules/redux/dist/redux.browser.mjs dist/vendor/redux/
cp -L node_modules/immer/dist/immer.production.mjs dist/vendor/immer/
cp -L node_modules/reselect/dist/reselect.browser.mjs dist/vendor/reselect/
cp -L node_modules/redux-thunk/dist/redux-thunk.mjs dist/vendor/redux-thunk/
cp -L node_modules/flux-capacitor/src/*.js dist/vendor/flux-capacitor/
cp -L pkg/web/{{crate}}_wasm.js pkg/web/{{crate}}_wasm_bg.wasm dist/vendor/wasm/
echo "==> web/dist ready: cargo run -p {{name}}-server, then open http://127.0.0.1:8080/"
