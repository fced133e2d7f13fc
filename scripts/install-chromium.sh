#!/usr/bin/env bash
# Installs the real browser the web UI's tests drive over WebDriver:
# Debian's `chromium` and `chromium-driver` packages (the tests start
# `chromedriver` on a free loopback port and run Chromium headless).
# Idempotent: does nothing when both are already on PATH.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  echo "chromium already installed: $(command -v chromium), $(command -v chromedriver)"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# fonts-dejavu-core: readable text in the screenshots.
$SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null
