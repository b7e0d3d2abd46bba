// Files the edge writes as root: directories only root can write, files replaced atomically
// (temp + fsync + rename) with an exact mode, nothing opened through a symbolic link.
#pragma once

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/posix_status.h"

namespace tempa::deploy {

// Creates `path` (one level; its parent must exist) or opens it when it exists, refusing a
// symbolic link, a non-directory or a directory owned by another user; sets its mode to `mode`.
absl::StatusOr<UniqueFd> OpenPrivateDir(const std::string& path, mode_t mode);

// Replaces `dir_fd`/`name` with `contents`, mode `mode` exactly, atomically: readers see the old
// file or the new one, never a part. `dir_path` only names the file in errors.
absl::Status WriteFileAtomically(int dir_fd, const std::string& dir_path, const std::string& name,
                                 const std::string& contents, mode_t mode);

// Reads `dir_fd`/`name` without following a symbolic link (at most `max_bytes`).
absl::StatusOr<std::string> ReadFileBeneath(int dir_fd, const std::string& dir_path,
                                            const std::string& name, size_t max_bytes = 1 << 20);

// Reads `path` (an operator's file: links followed), at most `max_bytes`.
absl::StatusOr<std::string> ReadFileAt(const std::string& path, size_t max_bytes = 1 << 20);

}  // namespace tempa::deploy
