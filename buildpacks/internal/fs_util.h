// Small filesystem helpers shared by the buildpacks. Source trees are untrusted input, so reads
// are bounded and never follow a symlink out of the tree by accident of a helper.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tempa::buildpacks::internal {

// True when `path` is a regular file (not following a final symlink).
bool IsRegularFile(const std::string& path);
// True when `path` is a directory (not following a final symlink).
bool IsDirectory(const std::string& path);
// True when anything exists at `path` (lstat).
bool Exists(const std::string& path);

// Reads a regular file of at most `max_bytes`; larger files, symlinks and other types are
// InvalidArgument (they are hostile or not what a project file looks like).
absl::StatusOr<std::string> ReadSmallFile(const std::string& path, size_t max_bytes);
// Reads at most the first `max_bytes` of a regular file (for package clauses and the like).
absl::StatusOr<std::string> ReadPrefix(const std::string& path, size_t max_bytes);

// The same for a file `rel` (relative, no "..") of the source tree `root`: no symlink is
// followed on the way either, so a linked directory cannot lead a read out of the tree.
absl::StatusOr<std::string> ReadSmallFileBeneath(const std::string& root, const std::string& rel,
                                                 size_t max_bytes);
absl::StatusOr<std::string> ReadPrefixBeneath(const std::string& root, const std::string& rel,
                                              size_t max_bytes);
// Names in the directory `rel` beneath `root` ("" or "." is the root), reached without
// following a symlink, sorted.
absl::StatusOr<std::vector<std::string>> ListDirBeneath(const std::string& root,
                                                        const std::string& rel);

// Names in `dir` (no "." / ".."), sorted, so every walk is deterministic.
absl::StatusOr<std::vector<std::string>> ListDir(const std::string& dir);

// mkdir -p through descriptors: every component is opened O_NOFOLLOW (a symlink anywhere in
// `path` is InvalidArgument, so pass real paths), a directory made belongs to the owner of the one
// it was made in (the build user inside its scratch directory and app cache), and the last one
// gets `mode` (fchmod). Never 0777: the build user owns what it must write.
absl::Status MakeDirs(const std::string& path, unsigned mode);
// Copies a regular file's bytes, creating `to` with `mode`.
absl::Status CopyFile(const std::string& from, const std::string& to, unsigned mode);

}  // namespace tempa::buildpacks::internal
