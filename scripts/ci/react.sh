#!/usr/bin/env bash
# The React example (examples/react-notes) as a user builds it: flux-capacitor
# and the notes wasm package (`web` target) installed from `npm pack` tarballs,
# `tsc` (strict, skipLibCheck off), `vite build` with Vite 8 and with Vite 7
# (examples/react-notes/vite7), and a webpack 5 build. Then each build, and each
# Vite dev server with its proxy, in headless Chromium (Debian's, through
# playwright-core) against the real notes server: add, edit, remove, live,
# sorted, remount, reconnect, and the optimistic path (a note pending, then
# confirmed; a refusal shown). Screenshots: artifacts/react-notes*.png.
# Idempotent: npm ci only when a lockfile or a tarball changed.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh
started=$SECONDS
apt_install chromium
bash scripts/build-wasm-packages.sh notes
cargo build -p notes-server
target_dir=${CARGO_TARGET_DIR:-target}
case $target_dir in /*) ;; *) target_dir=$PWD/$target_dir ;; esac
export NOTES_BIN=${NOTES_BIN:-$target_dir/debug/notes}

app=examples/react-notes
npm_pack_as js "$app/vendor/flux-capacitor.tgz"
npm_pack_as js/pkg-notes/web "$app/vendor/notes-wasm-web.tgz"
cd "$app"
drop_tarball_integrity
npm_ci_if_stale vendor/*.tgz
(cd vite7 && npm_ci_if_stale)

step() {
    echo "==> $app: $*"
    "$@"
}
step npx tsc -p .
echo "==> tsc: ok"
vite_version() { node -p 'require("vite/package.json").version'; }
echo "==> Vite $(vite_version), and Vite $(cd vite7 && vite_version) in vite7/"
step npx vite build --logLevel warn
(cd vite7 && app=$app/vite7 step npx vite build --logLevel warn)
step npx webpack --stats errors-warnings
for out in dist dist-webpack vite7/dist; do
    ls "$out"/index.html "$out"/*/*.wasm "$out"/*.wasm 2>/dev/null | sed "s|^|==> built: |" || true
done
step node --test test/
echo "==> $app: built three ways, driven in Chromium five ways ($((SECONDS - started))s)"
