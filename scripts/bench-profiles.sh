#!/usr/bin/env bash
# How fast is the runner a user builds? Times one cold git promotion through
# the `kargo` runner built with the dev profile (what `cargo build` and
# `cargo run` give) and with `--release`, on a generated repository of
# 10,000 files and 2,000 commits, and prints the medians and their ratio, and
# the peak memory (maximum resident set of the runner or of the largest git
# process it ran, as /usr/bin/time's %M reports it).
#
# A promotion: `kargo run` with git-clone (a fresh, empty KARGO_GIT_CACHE, so
# the whole repository is fetched), two yaml-updates, git-commit, git-push.
#
#   scripts/bench-profiles.sh              # builds both profiles, 5 runs each
#   RUNS=9 FILES=10000 COMMITS=2000 scripts/bench-profiles.sh
#   KARGO_DEV=path KARGO_RELEASE=path scripts/bench-profiles.sh   # no build
#
# RUNNER is the one thing that names the runner: the cargo target arguments
# that build it. Its binary's path is what cargo reports for that target.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNNER="${RUNNER:--p kargo-cli --bin kargo}"
RUNS="${RUNS:-5}"
FILES="${FILES:-10000}"
COMMITS="${COMMITS:-2000}"

# The executable cargo built for $RUNNER with the given profile flags.
build() {
  # shellcheck disable=SC2086 # RUNNER is a list of cargo arguments.
  cargo build --quiet --locked $RUNNER "$@" --message-format=json |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1
}

KARGO_DEV="${KARGO_DEV:-$(build)}"
KARGO_RELEASE="${KARGO_RELEASE:-$(build --release)}"
echo "dev     $KARGO_DEV" >&2
echo "release $KARGO_RELEASE" >&2

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=Bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=Bench GIT_COMMITTER_EMAIL=bench@example.com

# The repository (the layout of benches/git_promotion.rs): apps/app-NNN/
# env-N/values-NNNNN.yaml, every file in the first commit, then five
# changed files per commit.
# path_of I sets $path; file_of C I sets $body (no subshells: 10,000 calls).
path_of() { printf -v path 'apps/app-%03d/env-%d/values-%05d.yaml' $(($1 / 100)) $((($1 / 10) % 10)) "$1"; }
file_of() {
  printf -v body 'app: app-%d\nreplicas: %d\nimage:\n  repository: registry.example.com/app-%d\n  tag: v%d.%d\n' \
    $(($2 / 100)) $((1 + $2 % 5)) $(($2 / 100)) "$1" "$2"
}
git init -q --bare --initial-branch=main "$work/big.git"
{
  RANDOM=42
  for ((c = 0; c < COMMITS; c++)); do
    msg="commit $c"
    printf 'commit refs/heads/main\ncommitter Bench <bench@example.com> %d +0000\ndata %d\n%s\n' \
      $((1700000000 + c)) ${#msg} "$msg"
    if ((c == 0)); then changed=$(seq 0 $((FILES - 1))); else
      changed="$((RANDOM % FILES)) $((RANDOM % FILES)) $((RANDOM % FILES)) $((RANDOM % FILES)) $((RANDOM % FILES))"
    fi
    for i in $changed; do
      path_of "$i"
      file_of "$c" "$i"
      printf 'M 100644 inline %s\ndata %d\n%s\n' "$path" ${#body} "$body"
    done
    echo
  done
} | git -C "$work/big.git" fast-import --quiet
git -C "$work/big.git" gc -q
url="file://$work/big.git"
path_of 0
first="$path"
path_of $((FILES / 2))
middle="$path"

cat >"$work/steps.yaml" <<EOF
steps:
- uses: git-clone
  config:
    repoURL: $url
    checkout:
    - branch: main
      path: ./out
- uses: yaml-update
  config:
    path: ./out/$first
    updates:
    - key: image.tag
      value: \${{ vars.tag }}
- uses: yaml-update
  config:
    path: ./out/$middle
    updates:
    - key: image.tag
      value: \${{ vars.tag }}
- uses: git-commit
  config:
    path: ./out
    message: promote \${{ vars.tag }}
- uses: git-push
  config:
    path: ./out
EOF

# One cold promotion with binary $1, named $2; prints its wall time and its
# CPU time (user + sys, git's child processes included) in ms, and its peak
# resident memory in MiB. CPU time moves less than wall time on a machine
# busy with other work.
promote() {
  local dir="$work/$2"
  mkdir -p "$dir"
  KARGO_GIT_CACHE="$dir/cache" /usr/bin/time -f '%e %U %S %M' -o "$dir/time" \
    "$1" run --steps "$work/steps.yaml" --workdir "$dir/work" --var "tag=$2" >"$dir/out.json" ||
    { cat "$dir/out.json" >&2; exit 1; }
  awk '{ printf "%d %d %d\n", $1 * 1000, ($2 + $3) * 1000, $4 / 1024 }' "$dir/time"
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

dev=() release=()
for ((n = 0; n < RUNS; n++)); do
  dev+=("$(promote "$KARGO_DEV" "dev-$n")")
  release+=("$(promote "$KARGO_RELEASE" "release-$n")")
  echo "run $n (wall ms, cpu ms, peak MiB): dev ${dev[n]}, release ${release[n]}" >&2
done
field_median() { printf '%s\n' "${@:2}" | cut -d' ' -f"$1" | median; }
echo "cold git promotion through \`kargo run\`, $FILES files, $COMMITS commits, median of $RUNS runs:"
printf '  %-10s %10s %10s %10s\n' profile "wall ms" "cpu ms" "peak MiB"
printf '  %-10s %10s %10s %10s\n' dev "$(field_median 1 "${dev[@]}")" "$(field_median 2 "${dev[@]}")" "$(field_median 3 "${dev[@]}")"
printf '  %-10s %10s %10s %10s\n' release "$(field_median 1 "${release[@]}")" "$(field_median 2 "${release[@]}")" "$(field_median 3 "${release[@]}")"
awk -v dw="$(field_median 1 "${dev[@]}")" -v rw="$(field_median 1 "${release[@]}")" \
  -v dc="$(field_median 2 "${dev[@]}")" -v rc="$(field_median 2 "${release[@]}")" \
  'BEGIN { printf "  dev/release %9.2fx %9.2fx\n", dw / rw, dc / rc }'
