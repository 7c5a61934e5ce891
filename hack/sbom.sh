#!/usr/bin/env bash
# The image's Software Bill of Materials (CycloneDX JSON), made by syft (built from the Go module proxy, see
# hack/gotool.sh) from the image itself: its base's Debian packages, the Node runtime, and the npm packages it ships.
#
#   hack/sbom.sh [IMAGE] [OUT]     default teamkeys:dev, sbom.cdx.json
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE="${1:-teamkeys:dev}"
OUT="${2:-sbom.cdx.json}"
syft="$(bash hack/gotool.sh syft)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  docker save -o "$tmp/image.tar" "$IMAGE"
  src="docker-archive:$tmp/image.tar"
else
  source hack/podman.sh
  podman save --format oci-archive -o "$tmp/image.tar" "$IMAGE"
  src="oci-archive:$tmp/image.tar"
fi
SYFT_CHECK_FOR_APP_UPDATE=false "$syft" scan "$src" -q -o "cyclonedx-json=$OUT"
echo "$OUT"
