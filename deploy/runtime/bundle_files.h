// Files Tempa writes for the runtime, as root, readable by root alone: directories 0700 that
// are not symlinks and are owned by root, files written whole (temp + rename) with 0600.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tempa::deploy {

// Creates `path` (and missing parents, 0700) or checks the existing one: a real directory,
// owned by this user; its mode is set to 0700.
absl::Status EnsurePrivateDirectory(const std::string& path);

// Replaces `path` with `contents`, mode 0600, through a temporary file and rename.
absl::Status WritePrivateFile(const std::string& path, const std::string& contents);

// Reads a regular file (not through a symlink), at most `max_bytes`.
absl::StatusOr<std::string> ReadPrivateFile(const std::string& path, size_t max_bytes = 1 << 20);

}  // namespace tempa::deploy
