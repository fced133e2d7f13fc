#!/usr/bin/env bash
# Installs the OCI registry the kargo-sources tests start on 127.0.0.1:
# Debian's `docker-registry` package (CNCF distribution). Idempotent: does
# nothing when `docker-registry` is already on PATH. The package's own
# service is not needed (the tests run `docker-registry serve CONFIG`).
set -euo pipefail

if command -v docker-registry >/dev/null 2>&1; then
  echo "docker-registry already installed: $(command -v docker-registry)"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends docker-registry
command -v docker-registry >/dev/null
