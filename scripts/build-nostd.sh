#!/usr/bin/env bash
# Proves the core crate is no_std: builds flux-capacitor (reducers/) for
# wasm32-unknown-unknown with no default features.
#   rustup mode: cargo build --target wasm32-unknown-unknown --no-default-features
#   debian mode: Debian's cargo/rustc with -Zbuild-std=core,alloc, so only core
#                and alloc exist for the target and any use of std fails to build.
# Env: FLUX_NOSTD_PACKAGE (default flux-capacitor); CARGO_TARGET_DIR is honoured
# (debian mode default: target/wasm-nostd, apart from the native build).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

package=${FLUX_NOSTD_PACKAGE:-flux-capacitor}
cd "$(repo_root)"
wasm_env
started=$SECONDS

if [ "$FLUX_WASM_MODE" = rustup ]; then
    echo "==> [rustup] cargo build -p $package --target $WASM_TARGET --no-default-features --release"
    cargo build -p "$package" --target "$WASM_TARGET" --no-default-features --release
else
    export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/wasm-nostd}
    echo "==> [debian] $WASM_CARGO build -p $package --target $WASM_TARGET" \
        "--no-default-features -Zbuild-std=core,alloc (target dir $CARGO_TARGET_DIR)"
    "$WASM_CARGO" build --release --target "$WASM_TARGET" -Zbuild-std=core,alloc \
        -p "$package" --no-default-features
fi
echo "==> $package builds for $WASM_TARGET with core + alloc only ($((SECONDS - started))s)"
