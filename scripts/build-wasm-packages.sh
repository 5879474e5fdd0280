#!/usr/bin/env bash
# Builds the wasm npm packages with wasm-pack (through scripts/wasm-pack-build.sh:
# the wasm-bindgen-cli pinned to Cargo.lock, no downloads, the size-tuned
# release profile):
#   conformance suite (wasm/conformance):  js/pkg-conformance/{nodejs,web}
#   notes example (examples/notes/wasm):   js/pkg-notes/{nodejs,bundler,web}
#   scripts/build-wasm-packages.sh [all|notes|conformance]   (default: all)
#
# Every build runs with the same cargo environment and target dir, so after the
# first one (which compiles std and the dependencies) each is incremental, and
# the three targets of a crate share one cargo build. Idempotent: a package is
# built in a staging directory and moves into place only when its content
# differs, so a second run leaves unchanged packages (and their mtimes) alone.
#
# package.json is wasm-pack's, plus: "name" with the target for web and bundler
# (notes-wasm, notes-wasm-web, notes-wasm-bundler: one tarball name each),
# "type" ("commonjs" for nodejs, "module" for web and bundler), "module" for the
# ES targets, and every generated file in "files".
set -euo pipefail
cd "$(dirname "$0")/.."
only=${1:-all}
case $only in
    all|notes|conformance) ;;
    *) echo "usage: $0 [all|notes|conformance]" >&2; exit 2 ;;
esac
started=$SECONDS
# Its output shows as it goes: on a fresh machine it compiles two tools for minutes.
bash scripts/setup-wasm-toolchain.sh

# fix_package_json DIR TARGET
fix_package_json() {
    node - "$1" "$2" <<'JS'
const fs = require("fs"), path = require("path");
const [dir, target] = process.argv.slice(2);
const file = path.join(dir, "package.json");
const pkg = JSON.parse(fs.readFileSync(file, "utf8"));
// One name per target, so `npm pack` gives each its own tarball and an app names
// the one it imports: the crate's name for nodejs, plus "-web" or "-bundler".
if (target !== "nodejs" && !pkg.name.endsWith(`-${target}`)) pkg.name = `${pkg.name}-${target}`;
pkg.type = target === "nodejs" ? "commonjs" : "module";
if (target !== "nodejs") pkg.module = pkg.main;
else delete pkg.module;
const generated = fs.readdirSync(dir).filter((f) => f !== "package.json" && !f.startsWith("."));
pkg.files = [...new Set([...(pkg.files || []), ...generated])];
for (const key of ["name", "version", "main", "types", "files"])
  if (!pkg[key]) throw new Error(`${file}: no "${key}"`);
for (const f of pkg.files)
  if (!fs.existsSync(path.join(dir, f))) throw new Error(`${file}: "files" names missing ${f}`);
fs.writeFileSync(file, JSON.stringify(pkg, null, 2) + "\n");
JS
}

# build CRATE_DIR NAME TARGET...
build() {
    local crate=$1 name=$2 target out new
    shift 2
    for target in "$@"; do
        out=js/pkg-$name/$target
        new=js/pkg-$name/.$target.new
        rm -rf "$new"
        # --line-buffered: wasm-pack's and cargo's lines show as they come, also
        # when the output is a log file or a pipe rather than a terminal.
        bash scripts/wasm-pack-build.sh "$crate" "$new" "$target" 2>&1 \
            | grep --line-buffered -v -e '^\[INFO\]: License key is set' -e '^\[INFO\]: ✨' -e '^\[INFO\]: 📦'
        fix_package_json "$new" "$target"
        if [ -d "$out" ] && diff -rq "$new" "$out" >/dev/null 2>&1; then
            rm -rf "$new"
            echo "==> $out unchanged"
        else
            rm -rf "$out"
            mv "$new" "$out"
            echo "==> $out updated"
        fi
    done
}

if [ "$only" != notes ]; then
    build wasm/conformance conformance nodejs web
fi
if [ "$only" != conformance ]; then
    build examples/notes/wasm notes nodejs bundler web
fi
echo "==> wasm packages ($only) ready in $((SECONDS - started))s"
