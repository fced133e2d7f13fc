#!/usr/bin/env bash
# The project's test command: installs what the tests need on a fresh
# machine (idempotent; each installer is skipped when its tool is present),
# then runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

for installer in scripts/install-*.sh; do
  [ -e "$installer" ] || continue
  echo "==> $installer"
  bash "$installer"
done

echo "==> cargo test"
cargo test --workspace --locked "$@"
