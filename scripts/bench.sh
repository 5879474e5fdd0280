#!/usr/bin/env bash
# Every benchmark of issue 6 with one command: the store's (Rust, release
# build) on SQLite, PostgreSQL and MariaDB, then the frontend's (node), each
# figure beside its baseline measured in the same run. Prints markdown tables;
# BENCHMARKS.md holds the figures of a run and the machine they came from.
#
#   bash scripts/bench.sh                      # everything
#   bash scripts/bench.sh dispatch replay      # some sections of the store's bench:
#                                              #   dispatch concurrent replay subscribe memory instances timemachine growth
#   bash scripts/bench.sh frontend             # only the frontend's
#   BENCH_QUICK=1 bash scripts/bench.sh        # a short smoke run (not figures)
#
# The store's bench needs PostgreSQL (127.0.0.1:5432) and MariaDB
# (127.0.0.1:3306), reached like the tests (DATABASE_URL_POSTGRES,
# DATABASE_URL_MYSQL); it creates a database per measurement and drops it.
set -euo pipefail
cd "$(dirname "$0")/.."

store_sections=()
frontend=1
if [ $# -gt 0 ]; then
    frontend=0
    for section in "$@"; do
        if [ "$section" = frontend ]; then frontend=1; else store_sections+=("$section"); fi
    done
fi

echo "# Benchmark run"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "- command: bash scripts/bench.sh $*"
echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with local changes)')"
echo "- cores: $(nproc); CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "- memory: $(free -h | awk '/^Mem:/ {print $2}') RAM"
disk=$(df --output=source . | tail -1)
echo "- disk: $disk, rotational=$(lsblk -ndo ROTA "$disk" 2>/dev/null | tr -d ' ' || echo '?') (as the kernel reports it)"
echo "- $(rustc --version); $(node --version 2>/dev/null | sed 's/^/node /' || echo 'no node')"
echo "- load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"

if [ $# -eq 0 ] || [ ${#store_sections[@]} -gt 0 ]; then
    bash scripts/ensure-databases.sh >/dev/null
    # 10,000 of them take 10,000 files in the bench and as many in its subscribers' process.
    ulimit -n 16384 2>/dev/null || ulimit -n "$(ulimit -Hn)"
    echo
    echo "## Store"
    cargo bench -p flux-capacitor-server --bench store -- "${store_sections[@]}"
fi

if [ "$frontend" = 1 ]; then
    echo
    echo "## Frontend"
    if [ ! -f js/bench/frontend.js ]; then
        echo "(js/bench/frontend.js is missing: no frontend benchmark)"
    else
        [ -d js/node_modules ] || (cd js && npm ci --silent)
        [ -f js/pkg-notes/nodejs/notes_wasm.js ] || bash scripts/build-wasm-packages.sh
        QUICK=${BENCH_QUICK:-${QUICK:-}} node --expose-gc js/bench/frontend.js
    fi
fi
echo
echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
