#!/usr/bin/env bash
# The README's quick start is itself tested: run its demo command as written
# (plus a free port and a scratch database), wait for the URL it prints, then
# load the page and add a note through the API.
set -euo pipefail
cd "$(dirname "$0")/../.."
demo=$(awk '/^## Quick start/ { on = 1 } on && /^(bash|cargo) / { print; exit }' README.md)
[ -n "$demo" ] || { echo "error: no demo command found in README.md's quick start" >&2; exit 1; }
scratch=$(mktemp -d)
out=$scratch/out.log
echo "==> $demo --port 0 --database sqlite://$scratch/notes.db"
setsid bash -c "$demo --port 0 --database sqlite://$scratch/notes.db" >"$out" 2>"$scratch/err.log" &
pid=$!
trap 'kill -- -$pid 2>/dev/null || true; rm -rf "$scratch"' EXIT
url=
for _ in $(seq 1 600); do
    url=$(grep -o 'http://[0-9.:]*/' "$out" | head -1 || true)
    [ -n "$url" ] && break
    kill -0 $pid 2>/dev/null || { cat "$scratch/err.log" >&2; echo "error: the demo exited" >&2; exit 1; }
    sleep 1
done
[ -n "$url" ] || { echo "error: the demo printed no URL within 10 minutes" >&2; exit 1; }
echo "==> the demo printed: $(grep -m1 "http://" "$out")"
# Bodies are read whole before grep: `curl | grep -q` fails under pipefail when
# grep exits at its first match while curl still writes (curl error 23).
page=$(curl -fsS "$url")
grep -q '<title>' <<<"$page" || { echo "error: $url serves no page" >&2; exit 1; }
curl -fsS -X POST "${url}dispatch/addNote" -H 'Authorization: Bearer Mary' \
    -H 'content-type: application/json' -d '{"id":"quickstart","title":"Needs 1.21 gigawatts","text":""}' >/dev/null
note=$(curl -fsS "${url}collections/notes/quickstart" -H 'Authorization: Bearer Mary')
grep -q '"author":"Mary"' <<<"$note" || { echo "error: the note did not reach the read model" >&2; exit 1; }
echo "==> quick start works as written: page served, note added and read back"
