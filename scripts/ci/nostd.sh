#!/usr/bin/env bash
# Proves the core crate is no_std: builds it for wasm32 with only core + alloc.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/build-nostd.sh
