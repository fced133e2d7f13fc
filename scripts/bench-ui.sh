#!/usr/bin/env bash
# The web UI's figures: the first render of a 200-stage project in headless
# Chromium, an API event reaching the page, a 1,000-stage project's render
# and scrolling, and the size of the embedded assets. Installs Chromium and
# chromedriver when missing (scripts/install-chromium.sh), runs the ignored
# test `ui_figures` of kargo-server's `ui` tests, and prints its report
# (also left in $CARGO_TARGET_DIR/tmp/ui-figures.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-chromium.sh >/dev/null
# Extra arguments go to cargo (e.g. --release; the figures in the README
# were measured with the default debug profile).
cargo test -p kargo-server --test ui "$@" -- --ignored --nocapture ui_figures
