#!/usr/bin/env bash
# Builds the local cluster's binaries from the Go module proxy into a cache directory outside the repo:
# kube-apiserver, kube-controller-manager, kube-scheduler and kubectl (one Kubernetes pin), etcd, and kwok (fake
# nodes). The pins live in the committed wrapper modules test/controlplane/{kube,etcd,kwok}/go.mod; the build is
# skipped when the cached binaries were built from exactly those files.
#
#   hack/controlplane-bins.sh            build if needed, print the bin directory
#   hack/controlplane-bins.sh --regen    regenerate the wrapper modules for $K8S / $ETCD (maintainers only)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
K8S="${K8S:-1.36.3}"
ETCD="${ETCD:-3.6.8}"
KWOK="${KWOK:-0.8.0}"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
CACHE="${TEAMKEYS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/teamkeys}"
KW="$ROOT/test/controlplane/kube"
EW="$ROOT/test/controlplane/etcd"
QW="$ROOT/test/controlplane/kwok"
KUBE_CMDS=(kube-apiserver kube-controller-manager kube-scheduler kubectl)

regen() {
  local kmod staging m
  staging="v0.${K8S#1.}"
  rm -f "$KW/go.mod" "$KW/go.sum" "$EW/go.mod" "$EW/go.sum" "$QW/go.mod" "$QW/go.sum"
  ( cd "$KW"
    go mod init teamkeys.dev/testbins/kube >/dev/null 2>&1
    kmod="$(go mod download -json "k8s.io/kubernetes@v$K8S" | sed -n 's/.*"GoMod": "\([^"]*\)".*/\1/p')"
    go mod edit -go="$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$kmod")"
    sed -n 's/^godebug \(.*\)$/\1/p' "$kmod" | while read -r kv; do go mod edit -godebug="$kv"; done
    for m in $(sed -n 's|^[[:space:]]*\(k8s\.io/[^[:space:]]*\)[[:space:]]*=>[[:space:]]*\./staging/.*|\1|p' "$kmod"); do
      go mod edit -replace="$m=$m@$staging"
    done
    go mod edit -require="k8s.io/kubernetes@v$K8S"
    for c in "${KUBE_CMDS[@]}"; do go mod edit -tool="k8s.io/kubernetes/cmd/$c"; done
    go mod tidy )
  ( cd "$EW"
    go mod init teamkeys.dev/testbins/etcd >/dev/null 2>&1
    # the go line of etcd itself, not of the local toolchain, so any Go that can build etcd can build this
    emod="$(go mod download -json "go.etcd.io/etcd/server/v3@v$ETCD" | sed -n 's/.*"GoMod": "\([^"]*\)".*/\1/p')"
    go mod edit -go="$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$emod")"
    go mod edit -require="go.etcd.io/etcd/server/v3@v$ETCD" -tool=go.etcd.io/etcd/server/v3
    go mod tidy )
  ( cd "$QW"
    go mod init teamkeys.dev/testbins/kwok >/dev/null 2>&1
    qmod="$(go mod download -json "sigs.k8s.io/kwok@v$KWOK" | sed -n 's/.*"GoMod": "\([^"]*\)".*/\1/p')"
    go mod edit -go="$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$qmod")"
    go mod edit -require="sigs.k8s.io/kwok@v$KWOK" -tool=sigs.k8s.io/kwok/cmd/kwok
    go mod tidy )
}

if [ "${1:-}" = "--regen" ]; then regen; exit 0; fi

stamp="$(cat "$KW/go.mod" "$KW/go.sum" "$EW/go.mod" "$EW/go.sum" "$QW/go.mod" "$QW/go.sum" | sha256sum | cut -c1-16)"
OUT="$CACHE/controlplane-$stamp"
if [ -f "$OUT/.complete" ]; then echo "$OUT"; exit 0; fi
mkdir -p "$OUT"
kver="$(cd "$KW" && go list -m -f '{{.Version}}' k8s.io/kubernetes)"
minor="$(echo "$kver" | cut -d. -f2)"
ld="-s -w -X k8s.io/component-base/version.gitVersion=$kver -X k8s.io/component-base/version.gitMajor=1
 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
start=$(date +%s)
echo "building ${KUBE_CMDS[*]} ($kver), etcd and kwok into $OUT (first time: 10-20 min on 2 cores)" >&2
# one `go build -o DIR` per module, so packages shared by the Kubernetes commands compile once
( cd "$KW" && go build -trimpath -ldflags "$ld" -o "$OUT/" "${KUBE_CMDS[@]/#/k8s.io/kubernetes/cmd/}" ) >&2
( cd "$EW" && go build -trimpath -ldflags "-s -w" -o "$OUT/etcd" go.etcd.io/etcd/server/v3 ) >&2
( cd "$QW" && go build -trimpath -ldflags "-s -w" -o "$OUT/kwok" sigs.k8s.io/kwok/cmd/kwok ) >&2
# the kwok binary has no stages of its own (kwokctl adds them): take the release's default ones, which make a
# node Ready with a lease heartbeat and a scheduled pod Running and Ready, complete Jobs, and finish deletions
kdir="$(cd "$QW" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)"
for f in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
  cat "$kdir/kustomize/stage/$f.yaml"; echo "---"
done > "$OUT/kwok-stages.yaml"
touch "$OUT/.complete"
echo "built in $(( $(date +%s) - start ))s" >&2
echo "$OUT"
