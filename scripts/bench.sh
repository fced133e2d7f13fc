#!/usr/bin/env bash
# Every benchmark of the workspace (criterion), after installing what they
# need (the registry, Terraform, git). Arguments go to cargo bench, e.g.
# `scripts/bench.sh -- yaml_update` to run one benchmark by name.
#
# The benchmarks and what they compare:
#   engine         (root)          step engine overhead per promotion
#   pipeline       (root)          one scheduling pass, 1,000 stages x 20 Freight; peak memory
#   git_promotion  (root)          clone/edit/commit/push vs the Kargo-style git CLI pipeline
#   yaml_update    (kargo-steps)   one scalar in a 1 MB values file vs ruamel.yaml (if installed)
#   discovery      (kargo-sources) 5,000-tag SemVer on the registry; 50,000-commit includePaths vs git log
#   local_provider (kargo-git)     open/merge/list pull requests of the local provider
#   replicas       (kargo-store)   promotions shared by PostgreSQL replicas; NOTIFY latency
#   webhook_promotion (kargo-server) registry push webhook -> Freight -> dev promoted ->
#                                  commit on the remote, 50 runs: p50/p90/p99 and a breakdown
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

echo "==> cargo bench"
cargo bench --workspace --benches --locked "$@"
