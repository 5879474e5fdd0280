#!/usr/bin/env bash
# The notes app end to end: the live client against the real notes server
# (drops, restart, resume), and the page in a real headless Chromium (Debian's
# chromium, driven by playwright-core) as two users at once.
# Screenshot: artifacts/notes-browser.png.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh
apt_install chromium
bash scripts/build-notes-web.sh
cargo build -p notes-server
target_dir=${CARGO_TARGET_DIR:-target}
case $target_dir in /*) ;; *) target_dir=$PWD/$target_dir ;; esac
export NOTES_BIN=${NOTES_BIN:-$target_dir/debug/notes}
cd examples/notes/web
node --test test/*.test.js
