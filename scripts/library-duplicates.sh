#!/usr/bin/env bash
# Counts the pairs of repeated code (six lines or more) in the libraries of
# one revision, tests excluded, with the workplace's `duplicates` tool on PATH.
#
#   scripts/library-duplicates.sh            # HEAD
#   scripts/library-duplicates.sh 364580d    # another revision
#
# What counts as library code: every crate's `src/`, without `tests.rs`,
# `*_tests.rs`, `test_support*` files and without the inline
# `#[cfg(test)]` modules (cut from that line to the end of the file, where
# this project keeps them); `kargo-test-support` and every `tests/`, `benches/`,
# `examples/` and `fuzz/` are left out. Extra arguments go to `duplicates`.
set -euo pipefail
cd "$(dirname "$0")/.."
rev="${1:-HEAD}"
shift || true
tree="$(mktemp -d)"
trap 'rm -rf "$tree"' EXIT
git archive "$rev" | tar -x -C "$tree"
rm -rf "$tree"/kargo-test-support "$tree"/tests "$tree"/benches "$tree"/examples "$tree"/fuzz "$tree"/*/tests "$tree"/*/benches "$tree"/*/examples
find "$tree" \( -name 'tests.rs' -o -name '*_tests.rs' -o -name 'test_support*' -o -name 'tests' \) -prune -exec rm -rf {} +
find "$tree" -name '*.rs' -print0 | while IFS= read -r -d '' f; do
  awk '/^#\[cfg\(test\)\]/ { exit } { print }' "$f" > "$f.lib" && mv "$f.lib" "$f"
done
duplicates --repo "$tree" --seconds 300 "$@"
