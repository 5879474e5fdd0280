#!/usr/bin/env bash
# flux-capacitor/testing under the real Vitest and Jest (js/test-runners):
#   1. builds the notes wasm package (scripts/build-wasm-packages.sh notes)
#   2. packs js/ and js/pkg-notes/nodejs into js/test-runners/vendor/ (a tarball
#      is replaced only when its content changed)
#   3. npm ci from the committed lockfile (vitest and jest pinned; skipped when
#      node_modules is newer than the lockfile and the tarballs)
#   4. node --test check/: the notes scenarios under node --test, Vitest and Jest
#      (ESM mode), each passing as they are, failing on a wrong snapshot with the
#      same diff, failing on a new scenario showing its snapshot, recording with
#      UPDATE_SNAPSHOTS=1
# Idempotent. SKIP_WASM_BUILD=1 skips step 1 (when the package is already built).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

if [ "${SKIP_WASM_BUILD:-0}" != 1 ]; then
    bash scripts/build-wasm-packages.sh notes
fi

source scripts/lib.sh
app=js/test-runners
npm_pack_as js "$app/vendor/flux-capacitor.tgz"
npm_pack_as js/pkg-notes/nodejs "$app/vendor/notes-wasm.tgz"

cd "$app"
drop_tarball_integrity
echo "==> $app: npm ci if stale (vitest, jest: about 30 s when they are not in npm's cache)"
npm_ci_if_stale vendor/*.tgz
echo "==> $app: vitest $(node -p 'require("vitest/package.json").version')," \
    "jest $(node -p 'require("jest/package.json").version'), node $(node --version)" \
    "(each runner runs 5 times: about 30 s)"
node --test --test-reporter=spec check/
echo "==> $app: the notes scenarios pass, fail and record alike under node --test, Vitest and Jest ($((SECONDS - started))s)"
