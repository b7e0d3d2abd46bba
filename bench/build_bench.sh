#!/usr/bin/env bash
# Build benchmark: for each example app, `tempa build` cold and warm (after a code-only change)
# against the bare toolchain doing the same work in the same run:
#   go      go build (vendored, CGO off, -trimpath) with its build cache, cold then incremental
#   rust    cargo build --release --locked, cold target/ then incremental
#   python  pip install -r requirements.txt into a fresh venv, empty then warm pip cache
# Tempa's builds push to a local docker-registry; the Python dependencies come from a PEP 503
# index on loopback. Prints a table and Tempa's warm overhead as a ratio to the bare toolchain,
# with the target: warm <= 1.2 x bare incremental + 0.5 s.
#   bench/build_bench.sh TEMPA_BINARY      (scripts/bench build builds it first)
# Env: BENCH_RUNS (warm runs per app, median taken; default 3), BENCH_APPS (default all three).
set -euo pipefail
TEMPA=$(realpath "$1")
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RUNS=${BENCH_RUNS:-3}
APPS=${BENCH_APPS:-"go-hello rust-hello python-flask"}
WORK=$(mktemp -d /tmp/tempa-build-bench.XXXXXX)
chmod 755 "$WORK"  # builds run as an unprivileged user, who must reach the caches
REGISTRY_PORT=${BENCH_REGISTRY_PORT:-5085}
INDEX_PORT=${BENCH_INDEX_PORT:-5086}
INDEX=http://127.0.0.1:$INDEX_PORT/simple
source scripts/lib/registry.sh
source scripts/lib/pypi-index.sh

cleanup() {
  stop_registry "$WORK/registry"
  stop_pypi_index "$WORK/pypi"
  # Builds ran as the unprivileged build user when root: everything is removable by root anyway.
  rm -rf "$WORK"
}
trap cleanup EXIT
start_registry "$WORK/registry" "$REGISTRY_PORT"
start_pypi_index "$WORK/pypi" "$INDEX_PORT" >/dev/null

# The bare builds use the very toolchain Tempa picked, as `tempa detect` reports it.
toolchain_path() {
  "$TEMPA" detect "examples/$1" --json | python3 -c 'import json, re, sys
for reason in json.load(sys.stdin)["reasons"]:
    m = (re.match(r"toolchain: .*\((?:GOROOT )?(/[^)]*)\)$", reason) or
         re.match(r"interpreter: (/[^,]*),", reason))
    if m: print(m.group(1))'
}
GO=$(toolchain_path go-hello)/bin/go
CARGO=$(toolchain_path rust-hello)
RUSTC=$(dirname "$CARGO")/rustc
PYTHON=$(toolchain_path python-flask)
echo "toolchains: $("$GO" version | cut -d' ' -f3) ($GO), $("$RUSTC" --version | cut -d' ' -f1-2)" \
  "($RUSTC), $("$PYTHON" --version) ($PYTHON)"

now() { date +%s.%N; }
# Runs "$@" quietly; prints its wall time in seconds. A failure stops the benchmark with its log.
timed() {
  local log=$WORK/last.log t0 t1
  t0=$(now)
  if ! "$@" >"$log" 2>&1; then
    echo "benchmark step failed: $*" >&2
    tail -n 30 "$log" >&2
    exit 1
  fi
  t1=$(now)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# A code-only change: the "ok" answer of /healthz gets a new suffix (a different binary/app).
edit_code() {
  local app=$1 dir=$2 run=$3 file
  case $app in
    go-hello) file=$dir/main.go ;;
    rust-hello) file=$dir/crates/server/src/main.rs ;;
    python-flask) file=$dir/app.py ;;
  esac
  perl -pi -e "s/\"ok[^\"\\\\]*/\"ok $run/" "$file"
}

tempa_build() {
  local app=$1 dir=$2 extra=()
  [ "$app" = python-flask ] && extra=(--build-env "PIP_INDEX_URL=$INDEX")
  "$TEMPA" build "$dir" --image "127.0.0.1:$REGISTRY_PORT/$app" --cache-dir "$WORK/cache-$app" \
    --json "${extra[@]}" >"$WORK/$app.json"
}

bare_build() {
  local app=$1 dir=$2 state=$WORK/bare-$app
  case $app in
    go-hello)
      (cd "$dir" && GOCACHE=$state/gocache GOFLAGS=-mod=vendor CGO_ENABLED=0 GOTOOLCHAIN=local \
        GOPROXY=off "$GO" build -trimpath -buildvcs=false -o "$state/app" .) ;;
    rust-hello)
      (cd "$dir" && CARGO_HOME=$state/cargo-home CARGO_TARGET_DIR=$state/target RUSTC=$RUSTC \
        "$CARGO" build --release --locked --offline) ;;
    python-flask)
      rm -rf "$state/venv"
      "$PYTHON" -m venv "$state/venv"
      PIP_CACHE_DIR=$state/pip-cache "$state/venv/bin/pip" install --disable-pip-version-check \
        --index-url "$INDEX" -r "$dir/requirements.txt" ;;
  esac
}

# Which layers of the last tempa build were reused, e.g. "base,deps".
reused_roles() {
  python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
print(",".join(l["role"] for l in r["layers"] if l["reused"]) or "-")' "$WORK/$1.json"
}

printf '%-13s %9s %9s %9s %9s %8s %8s  %-16s %s\n' app "tempa cold" "bare cold" "tempa warm" \
  "bare warm" ratio target "warm reused" "target met"
for app in $APPS; do
  mkdir -p "$WORK/bare-$app"
  cp -r "examples/$app" "$WORK/tempa-src-$app"
  cp -r "examples/$app" "$WORK/bare-src-$app"
  tempa_cold=$(timed tempa_build "$app" "$WORK/tempa-src-$app")
  bare_cold=$(timed bare_build "$app" "$WORK/bare-src-$app")
  tempa_warm=() bare_warm=()
  for run in $(seq 1 "$RUNS"); do
    edit_code "$app" "$WORK/tempa-src-$app" "$run"
    tempa_warm+=("$(timed tempa_build "$app" "$WORK/tempa-src-$app")")
    edit_code "$app" "$WORK/bare-src-$app" "$run"
    bare_warm+=("$(timed bare_build "$app" "$WORK/bare-src-$app")")
  done
  reused=$(reused_roles "$app")
  tw=$(median "${tempa_warm[@]}")
  bw=$(median "${bare_warm[@]}")
  awk -v app="$app" -v tc="$tempa_cold" -v bc="$bare_cold" -v tw="$tw" -v bw="$bw" \
    -v reused="$reused" 'BEGIN {
      target = 1.2 * bw + 0.5
      printf "%-13s %8.2fs %8.2fs %9.2fs %8.2fs %7.2fx %7.2fs  %-16s %s\n", app, tc, bc, tw, bw,
        tw / bw, target, reused, (tw <= target ? "yes" : "NO")
    }'
done
echo
echo "ratio = tempa warm / bare warm (medians of $RUNS code-only changes); target = 1.2 x bare warm + 0.5 s"
echo "tempa times include detection, the sandbox, layer assembly and the push to a local registry"
