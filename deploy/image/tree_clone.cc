#include "deploy/image/tree_clone.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/posix_status.h"
#include "common/status_macros.h"
#include "deploy/image/beneath_tree.h"

namespace tempa::deploy {
namespace {

// Copies a regular file (when it has as many links as the filesystem allows).
absl::Status CopyFile(int src_dir, int dst_dir, const std::string& name, const struct stat& st,
                      const std::string& path) {
  int in = ::openat(src_dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (in < 0) return ErrnoStatus(errno, "open", path);
  UniqueFd src(in);
  int out =
      ::openat(dst_dir, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (out < 0) return ErrnoStatus(errno, "create copy of", path);
  UniqueFd dst(out);
  off_t left = st.st_size;
  while (left > 0) {
    ssize_t n =
        ::copy_file_range(src.get(), nullptr, dst.get(), nullptr, static_cast<size_t>(left), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "copy", path);
    if (n == 0) break;
    left -= n;
  }
  if (::fchown(dst.get(), st.st_uid, st.st_gid) != 0 && ::geteuid() == 0) {
    return ErrnoStatus(errno, "chown", path);
  }
  if (::fchmod(dst.get(), st.st_mode & 07777) != 0) return ErrnoStatus(errno, "chmod", path);
  return absl::OkStatus();
}

absl::Status CloneDepth(int src_fd, int dst_fd, const std::string& what, size_t depth) {
  if (depth > kMaxPathDepth + 8) {
    return absl::ResourceExhaustedError(
        absl::StrCat("clone ", what, ": directories nested deeper than ", kMaxPathDepth));
  }
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListDirectory(src_fd, what));
  for (const std::string& name : names) {
    std::string path = absl::StrCat(what, "/", name);
    struct stat st;
    if (::fstatat(src_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return ErrnoStatus(errno, "stat", path);
    }
    if (S_ISDIR(st.st_mode)) {
      if (::mkdirat(dst_fd, name.c_str(), 0700) != 0) return ErrnoStatus(errno, "mkdir", path);
      int s = ::openat(src_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (s < 0) return ErrnoStatus(errno, "open directory", path);
      UniqueFd sub_src(s);
      int d = ::openat(dst_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (d < 0) return ErrnoStatus(errno, "open directory copy of", path);
      UniqueFd sub_dst(d);
      RETURN_IF_ERROR(CloneDepth(sub_src.get(), sub_dst.get(), path, depth + 1));
      if (::geteuid() == 0 && ::fchown(sub_dst.get(), st.st_uid, st.st_gid) != 0) {
        return ErrnoStatus(errno, "chown", path);
      }
      if (::fchmod(sub_dst.get(), st.st_mode & 07777) != 0)
        return ErrnoStatus(errno, "chmod", path);
      continue;
    }
    if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) {
      return absl::InvalidArgumentError(
          absl::StrCat("clone ", path, ": neither a directory, a file nor a symlink"));
    }
    // Without AT_SYMLINK_FOLLOW a symlink is linked itself, never its target.
    if (::linkat(src_fd, name.c_str(), dst_fd, name.c_str(), 0) == 0) continue;
    if (errno != EMLINK || !S_ISREG(st.st_mode)) return ErrnoStatus(errno, "link", path);
    RETURN_IF_ERROR(CopyFile(src_fd, dst_fd, name, st, path));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CloneTree(int src_fd, int dst_fd, absl::string_view what) {
  return CloneDepth(src_fd, dst_fd, std::string(what), 0);
}

}  // namespace tempa::deploy
