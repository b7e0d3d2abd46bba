// Run bases assembled from Debian packages: the exact versions installed on the worker (so the
// image runs the runtime the build used), as .debs fetched into a cache (ar archives; libarchive
// reads them and their data.tar.*), their files written into one deterministic layer together
// with the static base (certificates, tzdata, the non-root user). Keyed by package names +
// versions + layout recipe, computed without fetching: apt vouches for a version's .deb bytes
// (signed index), and the .debs' sha256 are recorded in the cache beside them.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "buildpacks/buildpack.h"
#include "buildpacks/runbase/deb_fetcher.h"
#include "buildpacks/runbase/static_base.h"

namespace tempa::buildpacks::runbase {

struct DebianBaseRecipe {
  std::string name;                   // "python3.11", "glibc"
  std::vector<std::string> packages;  // binary package names; versions = the host's installed
  // Paths inside the packages to leave out (docs, man pages, locales...), as path prefixes
  // relative to the image root, e.g. "usr/share/doc/". kDefaultExcludes apply on top.
  std::vector<std::string> exclude_prefixes;
  // Extra symlinks to create, image path → target (e.g. "usr/bin/python" → "python3.11").
  std::vector<std::pair<std::string, std::string>> symlinks;
};

// Left out of every Debian base: documentation and translations nobody reads in a container.
inline constexpr const char* kDefaultExcludes[] = {"usr/share/doc/", "usr/share/man/",
                                                   "usr/share/info/", "usr/share/locale/",
                                                   "usr/share/lintian/"};

struct DebianBaseOptions {
  StaticBaseOptions static_base;  // the certificates, tzdata and users every base has too
  std::string deb_cache_dir;      // where fetched .debs are kept (under the worker's cache)
  // Versions and .debs; null: NewAptDebFetcher({deb_cache_dir}).
  DebFetcherPtr fetcher;
  // When the installed version can no longer be downloaded, take the package's files from the
  // worker's own filesystem, each checked against dpkg's recorded MD5 (installed_package.h).
  bool installed_files_fallback = true;
  std::function<void(absl::string_view line)> log;  // progress notes; may be null
};

// The base layer for `recipe`: static base files + the packages' files. The layer is planned
// lazily: its input_key is computed from package versions (cheap), and produce() fetches and
// unpacks only on a cache miss. Package files are laid out as on Debian 12: merged /usr (bin,
// sbin, lib, lib64 are links into usr/), directories 0755, files with their package modes minus
// setuid/setgid; static base files win over package files at the same path. The extracted files
// stay under deb_cache_dir/staging (the layer writer reads them after produce() returns).
absl::StatusOr<PlannedLayer> DebianBaseLayer(const DebianBaseRecipe& recipe,
                                             const DebianBaseOptions& options);

// The Python runtime recipe for the interpreter Tempa builds with (python3.11 on Debian 12).
DebianBaseRecipe PythonRuntimeRecipe();

// glibc and the GCC runtime for dynamically linked (Rust) binaries, plus `extra_packages`
// (e.g. from PackagesForSharedLibraries). No shell.
DebianBaseRecipe GlibcRecipe(const std::vector<std::string>& extra_packages = {});

// The installed packages that ship each soname ("libssl.so.3" → "libssl3"), found with
// `dpkg -S` on the host's library directories; sorted, without duplicates. FailedPrecondition
// naming the sonames no installed package ships.
absl::StatusOr<std::vector<std::string>> PackagesForSharedLibraries(
    const std::vector<std::string>& sonames);

}  // namespace tempa::buildpacks::runbase
