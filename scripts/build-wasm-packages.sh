#!/usr/bin/env bash
# Builds the wasm npm packages (conformance suite: nodejs, web; notes example:
# nodejs, bundler, web) with cargo +
# wasm-bindgen directly. Idempotent. Output: js/pkg-<name>/<target>/.
#   scripts/build-wasm-packages.sh [all|notes|conformance]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
only=${1:-all}
case $only in
    all|notes|conformance) ;;
    *) echo "usage: $0 [all|notes|conformance]" >&2; exit 2 ;;
esac
bash scripts/setup-wasm-toolchain.sh >/dev/null
export PATH="$HOME/.cache/flux-capacitor/tools/bin:$PATH"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target/wasm}
export CARGO_PROFILE_RELEASE_OPT_LEVEL=s CARGO_PROFILE_RELEASE_LTO=true CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
    CARGO_PROFILE_RELEASE_STRIP=false CARGO_PROFILE_RELEASE_PANIC=abort
build() { # <package> <lib name> <out name> <targets...>
    local pkg=$1 lib=$2 name=$3; shift 3
    if rustup target list --installed 2>/dev/null | grep -q wasm32-unknown-unknown; then
        cargo build --release --target wasm32-unknown-unknown -p "$pkg"
    else
        RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld \
            /usr/bin/cargo build --release --target wasm32-unknown-unknown -Zbuild-std=std,panic_abort -p "$pkg"
    fi
    for target in "$@"; do
        local out=js/pkg-$name/$target
        wasm-bindgen --target "$target" --out-dir "$out" "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/$lib.wasm"
        if command -v wasm-opt >/dev/null 2>&1 && [ "${WASM_OPT:-0}" = 1 ]; then
            # Opt-in (WASM_OPT=1): -Oz currently breaks the externref table glue. Debian binaryen; features rustc enables by default for wasm32-unknown-unknown.
            wasm-opt -Oz --strip-debug --strip-producers --enable-bulk-memory --enable-nontrapping-float-to-int \
                --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
                "$out/${lib}_bg.wasm" -o "$out/${lib}_bg.wasm"
        fi
        local type=module; [ "$target" = nodejs ] && type=commonjs
        cat >"$out/package.json" <<JSON
{ "name": "$pkg", "version": "0.1.0", "type": "$type", "main": "$lib.js", "types": "$lib.d.ts" }
JSON
    done
}
if [ "$only" != notes ]; then
    build flux-capacitor-conformance-wasm flux_capacitor_conformance_wasm conformance nodejs web
fi
if [ "$only" != conformance ]; then
    build notes-wasm notes_wasm notes nodejs bundler web
fi
