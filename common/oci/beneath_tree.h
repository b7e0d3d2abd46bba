// Writing and removing inside a root filesystem that hostile image layers fill: every step is
// relative to a directory descriptor and follows no symlink (O_NOFOLLOW per component, unlinkat
// on the link itself), so a link a layer planted can never redirect a write or a delete outside.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/posix_status.h"

namespace tempa::oci {

// Most components an entry path may have; deeper trees are refused (and removal, which holds a
// descriptor per level, stays bounded).
inline constexpr size_t kMaxPathDepth = 256;
// Longest entry path accepted.
inline constexpr size_t kMaxPathBytes = 4096;

// Splits an archive entry path into its components ("./a//b/" → {"a","b"}; "." → {}).
// InvalidArgument for an absolute path, a ".." component, a NUL byte, or one past the limits
// above; `what` names the entry in the message.
absl::StatusOr<std::vector<std::string>> SplitEntryPath(absl::string_view path,
                                                        absl::string_view what);

// Opens (as O_RDONLY|O_DIRECTORY) the directory reached by walking `parts` from `root_fd`,
// never following a symlink. With `create`, missing directories are made root-owned with
// `create_mode` (exact, umask ignored). A symlink or non-directory on the way is
// InvalidArgument naming it; a missing one without `create` is NotFound.
absl::StatusOr<UniqueFd> OpenDirBeneath(int root_fd, const std::vector<std::string>& parts,
                                        size_t count, bool create, mode_t create_mode = 0755);

// Removes `name` in `dir_fd` whatever it is: a file or link is unlinked (a link's target is
// never touched), a directory is emptied depth-first through O_NOFOLLOW opens and removed.
// OK when it does not exist.
absl::Status RemoveBeneath(int dir_fd, const std::string& name, absl::string_view what);

// Removes every entry of the directory `dir_fd` (not the directory itself).
absl::Status EmptyDirectory(int dir_fd, absl::string_view what);

// Names in the directory `dir_fd`, without "." and "..".
absl::StatusOr<std::vector<std::string>> ListDirectory(int dir_fd, absl::string_view what);

}  // namespace tempa::oci
