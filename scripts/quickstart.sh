#!/usr/bin/env bash
# The quickstart demo on a fresh machine: installs what it needs (Terraform
# 1.0.3 through scripts/install-terraform.sh, unless KARGO_TERRAFORM or a
# terraform/tofu binary on PATH is there already), builds the example and
# runs it.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/quickstart.sh [DIR] [--serve [--listen ADDR] [--auth FILE]]

Builds and runs the kargo-rs quickstart: a GitOps repository and an OCI
registry made from scratch, Freight discovered, and promotions from dev to
staging to prod (prod through a pull request holding the Terraform plan).

DIR is where the demo works (default: kargo-quickstart in the temporary
directory). It must be new or empty, or a directory an earlier run made
(it holds a .kargo-quickstart file): there the next guestbook release is
promoted through the same repository.
Any other directory is refused and left untouched.

--serve        serve the project with the web UI and API of `kargo serve`
               until Ctrl-C, instead of promoting to prod here: dev and
               staging promote by themselves, prod waits for a person's
               click in the browser; the demo merges prod's pull request.
--listen ADDR  where to serve (default 127.0.0.1:8080).
--auth FILE    the auth file of `kargo serve` (admin password, API tokens);
               without it the UI is open to local callers only.

Installs Terraform 1.0.3 when neither KARGO_TERRAFORM nor terraform or tofu
on PATH provides one. Needs git and cargo.
EOF
}

# DIR and FILE are the caller's: relative to where they stand, not to the
# repository (with `.`, an earlier version emptied its own checkout).
absolute() {
  case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac
}

args=()
dir_given=""
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --serve) args+=("--serve") ;;
    --listen | --auth)
      [ $# -ge 2 ] || { usage >&2; exit 2; }
      value="$2"
      [ "$1" = --auth ] && value="$(absolute "$2")"
      args+=("$1" "$value")
      shift ;;
    -*) usage >&2; exit 2 ;;
    *)
      if [ -n "$dir_given" ]; then usage >&2; exit 2; fi
      dir_given="$1"
      dir="$(absolute "$1")"
      # The demo checks this too; here it fails before a long first build.
      if [ -e "$dir" ] && [ ! -f "$dir/.kargo-quickstart" ] &&
        { [ ! -d "$dir" ] || [ -n "$(ls -A "$dir")" ]; }; then
        echo "quickstart: $1 is not empty and was not made by the quickstart (it has no .kargo-quickstart file); nothing was changed. Give a new or empty directory." >&2
        exit 1
      fi
      args+=("$dir") ;;
  esac
  shift
done

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
exec "$target/debug/examples/quickstart" ${args[@]+"${args[@]}"}
