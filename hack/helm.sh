#!/usr/bin/env bash
# Builds Helm v4 from the Go module proxy into a cache directory outside the repo, like hack/controlplane-bins.sh
# builds the cluster. The pin lives in the committed wrapper module hack/helm/go.mod; the build is skipped when the
# cached binary was built from exactly that file.
#
#   hack/helm.sh            build if needed, print the helm binary's path
#   hack/helm.sh --regen    regenerate the wrapper module for $HELM (maintainers only)
set -euo pipefail
cd "$(dirname "$0")/.."
HELM="${HELM:-4.3.1}"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
CACHE="${TEAMKEYS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/teamkeys}"
HW="$PWD/hack/helm"

if [ "${1:-}" = "--regen" ]; then
  rm -f "$HW/go.mod" "$HW/go.sum"
  cd "$HW"
  go mod init teamkeys.dev/testbins/helm >/dev/null 2>&1
  hmod="$(go mod download -json "helm.sh/helm/v4@v$HELM" | sed -n 's/.*"GoMod": "\([^"]*\)".*/\1/p')"
  go mod edit -go="$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$hmod")"
  go mod edit -require="helm.sh/helm/v4@v$HELM" -tool=helm.sh/helm/v4/cmd/helm
  go mod tidy
  exit 0
fi

stamp="$(cat "$HW/go.mod" "$HW/go.sum" | sha256sum | cut -c1-16)"
OUT="$CACHE/helm-$stamp"
if [ -f "$OUT/.complete" ]; then echo "$OUT/helm"; exit 0; fi
mkdir -p "$OUT"
ver="$(cd "$HW" && go list -m -f '{{.Version}}' helm.sh/helm/v4)"
start=$(date +%s)
echo "building helm $ver into $OUT (first time: a few minutes on 2 cores)" >&2
( cd "$HW" && go build -trimpath -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$ver -X helm.sh/helm/v4/internal/version.gitTreeState=clean" \
  -o "$OUT/helm" helm.sh/helm/v4/cmd/helm ) >&2
touch "$OUT/.complete"
echo "built in $(( $(date +%s) - start ))s" >&2
echo "$OUT/helm"
