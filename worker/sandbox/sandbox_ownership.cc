// PrepareForSandbox: hands a build's writable directories to the unprivileged build uid. The
// tree may hold whatever an earlier build left (symlinks to /etc/shadow, say), so the walk works
// on directory fds with O_NOFOLLOW and changes links themselves, never what they point at.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "worker/sandbox/bubblewrap_sandbox.h"

namespace tempa {
namespace {

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

bool SearchableBy(const struct stat& st, uid_t uid, gid_t gid) {
  if (st.st_uid == uid) return (st.st_mode & S_IXUSR) != 0;
  if (st.st_gid == gid) return (st.st_mode & S_IXGRP) != 0;
  return (st.st_mode & S_IXOTH) != 0;
}

// Chowns the entries of the open directory `dir_fd` (already chowned itself), recursing into
// subdirectories on the same file system.
absl::Status ChownEntries(int dir_fd, const std::string& path, dev_t dev, uid_t uid, gid_t gid) {
  int list_fd = ::dup(dir_fd);
  if (list_fd < 0) return Errno("dup", path);
  DIR* dir = ::fdopendir(list_fd);
  if (dir == nullptr) {
    ::close(list_fd);
    return Errno("read directory", path);
  }
  absl::Status status;
  while (status.ok()) {
    errno = 0;
    struct dirent* entry = ::readdir(dir);
    if (entry == nullptr) {
      if (errno != 0) status = Errno("read directory", path);
      break;
    }
    std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    std::string child = path + "/" + name;
    struct stat st;
    if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      status = Errno("stat", child);
      break;
    }
    if (st.st_dev != dev) continue;  // a mount point: not ours to change
    if ((st.st_uid != uid || st.st_gid != gid) &&
        ::fchownat(dir_fd, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0) {
      status = Errno("chown", child);
      break;
    }
    if (!S_ISDIR(st.st_mode)) continue;
    int sub = ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0) {
      status = Errno("open", child);
      break;
    }
    status = ChownEntries(sub, child, dev, uid, gid);
    ::close(sub);
  }
  ::closedir(dir);
  return status;
}

}  // namespace

absl::Status CheckReachableBy(const std::string& path, uid_t uid, gid_t gid) {
  char* resolved = ::realpath(path.c_str(), nullptr);
  if (resolved == nullptr) return Errno("resolve", path);
  std::string real(resolved);
  std::free(resolved);
  for (size_t slash = real.find('/', 1); slash != std::string::npos;
       slash = real.find('/', slash + 1)) {
    std::string ancestor = real.substr(0, slash);
    struct stat st;
    if (::stat(ancestor.c_str(), &st) != 0) return Errno("stat", ancestor);
    if (!SearchableBy(st, uid, gid)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the build user (uid ", uid, ") cannot reach ", path, ": ", ancestor,
          " is not searchable by it; keep build directories under directories with mode o+x "
          "(and call PrepareForSandbox on the ones the build writes)"));
    }
  }
  return absl::OkStatus();
}

absl::Status PrepareForSandbox(const std::string& dir, const BubblewrapSandboxOptions& options) {
  if (::geteuid() != 0) return absl::OkStatus();
  const uid_t uid = options.build_uid;
  const gid_t gid = options.build_gid;

  absl::Status reachable = CheckReachableBy(dir, uid, gid);
  if (!reachable.ok()) return reachable;
  char* resolved = ::realpath(dir.c_str(), nullptr);
  if (resolved == nullptr) return Errno("resolve", dir);
  std::string real(resolved);
  std::free(resolved);

  int fd = ::open(real.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return Errno("open", dir);
  struct stat st;
  absl::Status status;
  if (::fstat(fd, &st) != 0) {
    status = Errno("stat", dir);
  } else if ((st.st_uid != uid || st.st_gid != gid) && ::fchown(fd, uid, gid) != 0) {
    status = Errno("chown", dir);
  } else {
    status = ChownEntries(fd, real, st.st_dev, uid, gid);
  }
  ::close(fd);
  return status;
}

}  // namespace tempa
