#!/usr/bin/env bash
# Makes the two base images the Dockerfile takes as arguments, from Debian packages and the npm registry, for
# machines that reach no image registry (users pull node:24-bookworm-slim and distroless Node 24 instead):
#   build    Debian bookworm minbase + Node 24 + npm (a shell and npm for `npm ci` and `tsc`)
#   runtime  distroless-style: only glibc, libstdc++, libgcc, netbase and /nodejs/bin/node; no shell, no npm
# Node is the binary of the npm package node@24 that hack/node.sh installs. Images are reused while their inputs
# (this script, the Node version, npm's version) are unchanged. Prints "BUILD_IMAGE RUNTIME_IMAGE".
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/podman.sh
NPM_VERSION=11.21.2
SUITE=bookworm

node_bin="$(readlink -f "$(bash hack/node.sh)/node")"
node_version="$("$node_bin" -p process.versions.node)"
tag="$node_version-$(cat hack/image-bases.sh "${NODE_EXTRA_CA_CERTS:-/dev/null}" 2>/dev/null | sha256sum | cut -c1-8)"
build="localhost/teamkeys/node-build:$tag"
runtime="localhost/teamkeys/node-runtime:$tag"
if podman image exists "$build" && podman image exists "$runtime"; then echo "$build $runtime"; exit 0; fi

command -v mmdebstrap >/dev/null || { echo "hack/image-bases.sh needs mmdebstrap (apt-get install mmdebstrap)" >&2; exit 1; }
# the machine's own Debian sources when it runs bookworm (mirrors and proxies as configured), else the default
mirror="http://deb.debian.org/debian"
if [ -f /etc/apt/sources.list.d/debian.sources ] && grep -q "$SUITE" /etc/apt/sources.list.d/debian.sources; then
  mirror=/etc/apt/sources.list.d/debian.sources
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
strip -o "$work/node" "$node_bin"   # symbols and debug info: 126 -> 108 MB
slim=(--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*'
      --dpkgopt='path-exclude=/usr/share/info/*' --dpkgopt='path-exclude=/usr/share/locale/*'
      --dpkgopt='path-exclude=/usr/share/lintian/*')
start=$(date +%s)

if ! podman image exists "$runtime"; then
  # extract: the packages' files only, no maintainer scripts, no dpkg, no shell (and no hooks: edit afterwards)
  rt="$work/runtime"
  mmdebstrap --quiet --mode=root --variant=extract --include=libc6,libstdc++6,libgcc-s1,netbase "${slim[@]}" \
    "$SUITE" "$rt" "$mirror" >&2
  rm -rf "$rt"/etc/apt "$rt"/etc/dpkg "$rt"/var/lib/apt "$rt"/var/cache/* "$rt"/usr/bin/debconf* "$rt"/usr/share/debconf
  mkdir -p "$rt/nodejs/bin" && cp "$work/node" "$rt/nodejs/bin/node"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\nteamkeys:x:10001:10001:teamkeys:/nonexistent:/sbin/nologin\n' > "$rt/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\nteamkeys:x:10001:\n' > "$rt/etc/group"
  printf 'hosts: files dns\n' > "$rt/etc/nsswitch.conf"
  chmod 1777 "$rt/tmp"
  tar -C "$rt" -c . | podman import --change 'ENTRYPOINT ["/nodejs/bin/node"]' - "$runtime" >/dev/null
fi

if ! podman image exists "$build"; then
  (cd "$work" && npm pack --silent "npm@$NPM_VERSION" >/dev/null)
  mmdebstrap --quiet --mode=root --variant=minbase "${slim[@]}" \
    --customize-hook="cp $work/node \"\$1/usr/local/bin/node\"" \
    --customize-hook="mkdir -p \"\$1/usr/local/lib/node_modules/npm\" && tar -xzf $work/npm-$NPM_VERSION.tgz -C \"\$1/usr/local/lib/node_modules/npm\" --strip-components=1" \
    --customize-hook='ln -s ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/local/bin/npm" && ln -s ../lib/node_modules/npm/bin/npx-cli.js "$1/usr/local/bin/npx"' \
    "$SUITE" "$work/build.tar" "$mirror" >&2
  # the machine's CA bundle, so `npm ci` in the build stage trusts what this machine trusts (a TLS proxy)
  ca="${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}"
  change=(--change 'CMD ["node"]')
  if [ -f "$ca" ]; then
    mkdir -p "$work/ca/etc/ssl/certs" && cp "$ca" "$work/ca/etc/ssl/certs/ca-certificates.crt"
    tar -C "$work/ca" -rf "$work/build.tar" ./etc/ssl/certs/ca-certificates.crt
    change+=(--change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt')
  fi
  podman import "${change[@]}" "$work/build.tar" "$build" >/dev/null
fi
echo "base images made in $(( $(date +%s) - start ))s" >&2
echo "$build $runtime"
