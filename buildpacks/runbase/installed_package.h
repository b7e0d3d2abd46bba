// A package's files read back from the worker's own filesystem, as dpkg installed them: the
// fallback when the exact installed version can no longer be downloaded (Debian's mirrors keep
// only the newest version of each package, so a worker behind on upgrades cannot re-fetch what it
// runs). Every regular file is checked against dpkg's recorded MD5 (md5sums, Conffiles), so a
// locally modified file fails the build instead of silently entering an image keyed by the
// package version.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "buildpacks/runbase/deb_fetcher.h"
#include "buildpacks/runbase/deb_reader.h"

namespace tempa::buildpacks::runbase {

// The entries dpkg lists for `package` (paths as in the .deb, e.g. "bin/dash"), files
// referenced on disk under `host_root`. Hard links come back as kHardlink to the first path
// sharing the inode. FailedPrecondition when the installed version differs from
// package.version, when a listed file is gone, or when its bytes differ from dpkg's record.
// Paths for which `skip` (given the package path) is true are left out unchecked, so a host
// that dropped its docs (dpkg path-exclude) still serves the rest.
absl::StatusOr<std::vector<PackageEntry>> ReadInstalledPackage(
    const DebPackage& package, const std::function<bool(const std::string&)>& skip = nullptr,
    const std::string& host_root = "/");

}  // namespace tempa::buildpacks::runbase
