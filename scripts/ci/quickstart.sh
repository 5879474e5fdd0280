#!/usr/bin/env bash
# The README's quick start is itself tested: run its demo command as written
# and check what it prints.
set -euo pipefail
cd "$(dirname "$0")/../.."
demo=$(grep -m1 '^cargo run ' README.md || true)
[ -n "$demo" ] || { echo "error: no demo command found in README.md" >&2; exit 1; }
echo "==> $demo"
out=$(eval "$demo")
echo "$out" | tail -5
grep -q '"title": "Needs 1.21 gigawatts"' <<<"$out" || { echo "error: demo output lacks the final state" >&2; exit 1; }
grep -q 'already exists (nothing written)' <<<"$out" || { echo "error: demo output lacks the rejected event" >&2; exit 1; }
echo "==> quick start works as written"
