#!/usr/bin/env bash
# Builds the wasm packages and runs the npm package's tests (real redux,
# @reduxjs/toolkit, mobx) and the TypeScript check.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/test-js.sh
