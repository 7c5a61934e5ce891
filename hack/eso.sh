#!/usr/bin/env bash
# Builds External Secrets Operator's controller (for `make bench-peers`) from the Go module proxy into a cache
# directory outside the repo (hack/gotool.sh), and keeps its CRDs (deploy/crds/bundle.yaml of the same module)
# beside the binary as crds.yaml. The pin lives in the committed wrapper module hack/tools/eso/go.mod, which carries
# ESO's own replace directives (a `go install` of ESO would refuse them).
#
#   hack/eso.sh            build if needed, print the binary's path (its CRDs: crds.yaml in the same directory)
#   hack/eso.sh --regen    regenerate the wrapper module for $ESO (maintainers only)
set -euo pipefail
cd "$(dirname "$0")/.."
ESO="${ESO:-0.16.2}"
MOD=github.com/external-secrets/external-secrets
TW="$PWD/hack/tools/eso"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod

if [ "${1:-}" = "--regen" ]; then
  mkdir -p "$TW"; rm -f "$TW/go.mod" "$TW/go.sum"
  cd "$TW"
  go mod init teamkeys.dev/tools/eso >/dev/null 2>&1
  gomod="$(go mod download -json "$MOD@v$ESO" | sed -n 's/.*"GoMod": "\([^"]*\)".*/\1/p')"
  go mod edit -go="$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$gomod")"
  # replace directives apply only in the main module: carry ESO's over (single-line form, as its go.mod has them)
  sed -n 's/^replace \(.*\) => \(.*\) \(v[^ ]*\)$/\1=\2@\3/p' "$gomod" | while read -r r; do go mod edit -replace="$r"; done
  go mod edit -require="$MOD@v$ESO" -tool="$MOD"
  go mod tidy
  exit 0
fi

bin="$(bash hack/gotool.sh eso)"
crds="$(dirname "$bin")/crds.yaml"
if [ ! -f "$crds" ]; then
  dir="$(cd "$TW" && go mod download -json "$MOD" | sed -n 's/.*"Dir": "\([^"]*\)".*/\1/p')"
  cp "$dir/deploy/crds/bundle.yaml" "$crds.tmp" && mv "$crds.tmp" "$crds"
fi
echo "$bin"
