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
say() { echo "==> [run-notes $((SECONDS - started))s] $*"; }

# What this run compiles for the first time, and about how long each takes.
target_dir=${CARGO_TARGET_DIR:-$root/target}
notes_bin=$target_dir/debug/notes
firsts=() minutes=0
first() { firsts+=("$*"); } # one item of the plan, its words joined
if [ ! -x "$FLUX_TOOLS/bin/wasm-pack" ] || [ ! -x "$FLUX_TOOLS/bin/wasm-bindgen" ]; then
    first "the wasm tools wasm-bindgen-cli and wasm-pack, once per machine (about 7 minutes;" \
        "built from source with cargo install, as their prebuilt binaries are downloaded from" \
        "GitHub releases, which not every machine can reach)"
    minutes=$((minutes + 7))
fi
if [ ! -d "$target_dir/wasm/wasm32-unknown-unknown/release" ] && [ ! -d "$target_dir/wasm32-unknown-unknown/release" ]; then
    first "the reducers and the standard library for wasm (about 2 minutes)"
    minutes=$((minutes + 2))
fi
if [ ! -x "$notes_bin" ]; then
    first "the server and its dependencies (about 3 minutes)"
    minutes=$((minutes + 3))
fi
if [ ${#firsts[@]} -gt 0 ]; then
    say "a first run: about $minutes minutes on 2 cores, nearly all of it compiling, once;" \
        "later runs take seconds. It builds:"
    printf '    - %s\n' "${firsts[@]}"
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
