#!/usr/bin/env bash
# Builds the wasm packages (idempotent), installs the npm package's dev
# dependencies (npm ci), runs the node tests and the TypeScript check.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-wasm-packages.sh
cd js
npm ci --no-audit --no-fund
node --test test/
npx tsc -p test/types/tsconfig.json
echo "==> tsc --noEmit: ok"
