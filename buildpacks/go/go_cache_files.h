// File helpers shared by the Go standard-library seed's making (go_std_cache.cc) and its linking
// into app caches (go_std_cache_seed.cc): go's cache layout, and directory work through
// descriptors only, never following a link.
#pragma once

#include <fcntl.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/posix_status.h"

namespace tempa::buildpacks::go::internal {

inline constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
// What `go build std` writes is a few hundred MiB at most; more is not a standard library.
inline constexpr size_t kMaxSeedEntries = 100000;
inline constexpr uint64_t kMaxSeedBytes = 4ull << 30;

// The names in the open directory `dir_fd` (not "." or ".."); `path` names it in errors.
absl::StatusOr<std::vector<std::string>> NamesIn(int dir_fd, const std::string& path);

// go's cache layout: <xx>/ directories, and in them <64 hex>-a (action) and -d (output) files.
bool IsSubdirName(absl::string_view name);
bool IsEntryName(absl::string_view name);

// Creates (if missing) and opens `name` in `parent_fd` as a directory, never through a link;
// gives it `uid`/`gid` when it has another owner.
absl::StatusOr<UniqueFd> OwnedDir(int parent_fd, const std::string& name, const std::string& path,
                                  uid_t uid, gid_t gid, mode_t mode);

// Copies `from_fd` (a regular file) into a new file `name` of `dir_fd` (O_EXCL, O_NOFOLLOW),
// ours and 0444, taking its size off `budget` (ResourceExhausted past it).
absl::Status CopyInto(int from_fd, int dir_fd, const std::string& name, const std::string& path,
                      uint64_t& budget);

}  // namespace tempa::buildpacks::go::internal
