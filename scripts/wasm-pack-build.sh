#!/usr/bin/env bash
# Builds an npm package from a wasm-bindgen crate with wasm-pack, using the
# wasm-bindgen-cli and wasm-pack that scripts/setup-wasm-toolchain.sh installed
# (no downloads: --mode no-install, or --mode force in debian mode, see below).
#   scripts/wasm-pack-build.sh <crate-dir> <out-dir> <bundler|nodejs|web> [cargo args...]
# In debian mode (no rustup wasm32 target) cargo is Debian's, with
# -Zbuild-std=std,panic_abort, and CARGO_TARGET_DIR defaults to target/wasm
# for crates inside this repo. The crate should set
#   [package.metadata.wasm-pack.profile.release] wasm-opt = false
# (wasm-pack would try to download binaryen); WASM_OPT=1 runs Debian's
# `wasm-opt -Oz` on the result instead, when it is installed.
#
# The release profile is tuned for size here, through cargo's environment
# (opt-level "s", LTO, 1 codegen unit, panic=abort, no strip: stripping drops
# what wasm-bindgen reads), so that every build made by this script - any crate,
# any target - has the same cargo configuration and shares one build of std
# and the dependencies in CARGO_TARGET_DIR. Set any CARGO_PROFILE_RELEASE_*
# variable yourself to override it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ $# -lt 3 ]; then
    echo "usage: $0 <crate-dir> <out-dir> <bundler|nodejs|web> [cargo args...]" >&2
    exit 2
fi
crate_dir=$(realpath -e "$1")
out_dir=$(realpath -m "$2")
target=$3
shift 3
case $target in
    bundler|nodejs|web) ;;
    *) echo "error: target must be bundler, nodejs or web, not '$target'" >&2; exit 2 ;;
esac

wasm_pack=$FLUX_TOOLS/bin/wasm-pack
for tool in wasm-pack wasm-bindgen; do
    [ -x "$FLUX_TOOLS/bin/$tool" ] || {
        echo "error: $tool not in \$FLUX_TOOLS/bin; run scripts/setup-wasm-toolchain.sh" >&2
        exit 1
    }
done

wasm_env
root=$(repo_root)
export CARGO_PROFILE_RELEASE_OPT_LEVEL=${CARGO_PROFILE_RELEASE_OPT_LEVEL:-s}
export CARGO_PROFILE_RELEASE_LTO=${CARGO_PROFILE_RELEASE_LTO:-true}
export CARGO_PROFILE_RELEASE_CODEGEN_UNITS=${CARGO_PROFILE_RELEASE_CODEGEN_UNITS:-1}
export CARGO_PROFILE_RELEASE_STRIP=${CARGO_PROFILE_RELEASE_STRIP:-false}
export CARGO_PROFILE_RELEASE_PANIC=${CARGO_PROFILE_RELEASE_PANIC:-abort}
if [ "$FLUX_WASM_MODE" = debian ]; then
    # wasm-pack runs the first `cargo` on PATH: make it Debian's.
    export PATH="$WASM_SHIM_BIN:$PATH"
    if [ -z "${CARGO_TARGET_DIR:-}" ]; then
        case $crate_dir/ in "$root"/*) export CARGO_TARGET_DIR="$root/target/wasm" ;; esac
    fi
fi

# wasm-pack uses the wasm-bindgen on PATH only when its version is exactly the
# one in the crate's Cargo.lock; check that here, with a clear message.
# `cargo metadata` first brings Cargo.lock in line with Cargo.toml (the build
# would do so anyway), so the version compared is the one the build will use.
# Not --quiet: on a fresh machine it fetches the index and the crates, and its
# "Updating", "Downloaded" lines are that step's progress (nothing when done).
(cd "$crate_dir" && "$WASM_CARGO" metadata --format-version 1 >/dev/null)
lockfile=$(cd "$crate_dir" && "$WASM_CARGO" locate-project --workspace --message-format plain)
lockfile=$(dirname "$lockfile")/Cargo.lock
want=$(lock_version "$lockfile" wasm-bindgen | sort -u)
have=$(wasm-bindgen --version)
if [ -z "$want" ]; then
    echo "error: the crate's Cargo.lock has no wasm-bindgen" >&2
    exit 1
elif [ "$have" != "wasm-bindgen $want" ]; then
    echo "error: Cargo.lock wants wasm-bindgen $want but \$FLUX_TOOLS/bin has '$have';" \
        "run scripts/setup-wasm-toolchain.sh" >&2
    exit 1
fi

# --mode no-install: use the wasm-bindgen on PATH, never download. In debian
# mode it has to be --mode force instead: wasm-pack (0.15) checks for the wasm32
# target in rustc's sysroot even in no-install mode, and Debian's sysroot has
# none (std is built by -Zbuild-std). Force skips that check; it would download
# a mismatched wasm-bindgen, but the check above rules that out.
mode=no-install
[ "$FLUX_WASM_MODE" = debian ] && mode=force

started=$SECONDS
crate_name=${crate_dir#"$root"/}
echo "==> [$FLUX_WASM_MODE] wasm-pack build --mode $mode --target $target $crate_name" \
    "($have)"
# A first build in a target dir compiles the dependencies (and in debian mode the
# standard library) for wasm: minutes. Say so, rather than sit silent.
wasm_target_dir=${CARGO_TARGET_DIR:-$(dirname "$lockfile")/target}
if [ ! -d "$wasm_target_dir/$WASM_TARGET/release/deps" ]; then
    echo "==> first wasm build in $wasm_target_dir: compiles the dependencies" \
        "$([ "$FLUX_WASM_MODE" = debian ] && echo "and the standard library ")for wasm," \
        "a few minutes (later builds: seconds)"
fi
"$wasm_pack" build --mode "$mode" --no-opt --target "$target" --out-dir "$out_dir" --release \
    "$crate_dir" "${WASM_BUILD_STD_ARGS[@]}" "$@"

# binaryen before 116 (Debian's is 108) reads wasm-bindgen's externref table as
# anyref and writes it back so, and the package then fails on load with
# "WebAssembly.Table.set(): Argument 1 is invalid for table: function-typed
# object must be null (if nullable) or a Wasm function object". Skip those.
wasm_opt_min=116
if [ "${WASM_OPT:-0}" = 1 ]; then
    opt_version=$( (wasm-opt --version 2>/dev/null || true) | grep -o 'version [0-9]*' | grep -o '[0-9]*$' || true)
    if ! command -v wasm-opt >/dev/null 2>&1; then
        echo "==> WASM_OPT=1 but no wasm-opt (apt-get install binaryen); skipped"
    elif [ "${opt_version:-0}" -lt $wasm_opt_min ]; then
        echo "==> WASM_OPT=1 but wasm-opt is version ${opt_version:-unknown}, older than" \
            "$wasm_opt_min, which breaks wasm-bindgen's externref table; skipped"
    else
        for wasm in "$out_dir"/*_bg.wasm; do
            before=$(stat -c %s "$wasm")
            # Features rustc enables by default for wasm32-unknown-unknown.
            wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
                --enable-sign-ext --enable-mutable-globals --enable-reference-types \
                --enable-multivalue "$wasm" -o "$wasm.opt"
            mv "$wasm.opt" "$wasm"
            echo "==> wasm-opt -Oz $(basename "$wasm"): $before -> $(stat -c %s "$wasm") bytes"
        done
    fi
fi
echo "==> package in $out_dir ($((SECONDS - started))s)"
