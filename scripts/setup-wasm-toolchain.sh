#!/usr/bin/env bash
# Installs what building the wasm packages needs; skips whatever is present.
#   scripts/setup-wasm-toolchain.sh [--no-pack]
#
# - No rustup wasm32-unknown-unknown target: Debian's rustc-web, rust-web-src
#   and lld (std is built from source with -Zbuild-std; see scripts/lib.sh),
#   plus binaryen for an optional wasm-opt pass.
# - wasm-bindgen-cli at exactly the version of the wasm-bindgen crate in
#   Cargo.lock (or $WASM_BINDGEN_VERSION when Cargo.lock has none yet).
# - wasm-pack (any version), unless --no-pack.
# Both are installed with `cargo install --root "$FLUX_TOOLS"` (a per-user cache,
# ~/.cache/flux-capacitor/tools by default), so they are built once per machine.
# They are compiled, not downloaded: their prebuilt binaries come from GitHub
# releases (the npm `wasm-pack` package downloads them from there too), which
# not every machine can reach, while crates.io is what cargo needs anyway.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

with_pack=1
for arg in "$@"; do
    case $arg in
        --no-pack) with_pack=0 ;;
        -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "error: unknown argument: $arg (usage: $0 [--no-pack])" >&2; exit 2 ;;
    esac
done

started=$SECONDS
root=$(repo_root)

# --- the compiler side ------------------------------------------------------
if have_rustup_wasm_target; then
    echo "==> rustup has $WASM_TARGET: using it (no Debian packages needed)"
else
    echo "==> no rustup $WASM_TARGET target: using Debian's rustc-web + build-std"
    apt_install rustc-web cargo-web rust-web-src lld
    # wasm-opt is optional: only for WASM_OPT=1 in scripts/wasm-pack-build.sh.
    apt_install binaryen || echo "==> binaryen not installed (optional, wasm-opt unavailable)"
fi

# --- wasm-bindgen-cli, pinned to Cargo.lock ------------------------------------
versions=$(lock_version "$root/Cargo.lock" wasm-bindgen | sort -u)
if [ "$(printf '%s\n' "$versions" | grep -c .)" -gt 1 ]; then
    echo "error: Cargo.lock has several wasm-bindgen versions:" $versions >&2
    exit 1
fi
if [ -n "$versions" ]; then
    bindgen_version=$versions
    echo "==> wasm-bindgen $bindgen_version (from Cargo.lock)"
elif [ -n "${WASM_BINDGEN_VERSION:-}" ]; then
    bindgen_version=$WASM_BINDGEN_VERSION
    echo "==> wasm-bindgen $bindgen_version (from WASM_BINDGEN_VERSION; not in Cargo.lock)"
else
    echo "error: Cargo.lock has no wasm-bindgen package and WASM_BINDGEN_VERSION is unset;" \
        "cannot tell which wasm-bindgen-cli to install" >&2
    exit 1
fi

# cargo_install CRATE [ARGS...] - `cargo install --locked` into $FLUX_TOOLS with
# the machine's usual cargo (rustup's when present), never with the wasm build's
# environment. When the crate's own lock file names a dependency version that the
# registry does not offer (seen: wasm-bindgen-cli 0.2.130 locks webpki-roots
# 1.0.11, which the registry here lacks), retry without --locked: the newest
# semver-compatible versions the registry does have.
cargo_install() {
    local crate=$1; shift
    # Not --quiet: cargo's "Compiling ..." lines are the progress of a step of
    # minutes. They go to the terminal as they come and to $log, which is read
    # to tell a missing registry version from a real failure.
    local cmd=(env -u RUSTC -u RUSTC_BOOTSTRAP -u CARGO_TARGET_DIR cargo install "$crate" "$@"
        --root "$FLUX_TOOLS")
    local log
    log=$(mktemp)
    local status=0
    "${cmd[@]}" --locked 2>&1 | tee "$log" >&2 || status=$?
    if [ "$status" -eq 0 ]; then
        rm -f "$log"; return 0
    fi
    if grep -q 'failed to select a version' "$log"; then
        sed 's/^/    /' "$log" | head -6
        rm -f "$log"
        echo "==> $crate: its Cargo.lock pins a version the registry lacks; retrying without --locked"
        "${cmd[@]}"
    else
        rm -f "$log"; return 1
    fi
}

have_bindgen=$("$FLUX_TOOLS/bin/wasm-bindgen" --version 2>/dev/null || true)
if [ "$have_bindgen" = "wasm-bindgen $bindgen_version" ]; then
    echo "==> wasm-bindgen-cli $bindgen_version already installed"
else
    if [ -n "$have_bindgen" ]; then echo "==> replacing $have_bindgen"; fi
    echo "==> cargo install wasm-bindgen-cli $bindgen_version: compiles it from source," \
        "about 3 minutes on 2 cores, once per machine (cargo's lines follow)"
    t=$SECONDS
    cargo_install wasm-bindgen-cli --version "$bindgen_version"
    got=$("$FLUX_TOOLS/bin/wasm-bindgen" --version)
    [ "$got" = "wasm-bindgen $bindgen_version" ] || {
        echo "error: installed wasm-bindgen reports '$got', wanted $bindgen_version" >&2
        exit 1
    }
    echo "==> wasm-bindgen-cli $bindgen_version installed in $((SECONDS - t))s"
fi

# --- wasm-pack ---------------------------------------------------------------
if [ $with_pack -eq 1 ]; then
    if have_pack=$("$FLUX_TOOLS/bin/wasm-pack" --version 2>/dev/null); then
        echo "==> $have_pack already installed"
    else
        echo "==> cargo install wasm-pack: compiles it from source, about 4 minutes on" \
            "2 cores, once per machine (cargo's lines follow)"
        t=$SECONDS
        cargo_install wasm-pack
        echo "==> $("$FLUX_TOOLS/bin/wasm-pack" --version) installed in $((SECONDS - t))s"
    fi
fi

echo "==> wasm toolchain ready in $((SECONDS - started))s (tools in \$FLUX_TOOLS/bin)"
