// What the build knows about where its source came from: the git revision and commit time,
// which become SOURCE_DATE_EPOCH (every mtime and `created` in the image) and image labels.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace tempa::worker {

struct SourceInfo {
  std::optional<std::string> revision;  // full commit id of HEAD, when DIR is in a git repo
  bool dirty = false;                   // the work tree differs from HEAD
  int64_t source_date_epoch = 0;        // commit time, else SOURCE_DATE_EPOCH, else 0
};

// Reads HEAD of the git repository containing `dir` (if any) with libgit2. A directory outside
// any repository is not an error: it gets the fixed epoch. `env_epoch` (the SOURCE_DATE_EPOCH
// environment variable, when set) wins over the commit time, as reproducible-builds.org asks.
absl::StatusOr<SourceInfo> ReadSourceInfo(const std::string& dir,
                                          std::optional<int64_t> env_epoch);

}  // namespace tempa::worker
