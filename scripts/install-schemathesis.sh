#!/usr/bin/env bash
# Installs schemathesis (PyPI), which the API test runs against `kargo
# serve`'s own `/openapi.json`. Prints the path of its `st` program.
#
#   export KARGO_SCHEMATHESIS="$(scripts/install-schemathesis.sh)"
set -euo pipefail
exec "$(dirname "$0")/pip-venv.sh" schemathesis schemathesis 4.32.5 st
