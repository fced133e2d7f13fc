#!/usr/bin/env bash
# Installs moto's server (PyPI `moto[server]`), a real implementation of the
# AWS APIs the ECR credential tests call (ECR GetAuthorizationToken, STS
# AssumeRoleWithWebIdentity); the tests start it on a free loopback port.
# Prints the path of `moto_server` on stdout.
#
#   export KARGO_MOTO_SERVER="$(scripts/install-moto.sh)"
set -euo pipefail
exec "$(dirname "$0")/pip-venv.sh" moto 'moto[server]' 5.2.6 moto_server
