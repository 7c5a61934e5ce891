#!/usr/bin/env bash
# Installs the machine's tools that `make test` needs and no language registry ships: openssl (test certificates),
# binutils (strip, for the control-plane build), prometheus (promtool and a real Prometheus for the monitoring
# tests), podman + runc (the image test, daemonless) and mmdebstrap (the image's local bases).
# Installs them with apt-get as root; otherwise fails with the one command that installs them. Quiet when all
# are present.
set -euo pipefail
declare -A pkg=([openssl]=openssl [strip]=binutils [promtool]=prometheus [prometheus]=prometheus
  [podman]=podman [runc]=runc [mmdebstrap]=mmdebstrap [git]=git)
missing=()
for cmd in "${!pkg[@]}"; do
  command -v "$cmd" >/dev/null || missing+=("${pkg[$cmd]}")
done
command -v go >/dev/null || { echo "Go (1.26 or newer) is required to build the local cluster's binaries: https://go.dev/dl" >&2; exit 1; }
[ "${#missing[@]}" -eq 0 ] && exit 0
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "make test needs: ${missing[*]}. Install them with:" >&2
  echo "  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing ${missing[*]} (apt-get)" >&2
apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
