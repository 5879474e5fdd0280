#!/usr/bin/env bash
# The notes app from a fresh clone, in one command: installs what the machine
# lacks (wasm toolchain), builds the notes reducers' wasm package and the
# page's npm dependencies, then starts the server on embedded SQLite
# (notes.db in the current directory) and prints its URL.
# Arguments go to the server: --database postgres://... | mysql://...,
# --port N (0 = any free port), --host H. Logs go to stderr (RUST_LOG).
#
# Every step says what it does and roughly how long it takes before it starts,
# and shows its own progress (apt, cargo's "Compiling" lines) as it goes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/lib.sh"
started=$SECONDS
notes_bin=${CARGO_TARGET_DIR:-$root/target}/debug/notes
say() { echo "==> [run-notes $((SECONDS - started))s] $*"; }

if [ ! -x "$FLUX_TOOLS/bin/wasm-pack" ] || [ ! -x "$notes_bin" ]; then
    say "first run: about 10 minutes on 2 cores, nearly all of it compiling, once:" \
        "the wasm tools wasm-bindgen-cli and wasm-pack (about 7 minutes, once per machine;" \
        "built from source with cargo install, as their prebuilt binaries are downloaded" \
        "from GitHub releases, which not every machine can reach), the reducers for wasm" \
        "(about 2 minutes) and the server (about 3 minutes). Later runs take seconds."
fi
say "the page: wasm toolchain, the notes reducers' wasm package, npm packages, web/dist"
bash "$root/scripts/build-notes-web.sh"
if [ -x "$notes_bin" ]; then
    say "cargo build -p notes-server (incremental: seconds)"
else
    say "cargo build -p notes-server: the first build compiles the server and its" \
        "dependencies (tokio, axum, sqlx): about 3 minutes on 2 cores"
fi
cargo build --manifest-path "$root/Cargo.toml" -p notes-server
say "starting the notes server (its URL follows)"
exec "$notes_bin" "$@"
