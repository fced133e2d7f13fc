#!/usr/bin/env bash
# The quickstart demo on a fresh machine: installs what it needs (Terraform
# 1.0.3 through scripts/install-terraform.sh, unless KARGO_TERRAFORM or a
# terraform/tofu binary on PATH is there already), builds the example and
# runs it.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/quickstart.sh [DIR]

Builds and runs the kargo-rs quickstart: a GitOps repository and an OCI
registry made from scratch, Freight discovered, and promotions from dev to
staging to prod (prod through a pull request holding the Terraform plan).

DIR is where the demo works (default: kargo-quickstart in the temporary
directory). It must be new or empty, or a directory an earlier run made
(it holds a .kargo-quickstart file), whose demo files are then replaced.
Any other directory is refused and left untouched.

Installs Terraform 1.0.3 when neither KARGO_TERRAFORM nor terraform or tofu
on PATH provides one. Needs git and cargo.
EOF
}

case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  -*) usage >&2; exit 2 ;;
esac
if [ $# -gt 1 ]; then usage >&2; exit 2; fi

# DIR is the caller's: relative to where they stand, not to the repository
# (with `.`, an earlier version emptied its own checkout).
args=()
if [ $# -eq 1 ]; then
  dir="$1"
  case "$dir" in /*) ;; *) dir="$PWD/$dir" ;; esac
  # The demo checks this too; here it fails before a long first build.
  if [ -e "$dir" ] && [ ! -f "$dir/.kargo-quickstart" ] &&
    { [ ! -d "$dir" ] || [ -n "$(ls -A "$dir")" ]; }; then
    echo "quickstart: $1 is not empty and was not made by the quickstart (it has no .kargo-quickstart file); nothing was changed. Give a new or empty directory." >&2
    exit 1
  fi
  args=("$dir")
fi

cd "$(dirname "$0")/.."
if [ -z "${KARGO_TERRAFORM:-}" ] && ! command -v tofu >/dev/null && ! command -v terraform >/dev/null; then
  KARGO_TERRAFORM="$(scripts/install-terraform.sh 2>/dev/null)"
  export KARGO_TERRAFORM
fi
command -v git >/dev/null || { echo "quickstart: the git CLI is needed" >&2; exit 1; }

# The dev profile: the first build is much shorter than a release build, and
# the hot dependencies (gix, zlib, SHA-1) are optimised even there
# ([profile.dev.package] in Cargo.toml).
cargo build --quiet --example quickstart
target="${CARGO_TARGET_DIR:-target}"
exec "$target/debug/examples/quickstart" "${args[@]}"
