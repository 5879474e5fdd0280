#!/usr/bin/env bash
# Every Rust test of the workspace: unit, property, scenario, doc tests, and the
# store's tests on SQLite, PostgreSQL and MariaDB (services started by setup).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo test --workspace --all-targets
cargo test --workspace --doc
