#include "common/beneath.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

namespace tempa {
namespace {

std::atomic<bool> use_openat2{true};

std::string Named(absl::string_view root_name, absl::string_view relative) {
  if (root_name.empty()) return std::string(relative);
  return absl::StrCat(root_name, "/", relative);
}

// Splits a relative path into its components, refusing what could leave the root lexically.
absl::StatusOr<std::vector<absl::string_view>> Components(absl::string_view relative,
                                                          absl::string_view root_name) {
  std::vector<absl::string_view> parts;
  if (relative.empty() || relative.front() == '/') {
    return absl::InvalidArgumentError(absl::StrCat("path \"", relative, "\" under ",
                                                   root_name.empty() ? "its root" : root_name,
                                                   " is not a relative path"));
  }
  for (absl::string_view part : absl::StrSplit(relative, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      return absl::InvalidArgumentError(absl::StrCat(
          Named(root_name, relative), ": \"..\" is not allowed in a path read from a build"));
    }
    parts.push_back(part);
  }
  if (parts.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("path \"", relative, "\" names no file"));
  }
  return parts;
}

absl::Status NotFollowed(absl::string_view root_name, absl::string_view relative, int err) {
  if (err == ELOOP || err == EXDEV) {
    return absl::InvalidArgumentError(absl::StrCat(
        Named(root_name, relative),
        " is, or passes through, a symlink; a build's output is read without following links, "
        "so write the file itself there"));
  }
  return ErrnoStatus(err, "open", Named(root_name, relative));
}

// The O_NOFOLLOW walk for kernels or seccomp profiles without openat2.
absl::StatusOr<UniqueFd> WalkBeneath(int root_fd, const std::vector<absl::string_view>& parts,
                                     int flags, absl::string_view root_name,
                                     absl::string_view relative) {
  UniqueFd dir;
  int at = root_fd;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    std::string name(parts[i]);
    int fd = ::openat(at, name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      // O_PATH|O_NOFOLLOW on a symlink opens the link itself; O_DIRECTORY then fails ENOTDIR.
      struct stat st;
      int err = errno;
      if (::fstatat(at, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
        err = ELOOP;
      }
      return NotFollowed(root_name, relative, err);
    }
    dir.Reset(fd);
    at = dir.get();
  }
  std::string last(parts.back());
  int fd = ::openat(at, last.c_str(), flags | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return NotFollowed(root_name, relative, errno);
  UniqueFd out(fd);
  if ((flags & O_PATH) != 0) {
    struct stat st;
    if (::fstat(out.get(), &st) == 0 && S_ISLNK(st.st_mode)) {
      return NotFollowed(root_name, relative, ELOOP);
    }
  }
  return out;
}

}  // namespace

namespace beneath_internal {
void UseOpenat2ForTesting(bool use) { use_openat2.store(use); }
}  // namespace beneath_internal

absl::StatusOr<UniqueFd> OpenRootDirectory(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ELOOP || err == ENOTDIR) {
      struct stat st;
      if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, " is a symlink where a directory is expected; it is not followed"));
      }
    }
    return ErrnoStatus(err, "open directory", path);
  }
  return UniqueFd(fd);
}

absl::StatusOr<UniqueFd> OpenBeneath(int root_fd, absl::string_view relative, int flags,
                                     absl::string_view root_name) {
  ASSIGN_OR_RETURN(std::vector<absl::string_view> parts, Components(relative, root_name));
  std::string clean;
  for (absl::string_view part : parts) absl::StrAppend(&clean, clean.empty() ? "" : "/", part);

  if (!use_openat2.load(std::memory_order_relaxed)) {
    return WalkBeneath(root_fd, parts, flags, root_name, clean);
  }
  struct open_how how = {};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  long fd = ::syscall(SYS_openat2, root_fd, clean.c_str(), &how, sizeof(how));
  if (fd >= 0) return UniqueFd(static_cast<int>(fd));
  int err = errno;
  if (err == ENOSYS || err == EPERM) return WalkBeneath(root_fd, parts, flags, root_name, clean);
  return NotFollowed(root_name, clean, err);
}

absl::StatusOr<UniqueFd> OpenRegularFileBeneath(int root_fd, absl::string_view relative,
                                                absl::string_view root_name, struct stat* st) {
  ASSIGN_OR_RETURN(UniqueFd fd, OpenBeneath(root_fd, relative, O_RDONLY | O_NONBLOCK, root_name));
  struct stat local;
  struct stat* out = st != nullptr ? st : &local;
  if (::fstat(fd.get(), out) != 0) return ErrnoStatus(errno, "stat", Named(root_name, relative));
  if (!S_ISREG(out->st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(
        Named(root_name, relative), " is not a regular file where the build should have left one"));
  }
  // O_NONBLOCK only kept a fifo from blocking the open; reads of a regular file ignore it.
  ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) & ~O_NONBLOCK);
  return fd;
}

absl::StatusOr<UniqueFd> OpenRegularFileBeneath(const std::string& root, absl::string_view relative,
                                                struct stat* st) {
  ASSIGN_OR_RETURN(UniqueFd root_fd, OpenRootDirectory(root));
  return OpenRegularFileBeneath(root_fd.get(), relative, root, st);
}

absl::Status CopyFileBeneath(int root_fd, absl::string_view relative, absl::string_view root_name,
                             const std::string& dest_path, mode_t mode) {
  struct stat st;
  ASSIGN_OR_RETURN(UniqueFd in, OpenRegularFileBeneath(root_fd, relative, root_name, &st));
  // Replace, never write through: an existing name (even a symlink) is unlinked first.
  if (::unlink(dest_path.c_str()) != 0 && errno != ENOENT) {
    return ErrnoStatus(errno, "remove", dest_path);
  }
  UniqueFd out(
      ::open(dest_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!out.valid()) return ErrnoStatus(errno, "create", dest_path);
  char buffer[1 << 16];
  while (true) {
    ssize_t n = ::read(in.get(), buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "read", Named(root_name, relative));
    if (n == 0) break;
    for (ssize_t done = 0; done < n;) {
      ssize_t w = ::write(out.get(), buffer + done, static_cast<size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return ErrnoStatus(errno, "write", dest_path);
      done += w;
    }
  }
  if (::fchmod(out.get(), mode) != 0) return ErrnoStatus(errno, "chmod", dest_path);
  return absl::OkStatus();
}

}  // namespace tempa
