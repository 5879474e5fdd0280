#!/usr/bin/env bash
# Builds the wasm packages and runs the npm package's tests (real redux,
# @reduxjs/toolkit, mobx), the TypeScript check, examples/npm-app and
# flux-capacitor/testing under the real Vitest and Jest (js/test-runners), all
# through scripts/test-js.sh; then the differential fuzzer
# (scripts/ci/differential.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/test-js.sh
# The differential fuzzer: the same random cases through the Rust appliers and
# through wasm + reduxify and MobX (packages built above).
bash scripts/ci/differential.sh
