// Run bases assembled from Debian packages: the .debs (ar archives; libarchive reads them and
// their data.tar.*) are fetched for the exact versions installed on the worker, verified, and
// their files written into one deterministic layer. Keyed by package names + versions + the
// .debs' digests, so the same packages give the same layer on every worker.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "buildpacks/buildpack.h"
#include "buildpacks/runbase/static_base.h"

namespace tempa::buildpacks::runbase {

struct DebianBaseRecipe {
  std::string name;                   // "python3.11", "glibc"
  std::vector<std::string> packages;  // binary package names; versions = the host's installed
  // Paths inside the packages to leave out (docs, man pages, locales...), as path prefixes
  // relative to the image root, e.g. "usr/share/doc/".
  std::vector<std::string> exclude_prefixes;
  // Extra symlinks to create, image path → target (e.g. "usr/bin/python" → "python3.11").
  std::vector<std::pair<std::string, std::string>> symlinks;
};

struct DebianBaseOptions {
  StaticBaseOptions static_base;  // the certificates, tzdata and users every base has too
  std::string deb_cache_dir;      // where fetched .debs are kept (under the worker's cache)
};

// The base layer for `recipe`: static base files + the packages' files. The layer is planned
// lazily: its input_key is computed from package versions (cheap), and produce() fetches and
// unpacks only on a cache miss.
absl::StatusOr<PlannedLayer> DebianBaseLayer(const DebianBaseRecipe& recipe,
                                             const DebianBaseOptions& options);

// The Python runtime recipe for the interpreter Tempa builds with (python3.11 on Debian 12).
DebianBaseRecipe PythonRuntimeRecipe();

}  // namespace tempa::buildpacks::runbase
