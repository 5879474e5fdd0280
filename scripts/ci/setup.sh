#!/usr/bin/env bash
# Installs what a fresh machine lacks and starts the database services.
# Idempotent: skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh

bash scripts/ensure-databases.sh
bash scripts/setup-wasm-toolchain.sh
