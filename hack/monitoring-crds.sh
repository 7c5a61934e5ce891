#!/usr/bin/env bash
# The prometheus-operator CRDs that deploy/monitoring/ uses (ServiceMonitor, PrometheusRule), from the Go module
# proxy, cached outside the repo. Prints the directory that holds them.
#
#   hack/monitoring-crds.sh      fetch if needed, print the directory
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="${PROMETHEUS_OPERATOR:-v0.85.0}"
MODULE=github.com/prometheus-operator/prometheus-operator
CACHE="${TEAMKEYS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/teamkeys}"
OUT="$CACHE/prometheus-operator-crds-$VERSION"
if [ -f "$OUT/.complete" ]; then echo "$OUT"; exit 0; fi
export GOTOOLCHAIN=local GOFLAGS=-mod=mod
dir="$(go mod download -json "$MODULE@$VERSION" | sed -n 's/.*"Dir": "\([^"]*\)".*/\1/p')"
[ -n "$dir" ] || { echo "go mod download $MODULE@$VERSION gave no directory" >&2; exit 1; }
mkdir -p "$OUT"
for crd in servicemonitors prometheusrules; do
  cp "$dir/example/prometheus-operator-crd/monitoring.coreos.com_$crd.yaml" "$OUT/"
done
chmod u+w "$OUT"/*.yaml
touch "$OUT/.complete"
echo "$OUT"
