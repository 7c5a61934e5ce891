#!/usr/bin/env bash
# Builds Helm v4 from the Go module proxy into a cache directory outside the repo (hack/gotool.sh, with the version
# stamped in as Helm's own release does). The pin lives in the committed wrapper module hack/helm/go.mod.
#
#   hack/helm.sh            build if needed, print the helm binary's path
#   hack/helm.sh --regen    regenerate the wrapper module for $HELM (maintainers only)
set -euo pipefail
cd "$(dirname "$0")/.."
HELM="${HELM:-4.3.1}"
export GOTOOL_DIR=hack/helm
export GOTOOL_LDFLAGS="-X helm.sh/helm/v4/internal/version.version=@VERSION@ -X helm.sh/helm/v4/internal/version.gitTreeState=clean"
if [ "${1:-}" = "--regen" ]; then exec bash hack/gotool.sh helm --regen "helm.sh/helm/v4@v$HELM" helm.sh/helm/v4/cmd/helm; fi
exec bash hack/gotool.sh helm
