#!/usr/bin/env bash
# The notes app from a fresh clone, in one command: installs what the machine
# lacks (wasm toolchain), builds the notes reducers' wasm package and the
# page's npm dependencies, then starts the server on embedded SQLite
# (notes.db in the current directory) and prints its URL.
# Arguments go to the server: --database postgres://... | mysql://...,
# --port N (0 = any free port), --host H. Logs go to stderr (RUST_LOG).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/build-notes-web.sh"
cargo build --manifest-path "$root/Cargo.toml" -p notes-server
exec "${CARGO_TARGET_DIR:-$root/target}/debug/notes" "$@"
