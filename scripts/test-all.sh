#!/usr/bin/env bash
# Every test of the project, from a fresh machine: set up, then each CI step.
# Each step is its own script in scripts/ci/ and can be run alone.
set -euo pipefail
cd "$(dirname "$0")/.."

steps=(setup lint rust-tests nostd package js-tests browser react quickstart starter)
started=$SECONDS
for step in "${steps[@]}"; do
    echo
    echo "==> [$step] scripts/ci/$step.sh"
    step_started=$SECONDS
    bash "scripts/ci/$step.sh"
    echo "==> [$step] done in $((SECONDS - step_started))s"
done
echo
echo "==> all ${#steps[@]} steps passed in $((SECONDS - started))s"
