#include "common/oci/beneath_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

namespace tempa::oci {
namespace {

std::string Joined(const std::vector<std::string>& parts, size_t count) {
  return absl::StrJoin(parts.begin(), parts.begin() + static_cast<long>(count), "/");
}

absl::Status RemoveBeneathDepth(int dir_fd, const std::string& name, absl::string_view what,
                                size_t depth);

absl::Status EmptyDirectoryDepth(int dir_fd, absl::string_view what, size_t depth) {
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListDirectory(dir_fd, what));
  for (const std::string& name : names) {
    RETURN_IF_ERROR(RemoveBeneathDepth(dir_fd, name, what, depth + 1));
  }
  return absl::OkStatus();
}

absl::Status RemoveBeneathDepth(int dir_fd, const std::string& name, absl::string_view what,
                                size_t depth) {
  std::string path = absl::StrCat(what, "/", name);
  if (::unlinkat(dir_fd, name.c_str(), 0) == 0 || errno == ENOENT) return absl::OkStatus();
  if (errno != EISDIR && errno != EPERM) return ErrnoStatus(errno, "unlink", path);
  // A directory (unlink(2) says EISDIR on Linux; EPERM elsewhere): empty it, then remove it.
  if (depth > kMaxPathDepth + 8) {
    return absl::ResourceExhaustedError(
        absl::StrCat("remove ", path, ": directories nested deeper than ", kMaxPathDepth));
  }
  int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) return absl::OkStatus();  // removed meanwhile
  if (fd < 0) return ErrnoStatus(errno, "open directory", path);
  UniqueFd child(fd);
  RETURN_IF_ERROR(EmptyDirectoryDepth(child.get(), path, depth));
  child.Reset();
  if (::unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
    return ErrnoStatus(errno, "remove directory", path);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<std::string>> SplitEntryPath(absl::string_view path,
                                                        absl::string_view what) {
  if (path.size() > kMaxPathBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": path is longer than ", kMaxPathBytes, " bytes"));
  }
  if (path.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": path contains a NUL byte"));
  }
  if (!path.empty() && path.front() == '/') {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": absolute path \"", path,
                     "\" refused; layer entries must be relative to the image's root"));
  }
  std::vector<std::string> parts;
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": path \"", path, "\" has a \"..\" component; it could leave the image's root"));
    }
    parts.emplace_back(part);
  }
  if (parts.size() > kMaxPathDepth) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": path is nested deeper than ", kMaxPathDepth, " directories"));
  }
  return parts;
}

absl::StatusOr<UniqueFd> OpenDirBeneath(int root_fd, const std::vector<std::string>& parts,
                                        size_t count, bool create, mode_t create_mode) {
  int fd = ::fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return ErrnoStatus(errno, "dup", "root directory");
  UniqueFd dir(fd);
  for (size_t i = 0; i < count; ++i) {
    const char* name = parts[i].c_str();
    int next = ::openat(dir.get(), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0 && errno == ENOENT && create) {
      if (::mkdirat(dir.get(), name, 0700) != 0 && errno != EEXIST) {
        return ErrnoStatus(errno, "mkdir", Joined(parts, i + 1));
      }
      next = ::openat(dir.get(), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (next >= 0 && ::fchmod(next, create_mode) != 0) {
        int err = errno;
        ::close(next);
        return ErrnoStatus(err, "chmod", Joined(parts, i + 1));
      }
    }
    if (next < 0) {
      int err = errno;
      struct stat st;
      if ((err == ELOOP || err == ENOTDIR) &&
          ::fstatat(dir.get(), name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            Joined(parts, i + 1),
            S_ISLNK(st.st_mode) ? " is a symlink; entries are never written through a symlink"
                                : " is not a directory",
            " (entry ", Joined(parts, parts.size()), ")"));
      }
      return ErrnoStatus(err, "open directory", Joined(parts, i + 1));
    }
    dir.Reset(next);
  }
  return dir;
}

absl::Status RemoveBeneath(int dir_fd, const std::string& name, absl::string_view what) {
  return RemoveBeneathDepth(dir_fd, name, what, 0);
}

absl::Status EmptyDirectory(int dir_fd, absl::string_view what) {
  return EmptyDirectoryDepth(dir_fd, what, 0);
}

absl::StatusOr<std::vector<std::string>> ListDirectory(int dir_fd, absl::string_view what) {
  int fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "open directory", what);
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) {
    int err = errno;
    ::close(fd);
    return ErrnoStatus(err, "read directory", what);
  }
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* e = ::readdir(dir)) {
    absl::string_view n(e->d_name);
    if (n != "." && n != "..") names.emplace_back(n);
    errno = 0;
  }
  int err = errno;
  ::closedir(dir);
  if (err != 0) return ErrnoStatus(err, "read directory", what);
  return names;
}

}  // namespace tempa::oci
