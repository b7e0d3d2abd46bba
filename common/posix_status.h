// errno → absl::Status with context, and UniqueFd, an owned file descriptor. One place for
// both, so every component reports a failed system call the same way: "open /x/y: Permission
// denied", with a code a caller can branch on (NotFound, PermissionDenied, ...).
#pragma once

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tempa {

// A Status for the system call `what` on `path` that failed with `err`:
// "<what> <path>: <strerror>". ENOENT → NotFound, EACCES/EPERM → PermissionDenied,
// EEXIST → AlreadyExists, ELOOP/ENOTDIR/EXDEV (a path that left its root) → InvalidArgument,
// ENOSPC/EDQUOT/EMFILE → ResourceExhausted, anything else Internal.
absl::Status ErrnoStatus(int err, absl::string_view what, absl::string_view path = "");

// Owns one file descriptor; closes it on destruction. Movable, not copyable.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) Reset(std::exchange(other.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Gives up ownership without closing.
  int Release() { return std::exchange(fd_, -1); }
  // Closes the held descriptor (if any) and takes `fd`.
  void Reset(int fd = -1);

 private:
  int fd_ = -1;
};

}  // namespace tempa
