// .deb packages (an ar archive holding a compressed data.tar) are read with libarchive for the
// run bases. ReadDebData must refuse malformed archives with an error, and every entry it
// accepts must have a path inside the package root.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "buildpacks/runbase/deb_reader.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace runbase = tempa::buildpacks::runbase;
  using tempa::fuzz::Check;
  static const std::string path = tempa::fuzz::ScratchDir() + "/package.deb";
  tempa::fuzz::WriteFile(path, std::string_view(reinterpret_cast<const char*>(data), size));
  // The entry list of an already extracted package (what the run base reads back: data is
  // decompressed and skipped, nothing is written), then contents in memory.
  runbase::ReadDebData(path, {tempa::fuzz::ScratchDir() + "/extracted", true}).IgnoreError();
  absl::StatusOr<std::vector<runbase::PackageEntry>> entries = runbase::ReadDebData(path);
  if (!entries.ok()) return 0;
  for (const runbase::PackageEntry& entry : *entries) {
    Check(!entry.path.empty() && !absl::StartsWith(entry.path, "/"), "entry path not relative");
    for (absl::string_view part : absl::StrSplit(entry.path, '/')) {
      Check(part != ".." && part != "." && !part.empty(), "entry path not normalised");
    }
  }
  return 0;
}
