// Where a Debian run base gets its packages: the versions installed on the worker (cheap, asked
// when the layer is planned) and, only on a cache miss, the .deb files of exactly those
// versions. An interface so layer keys and assembly are tested without apt or a network.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/digest.h"

namespace tempa::buildpacks::runbase {

struct DebPackage {
  std::string name;     // "libssl3"
  std::string version;  // "3.0.19-1~deb12u2", epoch included ("1:1.2.13.dfsg-1")
  std::string arch;     // "amd64", "all"

  // "libssl3=3.0.19-1~deb12u2:amd64": the form keys and messages use.
  std::string Pin() const { return name + "=" + version + ":" + arch; }
  // "libssl3_3.0.19-1~deb12u2_amd64.deb", epoch ':' written "%3a" as apt names its files.
  std::string FileName() const;
  friend bool operator==(const DebPackage& a, const DebPackage& b) {
    return a.name == b.name && a.version == b.version && a.arch == b.arch;
  }
};

struct FetchedDeb {
  DebPackage package;
  std::string path;  // the .deb on local disk (in the fetcher's cache; stays there)
  Digest sha256;     // of the .deb, recorded when it entered the cache
};

class DebFetcher {
 public:
  virtual ~DebFetcher() = default;
  // The installed version of each package, in the order asked. No download. FailedPrecondition
  // naming every package that is not installed ("install it: apt-get install …"): the run
  // base must carry exactly the runtime the build used.
  virtual absl::StatusOr<std::vector<DebPackage>> Installed(
      const std::vector<std::string>& names) = 0;
  // The .deb of exactly `package`. NotFound when no source offers that version any more (the
  // mirror keeps only the newest one per suite); other errors when fetching failed.
  virtual absl::StatusOr<FetchedDeb> Fetch(const DebPackage& package) = 0;
  // A hint before Fetch is asked for each of `packages`: fetch what is missing in one go (apt
  // loads its whole index per run, seconds each). Failures surface later, from Fetch.
  virtual void Prefetch(const std::vector<DebPackage>& packages) {}
};

using DebFetcherPtr = std::shared_ptr<DebFetcher>;

}  // namespace tempa::buildpacks::runbase
