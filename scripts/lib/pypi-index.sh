# A PEP 503 package index on loopback with wheels made from Debian's packages (no PyPI here):
# Flask, gunicorn and what they need. Source this file; call
#   start_pypi_index STATE_DIR PORT   serves STATE_DIR/index on 127.0.0.1:PORT (pid in STATE_DIR)
#   stop_pypi_index STATE_DIR
# Run from the repository root.
source "$(dirname "${BASH_SOURCE[0]}")/service.sh"
start_pypi_index() {
  local dir=$1 port=$2
  mkdir -p "$dir"
  python3 tests/support/pypi/wheels.py debian "$dir/wheels" \
    "python3-flask@Werkzeug>=2.2.2,Jinja2>=3.0,itsdangerous>=2.0,click>=8.0" \
    "python3-werkzeug@MarkupSafe>=2.1.1" "python3-jinja2@MarkupSafe>=2.0" python3-markupsafe \
    python3-itsdangerous python3-click python3-blinker "python3-gunicorn@setuptools>=3.0" \
    "python3-setuptools+python3-pkg-resources" >/dev/null
  python3 - "$dir/wheels" "$dir/index" <<'PY'
import os, re, shutil, sys
wheels, index = sys.argv[1], sys.argv[2]
shutil.rmtree(index, ignore_errors=True)
for wheel in sorted(os.listdir(wheels)):
    if not wheel.endswith(".whl"):
        continue
    project = re.sub(r"[-_.]+", "-", wheel.split("-")[0]).lower()
    os.makedirs(f"{index}/simple/{project}", exist_ok=True)
    shutil.copy(f"{wheels}/{wheel}", f"{index}/simple/{project}/{wheel}")
    with open(f"{index}/simple/{project}/index.html", "a") as page:
        page.write(f'<a href="{wheel}">{wheel}</a>\n')
PY
  (cd "$dir/index" && exec python3 -m http.server --bind 127.0.0.1 "$port" >/dev/null 2>&1) &
  echo $! >"$dir/index.pid"
  wait_for_url "http://127.0.0.1:$port/simple/flask/" && return 0
  echo "package index on 127.0.0.1:$port did not start" >&2
  return 1
}

stop_pypi_index() { stop_pidfile "$1/index.pid"; }
