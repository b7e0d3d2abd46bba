// PrepareForSandbox: hands a build's writable directories to the unprivileged build uid. The
// tree may hold whatever an earlier build left (symlinks to /etc/shadow, say), so the walk works
// on directory fds with O_NOFOLLOW and changes links themselves, never what they point at.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/tree_copy.h"
#include "worker/sandbox/bubblewrap_sandbox.h"

namespace tempa {
namespace {

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

// Whether uid/gid has all of `bits` (some of 4 = read, 2 = write, 1 = search) on the file.
bool AllowedTo(const struct stat& st, uid_t uid, gid_t gid, mode_t bits) {
  if (st.st_uid == uid) return ((st.st_mode >> 6) & bits) == bits;
  if (st.st_gid == gid) return ((st.st_mode >> 3) & bits) == bits;
  return (st.st_mode & bits) == bits;
}

bool SearchableBy(const struct stat& st, uid_t uid, gid_t gid) {
  return AllowedTo(st, uid, gid, 1);
}

// Calls `visit(name, st)` for each entry of the open directory `dir_fd` (not "." or "..", stat
// not following links), stopping at the first error.
absl::Status ForEachEntry(
    int dir_fd, const std::string& path,
    const std::function<absl::Status(const std::string& name, const struct stat& st)>& visit) {
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
    struct stat st;
    if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      status = Errno("stat", path + "/" + name);
    } else {
      status = visit(name, st);
    }
  }
  ::closedir(dir);
  return status;
}

// Opens the subdirectory `name` of `dir_fd` without following a link and runs `walk` on it.
absl::Status InSubdirectory(int dir_fd, const std::string& name, const std::string& child,
                            const std::function<absl::Status(int fd)>& walk) {
  int sub = ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (sub < 0) return Errno("open", child);
  absl::Status status = walk(sub);
  ::close(sub);
  return status;
}

// Chowns the entries of the open directory `dir_fd` (already chowned itself), recursing into
// subdirectories on the same file system.
absl::Status ChownEntries(int dir_fd, const std::string& path, dev_t dev, uid_t uid, gid_t gid,
                          int depth = 0) {
  // Only Tempa's own entries need handing over, and it makes none this deep: a deeper tree is
  // the build's (already its own) and is not walked, so nesting cannot exhaust descriptors.
  if (depth > kMaxTreeDepth) return absl::OkStatus();
  return ForEachEntry(dir_fd, path, [&](const std::string& name, const struct stat& st) {
    std::string child = path + "/" + name;
    if (st.st_dev != dev) return absl::OkStatus();  // a mount point: not ours to change
    // Another name of a file the build user does not own (a hard link planted to a host file):
    // chowning it would hand over the host file. Left as it is.
    if (!S_ISDIR(st.st_mode) && st.st_nlink > 1 && st.st_uid != uid) return absl::OkStatus();
    if ((st.st_uid != uid || st.st_gid != gid) &&
        ::fchownat(dir_fd, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0) {
      return Errno("chown", child);
    }
    if (!S_ISDIR(st.st_mode)) return absl::OkStatus();
    return InSubdirectory(dir_fd, name, child, [&](int sub) {
      return ChownEntries(sub, child, dev, uid, gid, depth + 1);
    });
  });
}

// FailedPrecondition naming `path` when uid/gid may not read it (and, a directory, enter it).
absl::Status CheckEntryReadable(const struct stat& st, const std::string& path, uid_t uid,
                                gid_t gid) {
  if (AllowedTo(st, uid, gid, S_ISDIR(st.st_mode) ? (4 | 1) : 4)) return absl::OkStatus();
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  return absl::FailedPreconditionError(absl::StrCat("the build user (uid ", uid, ") cannot read ",
                                                    path, " (mode ", mode, ", owner uid ",
                                                    st.st_uid, ")"));
}

// Checks the open directory `dir_fd` and, below it, every directory and regular file (not
// following links, skipping .git) is readable by uid/gid.
absl::Status CheckTreeReadable(int dir_fd, const std::string& path, uid_t uid, gid_t gid) {
  struct stat st;
  if (::fstat(dir_fd, &st) != 0) return Errno("stat", path);
  RETURN_IF_ERROR(CheckEntryReadable(st, path, uid, gid));
  return ForEachEntry(dir_fd, path, [&](const std::string& name, const struct stat& entry) {
    if (name == ".git") return absl::OkStatus();
    std::string child = path + "/" + name;
    if (S_ISREG(entry.st_mode)) return CheckEntryReadable(entry, child, uid, gid);
    if (!S_ISDIR(entry.st_mode)) return absl::OkStatus();
    return InSubdirectory(dir_fd, name, child,
                          [&](int sub) { return CheckTreeReadable(sub, child, uid, gid); });
  });
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

absl::Status CheckReadableBy(const std::string& dir, uid_t uid, gid_t gid) {
  absl::Status reachable = CheckReachableBy(dir, uid, gid);
  if (!reachable.ok()) return reachable;
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("open", dir);
  absl::Status status = CheckTreeReadable(fd, dir, uid, gid);
  ::close(fd);
  return status;
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
