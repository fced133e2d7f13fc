#!/usr/bin/env bash
# The project's test command: installs what the tests need on a fresh
# machine, then runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

echo "==> cargo test"
cargo test --workspace --locked --no-fail-fast "$@"
