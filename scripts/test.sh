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

# The Terraform tests find the binary through KARGO_TERRAFORM (the
# installer prints its path; running it again is quick).
if [ -z "${KARGO_TERRAFORM:-}" ] && [ -e scripts/install-terraform.sh ]; then
  KARGO_TERRAFORM="$(bash scripts/install-terraform.sh 2>/dev/null)"
  export KARGO_TERRAFORM
fi

echo "==> cargo test"
cargo test --workspace --locked "$@"
