# Starts the farm on loopback: tempa-coordinator (gRPC, webhooks) and one tempa-worker, with
# tokens of their own. Source this file; call start_farm DIR REGISTRY GRPC_PORT WEBHOOK_PORT
# [COORDINATOR FLAGS...]. Afterwards FARM_TEMPA is the CLI command line talking to it as admin.
# start_deployer DIR GRPC_PORT PROXY_PORT DOMAIN starts tempa-deployer --backend local (nginx
# on PROXY_PORT with a self-signed CA in DIR/deployer/tls); its token is DIR/deployer.token.
source "$(dirname "${BASH_SOURCE[0]}")/service.sh"
start_farm() {
  local dir=$1 registry=$2 grpc_port=$3 webhook_port=$4 build=${TEMPA_BUILD_DIR:-build}
  shift 4
  mkdir -p "$dir/coordinator" "$dir/worker"
  chmod 700 "$dir" "$dir/coordinator" "$dir/worker"
  if [ ! -f "$dir/tokens" ]; then
    (umask 077
     printf '%s' "$(openssl rand -hex 24)" >"$dir/admin.token"
     printf '%s' "$(openssl rand -hex 24)" >"$dir/worker.token"
     printf 'admin %s demo\nworker %s demo-worker\n' "$(cat "$dir/admin.token")" \
       "$(cat "$dir/worker.token")" >"$dir/tokens")
  fi
  "$build/coordinator/tempa-coordinator" --listen "127.0.0.1:$grpc_port" \
    --webhook-listen "127.0.0.1:$webhook_port" --data-dir "$dir/coordinator" \
    --registry "$registry" --token-file "$dir/tokens" "$@" >"$dir/coordinator.log" 2>&1 &
  echo $! >"$dir/coordinator.pid"
  wait_for_url "http://127.0.0.1:$webhook_port/healthz" || {
    echo "tempa-coordinator did not start; its log:" >&2; cat "$dir/coordinator.log" >&2; return 1; }
  "$build/worker/tempa-worker" --coordinator "127.0.0.1:$grpc_port" --work-dir "$dir/worker" \
    --token-file "$dir/worker.token" --slots 2 >"$dir/worker.log" 2>&1 &
  echo $! >"$dir/worker.pid"
  FARM_TEMPA=("$build/worker/tempa" --coordinator "127.0.0.1:$grpc_port" --token-file "$dir/admin.token")
}

stop_farm() {
  stop_pidfile "$1/worker.pid"
  stop_pidfile "$1/coordinator.pid"
  stop_pidfile "$1/deployer.pid"
}

start_deployer() {
  local dir=$1 grpc_port=$2 proxy_port=$3 domain=$4 build=${TEMPA_BUILD_DIR:-build}
  mkdir -p "$dir/deployer" && chmod 700 "$dir" "$dir/deployer"
  [ -f "$dir/deployer.token" ] || (umask 077; openssl rand -hex 24 | tr -d '\n' >"$dir/deployer.token")
  "$build/deploy/tempa-deployer" --listen "127.0.0.1:$grpc_port" --backend local \
    --domain "$domain" --proxy-listen "127.0.0.1:$proxy_port" --work-dir "$dir/deployer" \
    --token-file "$dir/deployer.token" >"$dir/deployer.log" 2>&1 &
  echo $! >"$dir/deployer.pid"
  for _ in $(seq 1 100); do
    if grep -q "tempa-deployer: gRPC on" "$dir/deployer.log" 2>/dev/null; then return 0; fi
    if ! kill -0 "$(cat "$dir/deployer.pid")" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "tempa-deployer did not start; its log:" >&2; cat "$dir/deployer.log" >&2; return 1
}

# post_push DIR WEBHOOK_PORT REPO_URL SHA SECRET DELIVERY: a GitHub push webhook, signed.
post_push() {
  local dir=$1 port=$2 url=$3 sha=$4 secret=$5 delivery=$6
  local body="{\"ref\":\"refs/heads/main\",\"before\":\"0000000000000000000000000000000000000000\",\"after\":\"$sha\",\"deleted\":false,\"repository\":{\"clone_url\":\"$url\"}}"
  local signature
  signature=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$secret" | sed 's/^.*= //')
  curl -sS -X POST "http://127.0.0.1:$port/webhooks/github" -H 'Content-Type: application/json' \
    -H 'X-GitHub-Event: push' -H "X-GitHub-Delivery: $delivery" \
    -H "X-Hub-Signature-256: sha256=$signature" --data-binary "$body"
  echo
}
