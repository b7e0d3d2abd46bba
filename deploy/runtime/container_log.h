// A container's log: one file in its state_dir (0600, root's) that runc hands to the container
// as stdout and stderr. The container can only append through that descriptor; Tempa opens the
// file by name with O_NOFOLLOW only, reads a bounded tail and keeps the file bounded.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/posix_status.h"

namespace tempa::deploy {

// Opens (creating 0600) `path` for appending, refusing a symlink or a non-regular file.
absl::StatusOr<UniqueFd> OpenLogForAppend(const std::string& path);

// When `path` is larger than `max_bytes`, keeps only its last `keep_bytes` (from a line start),
// behind a "[log truncated by tempa]" line. The writer appends (O_APPEND), so it goes on at the
// new end. Lines written during the cut may be lost: the log is a tail, not an archive.
absl::Status TruncateLogIfLarger(const std::string& path, int64_t max_bytes, int64_t keep_bytes);

// The last `lines` lines of `path`, reading at most its last `max_bytes`. A missing file is an
// empty tail; a symlink or non-regular file is an error.
absl::StatusOr<std::string> ReadLogTail(const std::string& path, int lines,
                                        int64_t max_bytes = 256 << 10);

}  // namespace tempa::deploy
