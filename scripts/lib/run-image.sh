# Runs an image from a registry with runc, the way the local deployer will: pull with skopeo,
# unpack with umoci, share the host's network so it answers on loopback. Source this file.
# run_image REF NAME PORT WORKDIR
run_image() {
  local ref=$1 name=$2 port=$3 work=$4
  rm -rf "$work/layout" "$work/bundle"
  mkdir -p "$work"
  skopeo copy --quiet --src-tls-verify=false "docker://$ref" "oci:$work/layout:run" >&2
  umoci unpack --image "$work/layout:run" "$work/bundle" >/dev/null
  python3 - "$work/bundle/config.json" "$port" <<'PY'
import json, sys
path, port = sys.argv[1], sys.argv[2]
config = json.load(open(path))
config["process"]["terminal"] = False
config["process"]["env"] = [e for e in config["process"]["env"] if not e.startswith("PORT=")]
config["process"]["env"].append("PORT=" + port)
# Share the host's network namespace so the app answers on 127.0.0.1:PORT.
config["linux"]["namespaces"] = [n for n in config["linux"]["namespaces"] if n["type"] != "network"]
json.dump(config, open(path, "w"))
PY
  runc delete -f "$name" >/dev/null 2>&1 || true
  (cd "$work/bundle" && runc run --detach "$name" >"$work/runc.log" 2>&1) || {
    echo "runc could not start $ref:" >&2; cat "$work/runc.log" >&2; return 1; }
}

stop_image() {
  runc delete -f "$1" >/dev/null 2>&1 || true
}
