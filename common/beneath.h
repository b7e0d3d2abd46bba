// Reading what a build wrote without trusting it. A build controls every name under its output
// and cache directories: any of them may be a symlink to a host file (/etc/shadow, the worker's
// credentials). Everything here opens beneath a root directory descriptor and never follows a
// symlink on the way (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, or an O_NOFOLLOW walk
// where openat2 is unavailable), so a planted link is an error that names it, never a read of
// its target.
#pragma once

#include <sys/stat.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/posix_status.h"

namespace tempa {

// Opens the directory `path` itself (a directory Tempa made or mounted into a sandbox, which the
// build cannot replace) for use as a root below. The last component must not be a symlink.
absl::StatusOr<UniqueFd> OpenRootDirectory(const std::string& path);

// Opens `relative` ("a/b/c", no leading '/', no "." or ".." parts) beneath the directory
// `root_fd` with `flags` (O_CLOEXEC is always added), following no symlink, not even the last
// component. A symlink on the way is InvalidArgument: "<relative> is a symlink ...";
// `root_name` (the root's path, for messages) prefixes the path in every error.
absl::StatusOr<UniqueFd> OpenBeneath(int root_fd, absl::string_view relative, int flags,
                                     absl::string_view root_name = "");

// Opens a regular file beneath `root_fd` for reading, filling `st` when given. A symlink, a
// directory, a device or a fifo there is InvalidArgument naming the path.
absl::StatusOr<UniqueFd> OpenRegularFileBeneath(int root_fd, absl::string_view relative,
                                                absl::string_view root_name = "",
                                                struct stat* st = nullptr);

// The same with a root given by path: "a symlink where a file is expected" fails naming it.
absl::StatusOr<UniqueFd> OpenRegularFileBeneath(const std::string& root, absl::string_view relative,
                                                struct stat* st = nullptr);

// Copies the regular file `relative` beneath `root_fd` to `dest_path`, a new file Tempa owns
// (created with O_EXCL | O_NOFOLLOW and `mode`; an existing one is replaced).
absl::Status CopyFileBeneath(int root_fd, absl::string_view relative, absl::string_view root_name,
                             const std::string& dest_path, mode_t mode);

namespace beneath_internal {
// Tests run every rule through the O_NOFOLLOW walk too, as on a kernel without openat2.
void UseOpenat2ForTesting(bool use);
}  // namespace beneath_internal

}  // namespace tempa
