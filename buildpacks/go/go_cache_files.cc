#include "buildpacks/go/go_cache_files.h"

#include <dirent.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace tempa::buildpacks::go::internal {
namespace {

bool IsHex(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isdigit(c) && (c < 'a' || c > 'f')) return false;
  }
  return !s.empty();
}

}  // namespace

// The names in the open directory `dir_fd` (not "." or "..").
absl::StatusOr<std::vector<std::string>> NamesIn(int dir_fd, const std::string& path) {
  int list_fd = ::dup(dir_fd);
  if (list_fd < 0) return ErrnoStatus(errno, "dup", path);
  DIR* dir = ::fdopendir(list_fd);
  if (dir == nullptr) {
    int err = errno;
    ::close(list_fd);
    return ErrnoStatus(err, "read directory", path);
  }
  ::rewinddir(dir);
  std::vector<std::string> names;
  while (true) {
    errno = 0;
    struct dirent* entry = ::readdir(dir);
    if (entry == nullptr) break;
    std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  int err = errno;
  ::closedir(dir);
  if (err != 0) return ErrnoStatus(err, "read directory", path);
  return names;
}

// go's cache layout: <xx>/ directories, and in them <64 hex>-a (action) and -d (output) files.
bool IsSubdirName(absl::string_view name) { return name.size() == 2 && IsHex(name); }
bool IsEntryName(absl::string_view name) {
  return name.size() == 66 && IsHex(name.substr(0, 64)) &&
         (absl::EndsWith(name, "-a") || absl::EndsWith(name, "-d"));
}

// Creates (if missing) and opens `name` in `parent_fd` as a directory, never through a link;
// gives it `uid`/`gid` when it has another owner.
absl::StatusOr<UniqueFd> OwnedDir(int parent_fd, const std::string& name, const std::string& path,
                                  uid_t uid, gid_t gid, mode_t mode) {
  if (::mkdirat(parent_fd, name.c_str(), mode) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, "create directory", path);
  }
  UniqueFd fd(::openat(parent_fd, name.c_str(), kDirFlags));
  if (!fd.valid()) return ErrnoStatus(errno, "open directory", path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus(errno, "stat", path);
  if ((st.st_uid != uid || st.st_gid != gid) && ::fchown(fd.get(), uid, gid) != 0) {
    return ErrnoStatus(errno, "chown", path);
  }
  return fd;
}

// Copies `from_fd` (a regular file) into a new file `name` of `dir_fd`, root's and 0444.
absl::Status CopyInto(int from_fd, int dir_fd, const std::string& name, const std::string& path,
                      uint64_t& budget) {
  UniqueFd out(
      ::openat(dir_fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444));
  if (!out.valid()) return ErrnoStatus(errno, "create", path);
  // A file system that shares extents (btrfs, xfs) copies for free.
  struct stat st;
  if (::fstat(from_fd, &st) == 0 && static_cast<uint64_t>(st.st_size) <= budget &&
      ::ioctl(out.get(), FICLONE, from_fd) == 0) {
    budget -= static_cast<uint64_t>(st.st_size);
    if (::fchmod(out.get(), 0444) != 0) return ErrnoStatus(errno, "chmod", path);
    return absl::OkStatus();
  }
  char buf[1 << 16];
  while (true) {
    ssize_t n = ::read(from_fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "read the toolchain's output for", path);
    if (n == 0) break;
    if (static_cast<uint64_t>(n) > budget) {
      return absl::ResourceExhaustedError(
          absl::StrCat("the standard library's build cache is larger than ", kMaxSeedBytes,
                       " bytes; not a seed"));
    }
    budget -= static_cast<uint64_t>(n);
    for (ssize_t done = 0; done < n;) {
      ssize_t w = ::write(out.get(), buf + done, static_cast<size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return ErrnoStatus(errno, "write", path);
      done += w;
    }
  }
  if (::fchmod(out.get(), 0444) != 0) return ErrnoStatus(errno, "chmod", path);
  return absl::OkStatus();
}

}  // namespace tempa::buildpacks::go::internal
