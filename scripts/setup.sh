# Sourced by scripts/test.sh and scripts/bench.sh: installs what the tests
# and benchmarks need on a fresh machine (idempotent; each installer is
# skipped when its tool is present) and exports KARGO_TERRAFORM.

for installer in scripts/install-*.sh; do
  [ -e "$installer" ] || continue
  echo "==> $installer"
  bash "$installer"
done

# The Terraform tests find the binary through KARGO_TERRAFORM (the
# installer prints its path; running it again is quick).
if [ -z "${KARGO_TERRAFORM:-}" ] && [ -e scripts/install-terraform.sh ]; then
  KARGO_TERRAFORM="$(bash scripts/install-terraform.sh 2>/dev/null)"
  export KARGO_TERRAFORM
fi

# The ECR credential tests start moto's server, found through
# KARGO_MOTO_SERVER (the installer prints its path).
if [ -z "${KARGO_MOTO_SERVER:-}" ] && [ -e scripts/install-moto.sh ]; then
  KARGO_MOTO_SERVER="$(bash scripts/install-moto.sh 2>/dev/null)"
  export KARGO_MOTO_SERVER
fi

# The API test runs schemathesis against `kargo serve`, found through
# KARGO_SCHEMATHESIS (the installer prints its path).
if [ -z "${KARGO_SCHEMATHESIS:-}" ] && [ -e scripts/install-schemathesis.sh ]; then
  KARGO_SCHEMATHESIS="$(bash scripts/install-schemathesis.sh 2>/dev/null)"
  export KARGO_SCHEMATHESIS
fi
