# Helpers for the background services the scripts start (registry, package index). Source it.

# Waits up to 10 s for URL to answer 2xx; 1 when it never does.
wait_for_url() {
  for _ in $(seq 1 100); do
    if curl -fsS "$1" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  return 1
}

# Kills the process whose pid is in FILE, if any, and removes FILE.
stop_pidfile() {
  if [ -f "$1" ]; then
    kill "$(cat "$1")" 2>/dev/null || true
    rm -f "$1"
  fi
}
