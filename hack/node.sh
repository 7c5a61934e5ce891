#!/usr/bin/env bash
# Prints a directory whose `node` is Node 24 LTS. Uses the machine's node when it is already 24 or newer,
# otherwise installs the npm package node@24 (which ships the official binary) into a cache outside the repo.
set -euo pipefail
want=24
major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$major" -ge "$want" ]; then dirname "$(command -v node)"; exit 0; fi
CACHE="${TEAMKEYS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/teamkeys}"
dir="$CACHE/node$want"
if [ ! -x "$dir/node_modules/.bin/node" ] || ! "$dir/node_modules/.bin/node" --version >/dev/null 2>&1; then
  mkdir -p "$dir"
  npm install --no-save --no-audit --no-fund --prefix "$dir" "node@$want" >&2
fi
echo "$dir/node_modules/.bin"
