#!/usr/bin/env bash
# The differential fuzzer (server/tests/differential.rs): random schemas and
# changesets through all six appliers (MemoryDatabase; the store on SQLite,
# PostgreSQL and MariaDB; wasm + reduxify and wasm + MobX under node), a
# fixed-seed bounded run. Builds the conformance wasm package and installs the
# npm package's dependencies if missing; the databases come from setup.
#   FUZZ_CASES=N (default 40) runs N cases, FUZZ_SEED=S another seed.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/build-wasm-packages.sh conformance
if [ ! -d js/node_modules/mobx ]; then
    (cd js && npm ci --no-audit --no-fund)
fi
cargo test -p flux-capacitor-server --features testing --test differential -- --ignored
