#!/usr/bin/env bash
# `flux-capacitor new` makes an app that builds, tests and runs as it is:
# generate one into a temp directory (path dependencies on this checkout), run
# its Rust tests (reducers over MemoryDatabase, the store on SQLite), build its
# wasm packages, run its node tests, build its page, then run its server
# briefly: dispatch an event over HTTP and read it back, then open its page in
# headless Chromium (Debian's, through playwright-core: scripts/ci/starter-page)
# as two users: add, tick and remove a todo, each seen live by the other page.
# Screenshot: artifacts/starter-page.png.
# Compiled dependencies are reused: CARGO_TARGET_DIR is this checkout's target/
# and the app's Cargo.lock starts from this repo's, so only the app's own crates
# compile (about a minute on a warm target/).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh
root=$PWD
scratch=$(mktemp -d)
app=$scratch/starter-app
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    rm -rf "$scratch"
}
trap cleanup EXIT
step() { echo "==> [starter $((SECONDS))s] $*"; }

apt_install chromium
step "cargo build --bin flux-capacitor"
cargo build -q -p flux-capacitor-server --bin flux-capacitor
step "flux-capacitor new $app --flux-path $root"
target/debug/flux-capacitor new "$app" --flux-path "$root"
cp Cargo.lock "$app/Cargo.lock"

step "the app's Rust tests (compiles the app's crates: a minute or two)"
(cd "$app" && CARGO_TARGET_DIR=$root/target cargo test -q)
step "the app's SQL scenarios on PostgreSQL (SCENARIO_DATABASE_URL)"
(cd "$app" && SCENARIO_DATABASE_URL=${DATABASE_URL_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres} \
    CARGO_TARGET_DIR=$root/target cargo test -q -p starter-app-server --test scenarios)

step "the app's server binary"
(cd "$app" && CARGO_TARGET_DIR=$root/target cargo build -q -p starter-app-server)

step "the app's wasm packages (nodejs, web: a minute or two)"
# In a subshell: wasm_env's RUSTC and friends (debian mode) stay out of the
# native builds above, which would otherwise recompile everything.
(
    wasm_env
    wasm_target=$root/target
    [ "$FLUX_WASM_MODE" = debian ] && wasm_target=$root/target/wasm
    for kind in nodejs web; do
        CARGO_TARGET_DIR=$wasm_target bash scripts/wasm-pack-build.sh "$app/wasm" "$app/web/pkg/$kind" "$kind"
    done
)

step "the app's page (npm install, web/dist) and its node tests"
(cd "$app/web" && SKIP_WASM=1 bash build.sh && npm test)

step "the app's server: dispatch an event over HTTP and read it back"
out=$scratch/server.log
"$root/target/debug/starter-app" --port 0 --database "sqlite://$scratch/app.db" --web "$app/web/dist" >"$out" 2>"$scratch/err.log" &
pid=$!
url=
for _ in $(seq 1 100); do
    url=$(grep -o 'http://[0-9.:]*/' "$out" | head -1 || true)
    [ -n "$url" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$scratch/err.log" >&2; echo "error: the app's server exited" >&2; exit 1; }
    sleep 0.1
done
[ -n "$url" ] || { echo "error: the app's server printed no URL" >&2; exit 1; }
page=$(curl -fsS "$url") # read whole: `curl | grep -q` under pipefail fails when grep exits first
grep -q '<title>starter-app' <<<"$page" || { echo "error: $url serves no page" >&2; exit 1; }
curl -fsS -X POST "${url}dispatch/addTodo" -H 'content-type: application/json' \
    -d '{"id":"ci","title":"Needs 1.21 gigawatts"}' >/dev/null
todo=$(curl -fsS "${url}collections/todos/ci")
grep -q '"done":false' <<<"$todo" || { echo "error: the todo did not reach the read model" >&2; exit 1; }
if curl -fsS -X POST "${url}dispatch/addTodo" -H 'content-type: application/json' -d '{"title":1}' >/dev/null 2>&1; then
    echo "error: a bad payload was accepted" >&2
    exit 1
fi
step "the app's page in headless Chromium: two pages, a todo added, ticked and removed, live"
(
    cd scripts/ci/starter-page
    npm_ci_if_stale
    STARTER_URL=$url STARTER_SCREENSHOT=$root/artifacts/starter-page.png node --test --test-reporter=spec page.test.js
)
step "the starter app builds, tests (three runners), runs, and its page works in Chromium"
