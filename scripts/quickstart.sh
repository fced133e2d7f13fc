#!/usr/bin/env bash
# The quickstart demo on a fresh machine: installs what it needs (Terraform
# 1.0.3 through scripts/install-terraform.sh, unless KARGO_TERRAFORM or a
# terraform/tofu binary on PATH is there already), builds the example and
# runs it. Arguments go to the demo (an optional directory to work in).
#
#   scripts/quickstart.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${KARGO_TERRAFORM:-}" ] && ! command -v tofu >/dev/null && ! command -v terraform >/dev/null; then
  KARGO_TERRAFORM="$(scripts/install-terraform.sh 2>/dev/null)"
  export KARGO_TERRAFORM
fi
command -v git >/dev/null || { echo "quickstart: the git CLI is needed" >&2; exit 1; }

# The dev profile: the first build is much shorter than a release build, and
# the demo spends its time in git and Terraform, not in our code.
cargo build --quiet --example quickstart
exec "${CARGO_TARGET_DIR:-target}/debug/examples/quickstart" "$@"
