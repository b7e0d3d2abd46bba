// The worker's DebFetcher: versions from dpkg-query, .debs from apt's own download cache when
// it still holds the version, else `apt-get download PKG=VERSION` (apt checks the file against
// the signed index). Fetched .debs are kept under cache_dir as name_version_arch.deb with a
// .sha256 beside them, checked on every reuse. A version apt cannot find is remembered for a day
// (name_version_arch.deb.unavailable), so later builds go straight to the fallback.
#pragma once

#include <string>

#include "buildpacks/runbase/deb_fetcher.h"

namespace tempa::buildpacks::runbase {

struct AptDebFetcherOptions {
  std::string cache_dir;                              // created when missing
  std::string apt_archives = "/var/cache/apt/archives";  // apt's cache, read only
};

DebFetcherPtr NewAptDebFetcher(AptDebFetcherOptions options);

}  // namespace tempa::buildpacks::runbase
