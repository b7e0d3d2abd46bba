// A PEP 503 "simple" package index on loopback for the Python buildpack's tests: wheels laid
// out as simple/<name>/<wheel> and served by `python3 -m http.server`, so pip installs without
// PyPI. Wheels come from tests/support/pypi/wheels.py: tiny pure-Python ones made on the spot,
// or Flask + gunicorn and their dependencies repackaged from Debian's .debs.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tests/support/temp_dir.h"

namespace tempa::testing {

// Writes a pure-Python wheel NAME-VERSION (module NAME with hello()) into `out_dir`; returns its
// path. `requirements` become Requires-Dist lines.
absl::StatusOr<std::string> MakePureWheel(const std::string& out_dir, const std::string& name,
                                          const std::string& version,
                                          const std::vector<std::string>& requirements = {});

// The wheels.py specs for Flask 2.2 + gunicorn 20.1 and their dependencies from Debian 12,
// with the upstream Requires-Dist lines Debian strips (its own package dependencies replace
// them) put back.
std::vector<std::string> FlaskAndGunicornSpecs();

// Django 3.2 + whitenoise and their dependencies (asgiref, sqlparse, pytz) from Debian 12.
std::vector<std::string> DjangoSpecs();
// FastAPI 0.92 + starlette, pydantic, anyio, sniffio, idna, typing-extensions, Jinja2 and
// MarkupSafe from Debian 12 (FastAPI's upstream starlette<0.26 pin dropped, as Debian does).
std::vector<std::string> FastApiSpecs();
// The servers Tempa supplies (gunicorn 20.1.0, uvicorn 0.17.6) and what they need (setuptools,
// h11, click, asgiref), from Debian 12.
std::vector<std::string> SuppliedServerSpecs();

// Builds wheels from Debian packages into `out_dir`; the .debs are kept in `out_dir`/debs, so
// only the first run needs `apt-get download` (Debian's mirror).
absl::StatusOr<std::vector<std::string>> MakeDebianWheels(const std::string& out_dir,
                                                          const std::vector<std::string>& specs);

class PypiIndex {
 public:
  // Lays out `root`/simple/ with `wheels` and serves `root` on 127.0.0.1 until destroyed.
  static absl::StatusOr<std::unique_ptr<PypiIndex>> Start(const std::string& root,
                                                          const std::vector<std::string>& wheels);
  ~PypiIndex();
  PypiIndex(const PypiIndex&) = delete;
  PypiIndex& operator=(const PypiIndex&) = delete;

  // "http://127.0.0.1:PORT/simple" — the PIP_INDEX_URL.
  std::string url() const;
  int port() const { return port_; }

 private:
  PypiIndex(pid_t pid, int port) : pid_(pid), port_(port) {}
  pid_t pid_;
  int port_;
};

// A test suite's index of Debian-made wheels: MakeDebianWheels into `wheel_cache` (kept between
// runs, so only the first downloads .debs), served by a PypiIndex from a fresh temporary
// directory; both go when it is destroyed.
class DebianWheelIndex {
 public:
  static absl::StatusOr<std::unique_ptr<DebianWheelIndex>> Start(
      const std::string& wheel_cache, const std::vector<std::string>& specs);
  // "http://127.0.0.1:PORT/simple" — the PIP_INDEX_URL.
  std::string url() const { return index_->url(); }

 private:
  DebianWheelIndex() : root_("tempa-pypi-") {}
  TempDir root_;
  std::unique_ptr<PypiIndex> index_;
};

}  // namespace tempa::testing
