# Starts a CNCF distribution registry on loopback with a config of our own (Debian's packaged
# default config is broken). Source this file; call start_registry DATA_DIR PORT.
source "$(dirname "${BASH_SOURCE[0]}")/service.sh"
start_registry() {
  local dir=$1 port=$2
  mkdir -p "$dir/storage"
  cat >"$dir/config.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
YAML
  docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
  echo $! >"$dir/registry.pid"
  wait_for_url "http://127.0.0.1:$port/v2/" && return 0
  echo "registry on 127.0.0.1:$port did not start; its log:" >&2
  cat "$dir/registry.log" >&2
  return 1
}

stop_registry() { stop_pidfile "$1/registry.pid"; }
