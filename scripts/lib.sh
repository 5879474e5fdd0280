# shellcheck shell=bash
# Helpers shared by the scripts in scripts/. Source it, don't run it:
#     source "$(dirname "$0")/lib.sh"
#
# Tools this project installs itself (wasm-bindgen-cli, wasm-pack) go to
# $FLUX_TOOLS, by default a per-user cache, ~/.cache/flux-capacitor/tools, so
# every clone of the repo on the same machine reuses one install instead of
# compiling them again. Set FLUX_TOOLS to put them elsewhere (e.g. a
# project-local, git-ignored directory).
#
# Two ways to build for wasm32-unknown-unknown:
#   rustup mode  - `rustup target list --installed` lists wasm32-unknown-unknown:
#                  plain `cargo`, no extra arguments.
#   debian mode  - no rustup wasm target (it cannot be downloaded everywhere):
#                  Debian's rustc-web (/usr/bin/cargo, /usr/bin/rustc) builds the
#                  standard library from rust-web-src with -Zbuild-std, linking
#                  with lld's wasm-ld.

WASM_TARGET=wasm32-unknown-unknown

# The repository's top directory (the parent of scripts/), whatever the cwd.
repo_root() {
    (cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
}

FLUX_TOOLS=${FLUX_TOOLS:-$HOME/.cache/flux-capacitor/tools}
export FLUX_TOOLS
case ":$PATH:" in
    *":$FLUX_TOOLS/bin:"*) ;;
    *) export PATH="$FLUX_TOOLS/bin:$PATH" ;;
esac

# True when rustup has the wasm32-unknown-unknown target installed for the
# active toolchain.
have_rustup_wasm_target() {
    command -v rustup >/dev/null 2>&1 || return 1
    rustup target list --installed 2>/dev/null | grep -x "$WASM_TARGET" >/dev/null
}

# apt_install PKG... - installs only the packages dpkg does not already have
# (apt-get update runs once, and only when something is missing).
apt_install() {
    local missing=() pkg
    for pkg in "$@"; do
        if [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" = "install ok installed" ]; then
            echo "==> apt: $pkg already installed"
        else
            missing+=("$pkg")
        fi
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    echo "==> apt: installing ${missing[*]} (apt-get update, then download and unpack:" \
        "usually under a minute or two)"
    "${sudo[@]}" apt-get update -qq
    # -q, not -qq: apt's "Get:", "Unpacking" and "Setting up" lines are its progress.
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# lock_version LOCKFILE NAME - the version(s) of package NAME in a Cargo.lock,
# one a line; nothing when the file or the package is absent.
lock_version() {
    [ -f "$1" ] || return 0
    awk -v name="$2" '
        $0 == "name = \"" name "\"" { want = 1; next }
        want && /^version = / { gsub(/^version = "|"$/, ""); print; want = 0 }
        /^\[\[package\]\]/ { want = 0 }
    ' "$1"
}

# wasm_env - sets up the environment for a wasm32 build and tells how to run it:
#   FLUX_WASM_MODE        rustup | debian
#   WASM_CARGO            the cargo to run (cargo, or /usr/bin/cargo)
#   WASM_BUILD_STD_ARGS   array of extra cargo arguments (empty in rustup mode)
# In debian mode it also exports RUSTC=/usr/bin/rustc (so rustup's rustc shim,
# which has no wasm std, is not picked up), RUSTC_BOOTSTRAP=1 (for -Z flags on a
# stable compiler) and the wasm-ld linker; and WASM_SHIM_BIN, a directory whose
# `cargo` and `rustc` are Debian's, for tools such as wasm-pack that run
# whatever `cargo` is first on PATH.
wasm_env() {
    if have_rustup_wasm_target; then
        FLUX_WASM_MODE=rustup
        WASM_CARGO=cargo
        WASM_BUILD_STD_ARGS=()
        WASM_SHIM_BIN=
    else
        local tool
        for tool in /usr/bin/cargo /usr/bin/rustc; do
            [ -x "$tool" ] || {
                echo "error: no rustup $WASM_TARGET target and no $tool;" \
                    "run scripts/setup-wasm-toolchain.sh first" >&2
                return 1
            }
        done
        command -v wasm-ld >/dev/null 2>&1 || {
            echo "error: wasm-ld not found; run scripts/setup-wasm-toolchain.sh first" >&2
            return 1
        }
        FLUX_WASM_MODE=debian
        WASM_CARGO=/usr/bin/cargo
        WASM_BUILD_STD_ARGS=(-Zbuild-std=std,panic_abort)
        export RUSTC=/usr/bin/rustc
        export RUSTC_BOOTSTRAP=1
        export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld
        WASM_SHIM_BIN=$FLUX_TOOLS/debian-rust/bin
        if [ ! -e "$WASM_SHIM_BIN/cargo" ] || [ ! -e "$WASM_SHIM_BIN/rustc" ]; then
            mkdir -p "$WASM_SHIM_BIN"
            ln -sf /usr/bin/cargo "$WASM_SHIM_BIN/cargo"
            ln -sf /usr/bin/rustc "$WASM_SHIM_BIN/rustc"
        fi
    fi
    export FLUX_WASM_MODE WASM_CARGO WASM_SHIM_BIN
}

# npm_pack_as DIR OUT.tgz - `npm pack` the package in DIR into OUT.tgz (a stable
# name, whatever the package's name and version). npm pack is reproducible, so
# OUT.tgz is replaced only when the content changed, and an app's npm ci is
# skipped when nothing did.
npm_pack_as() {
    local dir=$1 out=$2 work tgz
    work=$(mktemp -d)
    (cd "$dir" && npm pack --silent --pack-destination "$work" >/dev/null)
    tgz=$(find "$work" -name '*.tgz')
    if [ "$(printf '%s\n' "$tgz" | grep -c .)" -ne 1 ]; then
        echo "error: npm pack $dir gave: $tgz" >&2
        rm -rf "$work"
        return 1
    fi
    mkdir -p "$(dirname "$out")"
    if cmp -s "$tgz" "$out"; then
        echo "==> $out unchanged"
    else
        mv "$tgz" "$out"
        echo "==> $out packed from $dir"
    fi
    rm -rf "$work"
}

# drop_tarball_integrity [LOCKFILE] - removes the integrity hashes of the `file:`
# tarballs from a package-lock.json (default: the one in the current directory).
# They are rebuilt from the checkout, and npm ci would install npm's cached
# package that matches an old hash instead of the tarball that is there;
# `npm install` writes the hashes back.
drop_tarball_integrity() {
    node - "${1:-package-lock.json}" <<'JS'
const fs = require("fs");
const file = process.argv[2];
const lock = JSON.parse(fs.readFileSync(file, "utf8"));
let dropped = 0;
for (const entry of Object.values(lock.packages))
  if (String(entry.resolved).startsWith("file:") && entry.integrity) delete entry.integrity, dropped++;
if (dropped) {
  fs.writeFileSync(file, JSON.stringify(lock, null, 2) + "\n");
  console.log(`==> ${file}: dropped the integrity of ${dropped} file: tarball(s)`);
}
JS
}

# npm_ci_if_stale FILE... - npm ci in the current directory unless node_modules
# is newer than package.json, package-lock.json and every FILE (e.g. vendored
# tarballs).
npm_ci_if_stale() {
    local stamp=node_modules/.package-lock.json f
    for f in package.json package-lock.json "$@"; do
        if [ ! -f "$stamp" ] || [ ! "$stamp" -nt "$f" ]; then
            npm ci --no-audit --no-fund
            return
        fi
    done
    echo "==> $(basename "$PWD"): node_modules up to date"
}
