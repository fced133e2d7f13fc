#!/usr/bin/env bash
# The git steps and their tests need the git CLI (push, rebase, and
# `git http-backend` for the smart-HTTP test server).
set -euo pipefail
command -v git >/dev/null 2>&1 && exit 0
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq git >/dev/null
