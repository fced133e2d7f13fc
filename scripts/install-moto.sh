#!/usr/bin/env bash
# Installs moto's server (PyPI `moto[server]`), a real implementation of the
# AWS APIs the ECR credential tests call (ECR GetAuthorizationToken, STS
# AssumeRoleWithWebIdentity); the tests start it on a free loopback port.
# It goes into its own virtual environment so that its dependencies do not
# meet the system's Python packages, and prints the path of `moto_server` on
# stdout (and nothing else there). Safe to run again: pip only runs when the
# pinned version is not installed yet.
#
#   export KARGO_MOTO_SERVER="$(scripts/install-moto.sh)"
set -euo pipefail

python="${PYTHON:-python3}"
version="5.2.6"
venv="${KARGO_MOTO_VENV:-${XDG_DATA_HOME:-$HOME/.local/share}/kargo-rs/moto-venv}"

installed=""
if [ -x "$venv/bin/python" ]; then
  # `pip show` fails when the package is missing: that is the "install" case.
  installed="$({ "$venv/bin/python" -m pip show moto 2>/dev/null || true; } | sed -n 's/^Version: //p')"
fi
if [ "$installed" != "$version" ]; then
  "$python" -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "moto[server]==$version" >&2
fi

bin="$venv/bin/moto_server"
if [ ! -x "$bin" ]; then
  echo "install-moto: no moto_server at $bin" >&2
  exit 1
fi
echo "$bin"
