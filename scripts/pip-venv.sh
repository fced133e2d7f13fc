#!/usr/bin/env bash
# Installs a Python tool from PyPI into its own virtual environment (so its
# dependencies do not meet the system's Python packages) and prints the path
# of one of its programs on stdout (and nothing else there). Safe to run
# again: pip only runs when the pinned version is not installed yet.
#
#   scripts/pip-venv.sh NAME 'REQUIREMENT' VERSION PROGRAM
#   scripts/pip-venv.sh moto 'moto[server]' 5.2.6 moto_server
set -euo pipefail

name="$1" requirement="$2" version="$3" program="$4"
python="${PYTHON:-python3}"
venv="${XDG_DATA_HOME:-$HOME/.local/share}/kargo-rs/$name-venv"

installed=""
if [ -x "$venv/bin/python" ]; then
  # `pip show` fails when the package is missing: that is the "install" case.
  installed="$({ "$venv/bin/python" -m pip show "$name" 2>/dev/null || true; } | sed -n 's/^Version: //p')"
fi
if [ "$installed" != "$version" ]; then
  "$python" -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "$requirement==$version" >&2
fi

bin="$venv/bin/$program"
if [ ! -x "$bin" ]; then
  echo "pip-venv: no $program at $bin" >&2
  exit 1
fi
echo "$bin"
