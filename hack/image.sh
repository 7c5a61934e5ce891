#!/usr/bin/env bash
# Builds the teamkeys container image from the Dockerfile, with docker when it is there, else podman.
#
#   hack/image.sh [IMAGE]            FROM the official bases (node:24-bookworm-slim to build, distroless Node 24 to run)
#   hack/image.sh --local [IMAGE]    FROM bases made here from Debian packages and the npm package node@24, for
#                                    machines that reach no image registry; the rest of the Dockerfile is the same
#
# podman runs daemonless as root here; it needs runc and a containers.conf without default ulimits (see
# hack/podman.sh). Prints the image name.
set -euo pipefail
cd "$(dirname "$0")/.."
local_bases=false
if [ "${1:-}" = "--local" ]; then local_bases=true; shift; fi
IMAGE="${1:-teamkeys:dev}"
args=()

if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  engine=(docker)
else
  command -v podman >/dev/null || { echo "hack/image.sh needs docker or podman (apt-get install podman runc)" >&2; exit 1; }
  source hack/podman.sh
  engine=(podman)
  args+=(--network host)
fi

if $local_bases; then
  read -r build runtime < <(bash hack/image-bases.sh)
  args+=(--build-arg "BUILD_IMAGE=$build" --build-arg "RUNTIME_IMAGE=$runtime")
fi

"${engine[@]}" build "${args[@]}" -t "$IMAGE" . >&2
echo "$IMAGE"
