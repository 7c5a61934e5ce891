#!/usr/bin/env bash
# Builds a Go tool pinned by a committed wrapper module hack/tools/<name>/go.mod (its `tool` line names the package)
# from the Go module proxy into a cache directory outside the repo, as hack/helm.sh builds Helm; the build is
# skipped when the cached binary was built from exactly that go.mod and go.sum.
#
#   hack/gotool.sh NAME                                   build if needed, print the binary's path
#   hack/gotool.sh NAME --regen MODULE@VERSION [PACKAGE]  regenerate the wrapper module (maintainers only)
#
# GOTOOL_DIR: the wrapper module elsewhere than hack/tools/NAME; GOTOOL_LDFLAGS: more -ldflags, where @VERSION@
# stands for the tool's module version (hack/helm.sh uses both).
set -euo pipefail
cd "$(dirname "$0")/.."
NAME="$1"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
CACHE="${TEAMKEYS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/teamkeys}"
TW="$PWD/${GOTOOL_DIR:-hack/tools/$NAME}"

if [ "${2:-}" = "--regen" ]; then
  mod="${3%@*}"; ver="${3#*@}"; pkg="${4:-$mod}"
  mkdir -p "$TW"; rm -f "$TW/go.mod" "$TW/go.sum"
  cd "$TW"
  go mod init "teamkeys.dev/tools/$NAME" >/dev/null 2>&1
  gomod="$(go mod download -json "$mod@$ver" | sed -n 's/.*"GoMod": "\([^"]*\)".*/\1/p')"
  go mod edit -go="$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$gomod")"
  go mod edit -require="$mod@$ver" -tool="$pkg"
  go mod tidy
  exit 0
fi

stamp="$(cat "$TW/go.mod" "$TW/go.sum" | sha256sum | cut -c1-16)"
OUT="$CACHE/$NAME-$stamp"
if [ -f "$OUT/.complete" ]; then echo "$OUT/$NAME"; exit 0; fi
mkdir -p "$OUT"
pkg="$(sed -n 's/^tool \(.*\)$/\1/p' "$TW/go.mod")"
start=$(date +%s)
echo "building $pkg into $OUT (first time: a few minutes on 2 cores)" >&2
ldflags="-s -w"
if [ -n "${GOTOOL_LDFLAGS:-}" ]; then
  ver="$(cd "$TW" && go list -f '{{.Module.Version}}' "$pkg")"
  ldflags="$ldflags ${GOTOOL_LDFLAGS//@VERSION@/$ver}"
fi
( cd "$TW" && go build -trimpath -ldflags "$ldflags" -o "$OUT/$NAME" "$pkg" ) >&2
touch "$OUT/.complete"
echo "built in $(( $(date +%s) - start ))s" >&2
echo "$OUT/$NAME"
