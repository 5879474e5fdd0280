#!/usr/bin/env bash
# Publishable, checked without uploading anything: `cargo package` builds each
# library crate from exactly the files it would upload (the workspace's crates
# are packaged together, so the server builds against the packaged core), and
# `npm pack` makes the npm package's tarball, which must hold its sources, its
# types and both licence texts. (--allow-dirty: the working tree is what is
# checked, committed or not.)
set -euo pipefail
cd "$(dirname "$0")/../.."

crates=(flux-capacitor flux-capacitor-server flux-capacitor-wasm)
echo "==> cargo package ${crates[*]} (builds each from its package; a few minutes)"
cargo package --locked --allow-dirty "${crates[@]/#/--package=}"

for licence in LICENSE-MIT LICENSE-APACHE; do
    cmp "$licence" "js/$licence" || { echo "error: js/$licence differs from $licence" >&2; exit 1; }
done
echo "==> npm pack --dry-run (js/)"
files=$(cd js && npm pack --dry-run --json | node -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () =>
        console.log(JSON.parse(s)[0].files.map((f) => f.path).join("\n")));')
for wanted in package.json README.md LICENSE-MIT LICENSE-APACHE src/index.js src/index.d.ts src/testing.js src/live.js src/client.js src/rxjs.js; do
    grep -qx "$wanted" <<<"$files" || { echo "error: the npm package lacks $wanted" >&2; exit 1; }
done
echo "==> the npm package holds $(wc -l <<<"$files") files, licences and types included"
