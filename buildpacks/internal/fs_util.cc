#include "buildpacks/internal/fs_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/beneath.h"
#include "common/posix_status.h"
#include "common/status_macros.h"

namespace tempa::buildpacks::internal {
namespace {

// Opens a regular file without following a final symlink. O_NONBLOCK: a fifo planted under a
// project file's name must not hang the open (reads of a regular file ignore the flag).
absl::StatusOr<int> OpenRegular(const std::string& path, struct stat* st) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ELOOP) {
      return absl::InvalidArgumentError(absl::StrCat(path, " is a symlink; expected a file"));
    }
    return ErrnoStatus(errno, "open", path);
  }
  if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
    close(fd);
    return absl::InvalidArgumentError(absl::StrCat(path, " is not a regular file"));
  }
  return fd;
}

absl::StatusOr<std::string> ReadFd(int fd, const std::string& path, size_t max_bytes) {
  std::string out;
  char buf[16384];
  while (out.size() < max_bytes) {
    ssize_t n = read(fd, buf, std::min(sizeof buf, max_bytes - out.size()));
    if (n < 0) {
      if (errno == EINTR) continue;
      absl::Status status = ErrnoStatus(errno, "read", path);
      close(fd);
      return status;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

// The names in `d` (not "." or ".."), sorted; closes `d`.
std::vector<std::string> SortedNames(DIR* d) {
  std::vector<std::string> names;
  while (struct dirent* e = readdir(d)) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    names.emplace_back(e->d_name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

bool IsRegularFile(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool IsDirectory(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

absl::StatusOr<std::string> ReadSmallFile(const std::string& path, size_t max_bytes) {
  struct stat st;
  absl::StatusOr<int> fd = OpenRegular(path, &st);
  if (!fd.ok()) return fd.status();
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    close(*fd);
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is ", st.st_size, " bytes; at most ", max_bytes, " expected"));
  }
  return ReadFd(*fd, path, max_bytes);
}

absl::StatusOr<std::string> ReadPrefix(const std::string& path, size_t max_bytes) {
  struct stat st;
  absl::StatusOr<int> fd = OpenRegular(path, &st);
  if (!fd.ok()) return fd.status();
  return ReadFd(*fd, path, max_bytes);
}

absl::StatusOr<std::string> ReadSmallFileBeneath(const std::string& root, const std::string& rel,
                                                 size_t max_bytes) {
  struct stat st;
  ASSIGN_OR_RETURN(UniqueFd fd, OpenRegularFileBeneath(root, rel, &st));
  std::string path = absl::StrCat(root, "/", rel);
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is ", st.st_size, " bytes; at most ", max_bytes, " expected"));
  }
  return ReadFd(fd.Release(), path, max_bytes);
}

absl::StatusOr<std::string> ReadPrefixBeneath(const std::string& root, const std::string& rel,
                                              size_t max_bytes) {
  ASSIGN_OR_RETURN(UniqueFd fd, OpenRegularFileBeneath(root, rel));
  return ReadFd(fd.Release(), absl::StrCat(root, "/", rel), max_bytes);
}

absl::StatusOr<std::vector<std::string>> ListDirBeneath(const std::string& root,
                                                        const std::string& rel) {
  if (rel.empty() || rel == ".") return ListDir(root);
  ASSIGN_OR_RETURN(UniqueFd root_fd, OpenRootDirectory(root));
  ASSIGN_OR_RETURN(UniqueFd dir_fd, OpenBeneath(root_fd.get(), rel, O_RDONLY | O_DIRECTORY, root));
  DIR* d = fdopendir(dir_fd.get());
  if (d == nullptr) return ErrnoStatus(errno, "list directory", absl::StrCat(root, "/", rel));
  dir_fd.Release();  // owned by the DIR now
  return SortedNames(d);
}

absl::StatusOr<std::vector<std::string>> ListDir(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return ErrnoStatus(errno, "list directory", dir);
  return SortedNames(d);
}

absl::Status MakeDirs(const std::string& path, unsigned mode) {
  if (path.empty()) return absl::InvalidArgumentError("create directory: empty path");
  UniqueFd dir(open(path[0] == '/' ? "/" : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return ErrnoStatus(errno, "open", path[0] == '/' ? "/" : ".");
  std::string walked = path[0] == '/' ? "" : ".";
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    std::string name(part);
    walked = absl::StrCat(walked, "/", name);
    if (name == "..") {
      return absl::InvalidArgumentError(absl::StrCat("create directory ", path, ": has '..'"));
    }
    if (name == ".") continue;
    struct stat parent;
    if (fstat(dir.get(), &parent) != 0) return ErrnoStatus(errno, "stat", walked);
    bool created = mkdirat(dir.get(), name.c_str(), mode) == 0;
    if (!created && errno != EEXIST) return ErrnoStatus(errno, "create directory", walked);
    UniqueFd next(openat(dir.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next.valid()) {
      if (errno == ELOOP || errno == ENOTDIR) {
        return absl::InvalidArgumentError(absl::StrCat(
            "create directory ", path, ": ", walked,
            " is a symlink or not a directory; build directories are never reached through links"));
      }
      return ErrnoStatus(errno, "open directory", walked);
    }
    // A directory made here belongs to whoever owns the one it was made in: the build user
    // inside its scratch directory and app cache, root in root's.
    if (created) {
      struct stat st;
      if (fstat(next.get(), &st) != 0) return ErrnoStatus(errno, "stat", walked);
      if ((st.st_uid != parent.st_uid || st.st_gid != parent.st_gid) &&
          fchown(next.get(), parent.st_uid, parent.st_gid) != 0) {
        return ErrnoStatus(errno, "chown", walked);
      }
      if (fchmod(next.get(), mode) != 0) return ErrnoStatus(errno, "chmod", walked);
    }
    dir = std::move(next);
  }
  if (fchmod(dir.get(), mode) != 0) return ErrnoStatus(errno, "chmod", path);
  return absl::OkStatus();
}

absl::Status CopyFile(const std::string& from, const std::string& to, unsigned mode) {
  struct stat st;
  absl::StatusOr<int> in = OpenRegular(from, &st);
  if (!in.ok()) return in.status();
  int out = open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (out < 0) {
    close(*in);
    return ErrnoStatus(errno, "create", to);
  }
  char buf[65536];
  absl::Status status;
  for (;;) {
    ssize_t n = read(*in, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status = ErrnoStatus(errno, "read", from);
      break;
    }
    if (n == 0) break;
    if (write(out, buf, static_cast<size_t>(n)) != n) {
      status = ErrnoStatus(errno, "write", to);
      break;
    }
  }
  close(*in);
  if (close(out) != 0 && status.ok()) status = ErrnoStatus(errno, "close", to);
  return status;
}

}  // namespace tempa::buildpacks::internal
