# Sourced by the scripts that run podman: daemonless as root on machines without a Docker engine.
# crun refuses cgroup v1 hybrid layouts and the default ulimits cannot be raised in some sandboxes, so runc,
# cgroupfs and no default ulimits. An existing CONTAINERS_CONF is respected.
if [ -z "${CONTAINERS_CONF:-}" ]; then
  _conf="${TEAMKEYS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/teamkeys}/containers.conf"
  mkdir -p "$(dirname "$_conf")"
  printf '[containers]\ndefault_ulimits = []\n[engine]\ncgroup_manager = "cgroupfs"\nruntime = "runc"\n' > "$_conf"
  export CONTAINERS_CONF="$_conf"
fi
